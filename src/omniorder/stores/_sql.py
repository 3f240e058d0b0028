"""What the SQL stores share: row encodings, time as integers, schema files, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Final, TypeVar

from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, MovementKind
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import ReturnAuthorization
from omniorder.serialization import converter

__all__ = [
    "EXPIRING",
    "chunks",
    "dump_event",
    "dump_order",
    "dump_reservation",
    "dump_return",
    "load_event",
    "load_order",
    "load_reservation",
    "load_return",
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


def dump_reservation(reservation: Reservation) -> str:
    """A reservation as its JSON body."""
    return json.dumps(converter.unstructure(reservation), ensure_ascii=False)


def load_reservation(body: str | dict[str, object]) -> Reservation:
    """A reservation from its JSON body (text, or already decoded by the driver)."""
    data = json.loads(body) if isinstance(body, str) else body
    found: Reservation = converter.structure(data, Reservation)
    return found


def dump_order(record: OrderRecord) -> str:
    """An order record as its JSON body."""
    return json.dumps(converter.unstructure(record), ensure_ascii=False)


def load_order(body: str | dict[str, object]) -> OrderRecord:
    """An order record from its JSON body."""
    data = json.loads(body) if isinstance(body, str) else body
    found: OrderRecord = converter.structure(data, OrderRecord)
    return found


def dump_return(rma: ReturnAuthorization) -> str:
    """A return authorisation as its JSON body."""
    return json.dumps(converter.unstructure(rma), ensure_ascii=False)


def load_return(body: str | dict[str, object]) -> ReturnAuthorization:
    """A return authorisation from its JSON body."""
    data = json.loads(body) if isinstance(body, str) else body
    found: ReturnAuthorization = converter.structure(data, ReturnAuthorization)
    return found


def dump_event(event: Event) -> str:
    """An event as its tagged JSON body."""
    return json.dumps(converter.unstructure(event), ensure_ascii=False)


def load_event(body: str | dict[str, object]) -> Event:
    """An event from its tagged JSON body."""
    data = json.loads(body) if isinstance(body, str) else body
    found: Event = converter.structure(data, Event)
    return found


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
