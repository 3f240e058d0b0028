"""What the SQL stores share: row encodings, time as integers, schema files, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Final, TypeVar

from omniorder.model.position import Movement, MovementKind
from omniorder.model.reservation import ReservationState
from omniorder.serialization import structure, to_json

__all__ = [
    "EXPIRING",
    "chunks",
    "dump",
    "load",
    "micros",
    "migrations",
    "movement_from_row",
]

T = TypeVar("T")

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

EXPIRING: Final = (ReservationState.HELD.value, ReservationState.READY.value)
"""States whose reservations have a deadline the sweep and the expiry view look at."""


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the Unix epoch (UTC): comparable across zones."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def dump(value: object) -> str:
    """A stored value (reservation, order record, return, event) as its JSON body."""
    return to_json(value)


def load(body: str | dict[str, object], cls: type[T]) -> T:
    """A ``cls`` from its JSON body (text, or already decoded by the driver, as JSONB is)."""
    return structure(json.loads(body) if isinstance(body, str) else body, cls)


def movement_from_row(row: Sequence[object]) -> Movement:
    """A ledger row ``(seq, at, location, sku, kind, quantity, reference, key)``."""
    seq, at, location, sku, kind, quantity, reference, key = row
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return Movement(
        int(seq),  # type: ignore[call-overload]
        moment,
        str(location),
        str(sku),
        MovementKind(str(kind)),
        int(quantity),  # type: ignore[call-overload]
        str(reference),
        None if key is None else str(key),
    )


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The schema files of ``dialect`` as ``(version, sql)``, in version order.

    Files are package data named ``NNNN_description.sql`` under ``stores/schema/<dialect>/``.
    """
    folder = resources.files("omniorder.stores") / "schema" / dialect
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            found.append((int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8")))
    return sorted(found)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (bound-parameter limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
