"""JSON for every public value and event: one :mod:`cattrs` converter.

The wire format:

* ``Decimal`` as a string (``"12.50"``), never a float;
* ``datetime`` as ISO 8601 with its offset (``"2026-11-25T09:00:00+00:00"``); naive times are
  refused both ways;
* ``timedelta`` as a number of seconds (``900`` for 15 minutes);
* enums by value (``"web"``, ``"HELD"``);
* events as a tagged union: the class name under ``"type"``
  (``{"type": "ReservationHeld", "seq": 3, ...}``);
* an order line's fulfilment as a tagged union under ``"kind"``: ``"ship"``, ``"pickup"`` or
  ``"ship_to_store"``.

Validation belongs to the edges: :func:`structure` (and the converter's own ``structure`` and
``loads``) treat input as untrusted. Unknown fields, wrong types (an int where a string belongs, a
``true`` where a quantity belongs, a float where money belongs) and values outside an enum raise
:class:`~omniorder.InvalidInput` listing every problem, never a raw cattrs error.

>>> from omniorder import Geo
>>> to_json(Geo(51.5, -0.12))
'{"lat": 51.5, "lon": -0.12}'
>>> from_json('{"lat": 51.5, "lon": -0.12}', Geo)
Geo(lat=51.5, lon=-0.12)
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar, Union

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import JsonConverter, configure_converter
from cattrs.strategies import configure_tagged_union
from cattrs.v import format_exception

from omniorder.allocation.plan import AllocationPlan
from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.events import EVENT_TYPES, Event
from omniorder.model.network import Lane, Location, Network
from omniorder.model.order import Fulfilment, Pickup, Ship, ShipToStore

__all__ = ["EventUnion", "converter", "from_json", "structure", "to_json", "unstructure"]

T = TypeVar("T")

EventUnion: Any = Union[EVENT_TYPES]  # noqa: UP007 - built from a tuple
"""The union of every concrete event class (for ``structure(data, EventUnion)``)."""


def _describe(error: BaseException, target: Any) -> str:
    if isinstance(error, InvalidInput):
        return error.message
    return format_exception(error, target)


def _problems(error: BaseException) -> list[str]:
    if isinstance(error, cattrs.BaseValidationError):
        return list(cattrs.transform_error(error, format_exception=_describe))
    if isinstance(error, InvalidInput):
        return list(error.problems)
    if isinstance(error, KeyError):
        return [f"unknown value {error.args[0]!r}"]
    return [str(error) or type(error).__name__]


class _StrictConverter(JsonConverter):
    """A JSON converter whose ``structure`` raises :class:`InvalidInput` on any bad input."""

    def structure(self, obj: Any, cl: Any) -> Any:
        try:
            return super().structure(obj, cl)
        except Exception as error:
            problems = _problems(error)
            raise InvalidInput(
                f"invalid {getattr(cl, '__name__', cl)}: " + "; ".join(problems),
                value=obj,
                problems=problems,
            ) from error


def _strict(kind: type) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _structure_enum(value: Any, cl: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise TypeError(f"expected one of {[m.value for m in cl]}, got {type(value).__name__}")
    return cl(value)


def _structure_decimal(value: Any, _: Any) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


def _structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    return checks.aware(datetime.fromisoformat(value), "datetime")


def _unstructure_datetime(value: datetime) -> str:
    return checks.aware(value, "datetime").isoformat()


def _unstructure_timedelta(value: timedelta) -> int | float:
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def _structure_timedelta(value: Any, _: Any) -> timedelta:
    return timedelta(seconds=_structure_float(value, None))


def _unstructure_network(network: Network) -> dict[str, Any]:
    return {
        "locations": converter.unstructure(network.locations, tuple[Location, ...]),
        "lanes": converter.unstructure(network.lanes, tuple[Lane, ...]),
    }


def _structure_network(value: Any, _: Any) -> Network:
    # Network keeps a networkx graph beside its fields, so it is (un)structured by hand.
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    if extra := set(value) - {"locations", "lanes"}:
        raise ValueError(f"extra fields found ({', '.join(sorted(extra))})")
    return Network(
        converter.structure(value.get("locations"), tuple[Location, ...]),
        converter.structure(value.get("lanes", []), tuple[Lane, ...]),
    )


_FULFILMENT_TAGS: dict[type, str] = {Ship: "ship", Pickup: "pickup", ShipToStore: "ship_to_store"}


def _fulfilment_tag(cl: type) -> str:
    return _FULFILMENT_TAGS[cl]


def _build() -> _StrictConverter:
    conv = _StrictConverter(
        forbid_extra_keys=True, unstruct_collection_overrides={AbstractSet: list}
    )
    configure_converter(conv)
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _strict(kind))
    conv.register_structure_hook(float, _structure_float)
    # StrEnum precedes str in the MRO, so enums keep their own hook despite the str hook above.
    conv.register_structure_hook(StrEnum, _structure_enum)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(timedelta, _unstructure_timedelta)
    conv.register_structure_hook(timedelta, _structure_timedelta)
    conv.register_unstructure_hook(Network, _unstructure_network)
    conv.register_structure_hook(Network, _structure_network)
    configure_tagged_union(EventUnion, conv, tag_name="type")
    # A plan's problem stays in the process that solved it; JSON carries the answer only.
    conv.register_unstructure_hook(
        AllocationPlan, make_dict_unstructure_fn(AllocationPlan, conv, problem=override(omit=True))
    )
    conv.register_structure_hook(
        AllocationPlan,
        make_dict_structure_fn(
            AllocationPlan, conv, problem=override(omit=True), _cattrs_forbid_extra_keys=True
        ),
    )
    configure_tagged_union(Fulfilment, conv, tag_name="kind", tag_generator=_fulfilment_tag)
    conv.register_structure_hook(Event, lambda value, _: conv.structure(value, EventUnion))
    conv.register_unstructure_hook(
        Event, lambda event: conv.unstructure(event, unstructure_as=EventUnion)
    )
    return conv


converter: JsonConverter = _build()
"""The one converter for every public value and event (a ``cattrs`` JSON converter)."""


def unstructure(value: object, as_type: Any = None) -> Any:
    """``value`` as JSON-ready builtins (dicts, lists, strings, numbers)."""
    return converter.unstructure(value, unstructure_as=as_type)


def structure(data: object, cls: type[T]) -> T:
    """Build a ``cls`` from untrusted JSON-ready builtins.

    Raises:
        InvalidInput: unknown fields, wrong types, values outside an enum, or a value the
            class's own validation refuses; ``problems`` lists each with its path.
    """
    try:
        result: T = converter.structure(data, cls)
    except RecursionError:
        raise InvalidInput(f"invalid {getattr(cls, '__name__', cls)}: nested too deeply") from None
    return result


def to_json(value: object, as_type: Any = None) -> str:
    """``value`` as a JSON string."""
    return json.dumps(unstructure(value, as_type), ensure_ascii=False)


def from_json(text: str | bytes, cls: type[T]) -> T:
    """Build a ``cls`` from an untrusted JSON string.

    Raises:
        InvalidInput: the text is not JSON, or :func:`structure` refuses it.
    """
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"not valid JSON: {error}", value=text) from error
    except RecursionError:
        raise InvalidInput("not valid JSON: arrays or objects nested too deeply") from None
    return structure(data, cls)
