"""The compact bodies SQLiteStore writes for reservations and events (schema 7).

A reservation or event row already holds some of its value in columns (a reservation's id,
location, state, version and deadline; an event's number, type and time). Its body keeps only
the rest, as tight JSON: no key that a column holds, no field at its default, a UTC time as
integer microseconds since the Unix epoch (a time in another zone keeps its ISO 8601 text, so its
offset survives), an event's lines as ``[sku, quantity]`` and a reservation's as ``[sku,
quantity]`` or, once some units are settled, ``[sku, quantity, fulfilled, released]``. Loading
puts the public JSON back together from the row and structures it with
:mod:`omniorder.serialization`, so the value read is the value written, checked as strictly as
any input.

Bodies written before schema 7 hold the whole public JSON (a reservation's has ``"id"``, an
event's ``"type"``) and still load as they are.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from omniorder.model.errors import StoreError
from omniorder.model.events import EVENT_TYPES, Event
from omniorder.model.reservation import Reservation
from omniorder.model.values import Line
from omniorder.serialization import structure, unstructure
from omniorder.stores._sql import from_micros, micros

__all__ = [
    "EVENT_COLUMNS",
    "RESERVATION_COLUMNS",
    "event_body",
    "event_from_row",
    "reservation_body",
    "reservation_from_row",
]

RESERVATION_COLUMNS: Final = "body, id, location, state, version, expires_us"
"""What a reservation is loaded from, in the order :func:`reservation_from_row` reads it."""

EVENT_COLUMNS: Final = "seq, body, type, at"
"""What an event is loaded from, in the order :func:`event_from_row` reads it."""

_ZERO: Final = timedelta(0)
_RESERVATION_KEYS: Final = frozenset(
    {"lines", "channel", "mode", "created_at", "updated_at", "expires_at"}
    | {"order_id", "destination"}
)
_FROM_COLUMNS: Final = ("type", "seq", "at")
_FACTORY: Final[type] = attrs.Factory  # type: ignore[assignment] # typed as a function, is a class


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _time(moment: datetime) -> int | str:
    """A UTC time as microseconds; any other offset as its ISO 8601 text (kept as written)."""
    return micros(moment) if moment.utcoffset() == _ZERO else moment.isoformat()


def _iso(value: object) -> object:
    """A stored time back as the ISO 8601 text the public JSON has (anything else as it is,
    for :func:`~omniorder.serialization.structure` to refuse)."""
    if type(value) is int:
        return from_micros(value).isoformat()
    return value


def _damaged(what: str, error: BaseException) -> StoreError:
    return StoreError(f"a stored {what} is damaged: {error}")


# -- reservations ------------------------------------------------------------------------------
def reservation_body(reservation: Reservation) -> str:
    """The compact body of ``reservation`` (its row's columns hold the rest)."""
    created = _time(reservation.created_at)
    data: dict[str, Any] = {
        "lines": [
            [line.sku, line.quantity]
            if not (line.fulfilled or line.released)
            else [line.sku, line.quantity, line.fulfilled, line.released]
            for line in reservation.lines
        ],
        "channel": reservation.channel.value,
        "mode": reservation.mode.value,
        "created_at": created,
    }
    # updated_at: absent when it equals created_at (a new reservation), null when it has none.
    if reservation.updated_at is None:
        data["updated_at"] = None
    elif (updated := _time(reservation.updated_at)) != created:
        data["updated_at"] = updated
    # The deadline is in the expires_us column; only a deadline in another zone than UTC needs
    # its text here to keep its offset.
    if reservation.expires_at is not None and type(expires := _time(reservation.expires_at)) is str:
        data["expires_at"] = expires
    if reservation.order_id is not None:
        data["order_id"] = reservation.order_id
    if reservation.destination is not None:
        data["destination"] = reservation.destination
    return _dumps(data)


def reservation_from_row(row: Sequence[Any]) -> Reservation:
    """A reservation from its row ``(body, id, location, state, version, expires_us)``.

    Raises:
        StoreError: the row is damaged.
    """
    body, reservation_id, location, state, version, expires_us = row
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        if "id" in data:  # the whole public JSON, as written before schema 7
            return structure(data, Reservation)
        if extra := set(data) - _RESERVATION_KEYS:
            raise ValueError(f"unknown fields {sorted(extra)}")
        created = _iso(data["created_at"])
        expires = data["expires_at"] if "expires_at" in data else _iso(expires_us)
        full = {
            "id": reservation_id,
            "location": location,
            "lines": [_line(line) for line in data["lines"]],
            "channel": data["channel"],
            "mode": data["mode"],
            "state": state,
            "created_at": created,
            "expires_at": expires,
            "order_id": data.get("order_id"),
            "version": version,
            "updated_at": _iso(data["updated_at"]) if "updated_at" in data else created,
            "destination": data.get("destination"),
        }
        return structure(full, Reservation)
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as error:
        raise _damaged("Reservation", error) from error


def _line(line: object) -> dict[str, object]:
    if not isinstance(line, list) or len(line) not in (2, 4):
        raise ValueError(f"a reservation line is damaged: {line!r}")
    if len(line) == 2:
        return {"sku": line[0], "quantity": line[1]}
    return {"sku": line[0], "quantity": line[1], "fulfilled": line[2], "released": line[3]}


# -- events ------------------------------------------------------------------------------------
def _event_line(line: object) -> dict[str, object]:
    if not isinstance(line, list) or len(line) != 2:
        raise ValueError(f"an event line is damaged: {line!r}")
    return {"sku": line[0], "quantity": line[1]}


@attrs.frozen
class _Shape:
    """What the compact body of one event class leaves out or writes shorter.

    Attributes:
        defaults: the fields that have a default, with the default's JSON (left out when equal).
        times: the fields that hold a time (a UTC time as microseconds).
        lines: the fields that hold :class:`~omniorder.model.values.Line` values (each as
            ``[sku, quantity]``).
    """

    defaults: dict[str, object]
    times: frozenset[str]
    lines: frozenset[str]


def _shape(cls: type[Event]) -> _Shape:
    hints = typing.get_type_hints(cls)
    defaults = {
        field.name: unstructure(field.default)
        for field in attrs.fields(cls)
        if field.default is not attrs.NOTHING and not isinstance(field.default, _FACTORY)
    }
    times = frozenset(
        name
        for name, hint in hints.items()
        if hint is datetime or datetime in typing.get_args(hint)
    )
    lines = frozenset(name for name, hint in hints.items() if hint == tuple[Line, ...])
    return _Shape(defaults, times, lines)


_SHAPES: Final = {cls.__name__: _shape(cls) for cls in EVENT_TYPES}
""":func:`_shape` of every event class, by its name (the event row's ``type``)."""


def event_body(event: Event) -> str:
    """The compact body of ``event`` (its row's number, type and time columns hold the rest)."""
    shape = _SHAPES[type(event).__name__]
    data: dict[str, Any] = unstructure(event)
    for name in _FROM_COLUMNS:
        del data[name]
    for name in list(data):
        value, default = data[name], shape.defaults.get(name, attrs.NOTHING)
        if type(value) is type(default) and value == default:
            del data[name]
        elif name in shape.times and value is not None:
            data[name] = _time(getattr(event, name))
        elif name in shape.lines:
            data[name] = [[line.sku, line.quantity] for line in getattr(event, name)]
    return _dumps(data)


def event_from_row(row: Sequence[Any]) -> Event:
    """An event from its row ``(seq, body, type, at)``.

    Raises:
        StoreError: the row is damaged.
    """
    seq, body, kind, at = row
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        if "type" in data:  # the whole public JSON, as written before schema 7
            # The number lives in its column only: a store numbers an event as it writes it.
            return attrs.evolve(structure(data, Event), seq=seq)
        shape = _SHAPES[kind]
        for name in shape.times & data.keys():
            data[name] = _iso(data[name])
        for name in shape.lines & data.keys():
            data[name] = [_event_line(line) for line in data[name]]
        data.update(type=kind, seq=seq, at=at)
        return structure(data, Event)
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as error:
        raise _damaged("Event", error) from error
