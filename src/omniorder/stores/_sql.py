"""What the SQL stores share: row encodings, time as integers, schema files, chunking."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Final, TypeVar

from omniorder.model import checks
from omniorder.model.checks import MAX_QUANTITY
from omniorder.model.errors import StoreError
from omniorder.model.position import COUNTERS, EFFECTS, Movement, MovementKind, Position
from omniorder.model.reservation import ReservationState
from omniorder.serialization import structure, to_json

__all__ = [
    "EXPIRING",
    "chunks",
    "dump",
    "from_micros",
    "load",
    "micros",
    "migrations",
    "move_statement",
    "movement_from_row",
    "position_from_row",
    "stored_time",
]

T = TypeVar("T")

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

EXPIRING: Final = (ReservationState.HELD.value, ReservationState.READY.value)
"""States whose reservations have a deadline the sweep and the expiry view look at."""


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the Unix epoch (UTC): comparable across zones."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(us: int) -> datetime:
    """The UTC instant ``us`` microseconds after the Unix epoch (the inverse of :func:`micros`)."""
    return EPOCH + timedelta(microseconds=us)


def dump(value: object) -> str:
    """A stored value (reservation, order record, return, event) as its JSON body."""
    return to_json(value)


def load(body: str | dict[str, object], cls: type[T]) -> T:
    """A ``cls`` from its JSON body (text, or already decoded by the driver, as JSONB is).

    Raises:
        StoreError: the stored body is damaged (not JSON, or not a ``cls``).
    """
    try:
        return structure(json.loads(body) if isinstance(body, str) else body, cls)
    except (ValueError, TypeError, RecursionError) as error:  # InvalidInput is a ValueError
        raise StoreError(f"a stored {cls.__name__} is damaged: {error}") from error


def stored_time(value: object) -> datetime:
    """A time the store wrote as ISO 8601 text (or the driver decoded), as a UTC instant.

    Raises:
        StoreError: the stored text is damaged.
    """
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return checks.aware(moment, "time")
    except ValueError as error:
        raise StoreError(f"a stored time is damaged: {value!r}") from error


def move_statement(movement: Movement, keep: int, tolerance_us: int) -> tuple[str, list[object]]:
    """The conditional UPDATE (``?`` placeholders) that applies ``movement`` to its position,
    and its arguments.

    It changes the row only if afterwards at least ``keep`` units are free, no counter is above
    :data:`~omniorder.model.checks.MAX_QUANTITY`, and the position's last change
    (``changed_us``) is at most ``tolerance_us`` later than the movement (the clock guard, kept
    on the row the command writes: no store-wide row); no intermediate value can overflow a
    64-bit integer (SQLite would turn it into a float, PostgreSQL would raise). It returns the
    position's counters; no row means refused, and :func:`refused_move` says why.

    Args:
        movement: the movement to apply.
        keep: units that must stay free (the channel's buffer).
        tolerance_us: the store's clock tolerance, in microseconds.
    """
    deltas = [sign * movement.quantity for sign in EFFECTS[movement.kind]]
    setters = ", ".join(f"{name} = {name} + ?" for name in COUNTERS)
    rising = [(name, delta) for name, delta in zip(COUNTERS, deltas, strict=True) if delta > 0]
    limits = "".join(f" AND {name} <= ?" for name, _ in rising)
    sql = (
        f"UPDATE position SET {setters}, "
        "changed_us = CASE WHEN changed_us < ? THEN ? ELSE changed_us END "
        "WHERE sku = ? AND location = ? AND changed_us <= ? "
        f"AND (on_hand - reserved - committed) - ? >= ?{limits} "
        f"RETURNING sku, location, {', '.join(COUNTERS)}"
    )
    at = micros(movement.at)
    free_change = deltas[0] - deltas[1] - deltas[2]
    args: list[object] = [*deltas, at, at, movement.sku, movement.location, at + tolerance_us]
    args += [keep, -free_change]
    return sql, args + [MAX_QUANTITY - delta for _, delta in rising]


def position_from_row(row: Sequence[Any]) -> Position:
    """A position row ``(sku, location, <the counters>)``."""
    return Position(row[1], row[0], *row[2:])


def movement_from_row(row: Sequence[object]) -> Movement:
    """A ledger row ``(seq, at, location, sku, kind, quantity, reference, key)``.

    Raises:
        StoreError: the row is damaged (an unknown kind, a time or number that does not parse).
    """
    seq, at, location, sku, kind, quantity, reference, key = row
    try:
        return Movement(
            int(seq),  # type: ignore[call-overload]
            stored_time(at),
            str(location),
            str(sku),
            MovementKind(str(kind)),
            int(quantity),  # type: ignore[call-overload]
            str(reference),
            None if key is None else str(key),
        )
    except (ValueError, TypeError) as error:
        raise StoreError(f"ledger row {seq} is damaged: {error}") from error


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
