"""Input checks shared by the domain values and the engine.

Each check returns the accepted value or raises :class:`~omniorder.InvalidInput` naming the field.
They are strict on purpose: a quantity is an ``int`` (never ``bool``, ``float``, ``Decimal`` or a
numeric string), an id is a non-empty, printable ``str`` without surrounding whitespace, and a time
is a timezone-aware ``datetime``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from enum import Enum
from typing import Any, TypeVar

from omniorder.model.errors import InvalidInput

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_MONEY",
    "MAX_QUANTITY",
    "MONEY_CONTEXT",
    "MONEY_PLACES",
    "aware",
    "check_enum",
    "finite",
    "identifier",
    "later",
    "lines",
    "money",
    "non_negative",
    "positive",
    "positive_duration",
    "quantity",
    "signed",
    "text",
]

MAX_ID_LENGTH = 200
"""Longest accepted id, in characters (fits every store's key column)."""

MAX_QUANTITY = 2**63 - 1
"""Largest quantity any counter may hold (a signed 64-bit database integer)."""

MAX_MONEY = Decimal(10) ** 15
"""Every amount (a price, a cost, a fee) is below this: a quadrillion in any currency."""

MONEY_PLACES = 6
"""The most decimal places an amount may have (a millionth: prices per gram, fee fractions)."""

MONEY_CONTEXT = Context(
    prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""The decimal context money is computed in: 80 digits hold, exactly, any amount times any
quantity times any fraction, summed over many lines (at most 21 + 19 + 7 digits each)."""

E = TypeVar("E", bound=Enum)

_NO_TIME = timedelta(0)


def identifier(value: object, field: str = "id") -> str:
    """Accept a non-empty printable ``str`` id of at most :data:`MAX_ID_LENGTH` characters."""
    if (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not value[0].isspace()
        and not value[-1].isspace()
    ):
        return value  # the common case in one test; the checks below say what is wrong
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be a str, not {type(value).__name__}", field=field, value=value
        )
    if not value or not value.strip():
        raise InvalidInput(f"{field} must not be empty or blank", field=field, value=value)
    if value != value.strip():
        raise InvalidInput(
            f"{field} {value!r} must not start or end with whitespace", field=field, value=value
        )
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}",
            field=field,
            value=value,
        )
    if not value.isprintable():
        raise InvalidInput(
            f"{field} {value!r} contains control or unprintable characters",
            field=field,
            value=value,
        )
    return value


def quantity(value: object, field: str = "quantity", *, minimum: int = 1) -> int:
    """Accept an ``int`` (not ``bool``) between ``minimum`` and :data:`MAX_QUANTITY`."""
    if type(value) is int and minimum <= value <= MAX_QUANTITY:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"{field} must be an int, not {type(value).__name__} ({value!r})",
            field=field,
            value=value,
        )
    if value < minimum:
        raise InvalidInput(
            f"{field} must be at least {minimum}, got {value}", field=field, value=value
        )
    if value > MAX_QUANTITY:
        raise InvalidInput(
            f"{field} {value} is above the largest quantity {MAX_QUANTITY}",
            field=field,
            value=value,
        )
    return value


def positive(value: object, field: str = "quantity") -> int:
    """Accept an ``int`` quantity of at least 1."""
    return quantity(value, field, minimum=1)


def non_negative(value: object, field: str = "quantity") -> int:
    """Accept an ``int`` quantity of at least 0."""
    return quantity(value, field, minimum=0)


def signed(value: object, field: str = "delta") -> int:
    """Accept a non-zero ``int`` whose magnitude is at most :data:`MAX_QUANTITY`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"{field} must be an int, not {type(value).__name__} ({value!r})",
            field=field,
            value=value,
        )
    if value == 0:
        raise InvalidInput(f"{field} must not be 0", field=field, value=value)
    if abs(value) > MAX_QUANTITY:
        raise InvalidInput(
            f"{field} {value} is beyond the largest quantity {MAX_QUANTITY}",
            field=field,
            value=value,
        )
    return value


def aware(value: object, field: str = "time") -> datetime:
    """Accept a timezone-aware ``datetime``; return the same instant in UTC.

    Every instant is kept in UTC, so that arithmetic on it is real elapsed time and comparisons
    agree in every store: Python adds to and compares two times of the same zone by their wall
    clocks, and a wall clock repeats an hour when daylight saving ends.
    """
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{field} must be a datetime, not {type(value).__name__}", field=field, value=value
        )
    if value.tzinfo is UTC:
        return value  # already a UTC instant (what every clock of the library returns)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must be timezone-aware; got the naive datetime {value.isoformat()}",
            field=field,
            value=value,
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"{field} {value.isoformat()} is outside the range of UTC times",
            field=field,
            value=value,
        ) from None


def later(start: datetime, by: timedelta, field: str) -> datetime:
    """``start + by``, or :class:`~omniorder.InvalidInput` when that is past ``datetime.max``.

    Args:
        start: a UTC instant (a command's time).
        by: a duration already checked (a hold's lifetime, a pickup window).
        field: the argument ``by`` came from, named in the error.
    """
    try:
        return start + by
    except OverflowError:
        raise InvalidInput(
            f"{field} {by} from {start.isoformat()} runs past the last representable time",
            field=field,
            value=by,
        ) from None


def positive_duration(
    value: object, field: str = "ttl", *, maximum: timedelta | None = None
) -> timedelta:
    """Accept a ``timedelta`` above zero and, when given, at most ``maximum``."""
    if not isinstance(value, timedelta):
        raise InvalidInput(
            f"{field} must be a timedelta, not {type(value).__name__}", field=field, value=value
        )
    if value <= _NO_TIME:
        raise InvalidInput(f"{field} must be positive, got {value}", field=field, value=value)
    if maximum is not None and value > maximum:
        raise InvalidInput(
            f"{field} {value} is above the policy maximum {maximum}", field=field, value=value
        )
    return value


def money(value: object, field: str = "amount") -> Decimal:
    """Accept a ``Decimal`` amount from 0 to below :data:`MAX_MONEY`, with at most
    :data:`MONEY_PLACES` decimal places (an ``int`` is converted; ``float`` is not).

    Within these bounds every sum and product the library makes of amounts and quantities is
    exact in :data:`MONEY_CONTEXT`, so a refund or a cost can never fail to compute.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidInput(
            f"{field} must be a Decimal, not {type(value).__name__} ({value!r})",
            field=field,
            value=value,
        )
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or amount >= MAX_MONEY:
        raise InvalidInput(
            f"{field} must be an amount from 0 to below {MAX_MONEY:,}, got {value}",
            field=field,
            value=value,
        )
    _, digits, exponent = amount.as_tuple()
    below = -MONEY_PLACES - int(exponent)  # digits finer than the last allowed place
    if below > 0 and any(digits[-below:]):
        raise InvalidInput(
            f"{field} has more than {MONEY_PLACES} decimal places: {value}",
            field=field,
            value=value,
        )
    return amount


def finite(value: object, field: str, low: float, high: float) -> float:
    """Accept a finite real number (``int`` or ``float``, not ``bool``) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(
            f"{field} must be a number, not {type(value).__name__}", field=field, value=value
        )
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(
            f"{field} must be between {low} and {high}, got {value}", field=field, value=value
        )
    return number


def check_enum(enum: type[E], value: object, field: str) -> E:
    """Accept a member of ``enum`` or one of its values."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except (ValueError, TypeError):
        allowed = ", ".join(repr(m.value) for m in enum)
        raise InvalidInput(
            f"{field} must be one of {allowed}; got {value!r}", field=field, value=value
        ) from None


def lines(value: object, field: str = "lines", *, max_lines: int) -> dict[str, int]:
    """Accept a non-empty ``{sku: quantity}`` mapping of at most ``max_lines`` entries.

    Returns a new dict sorted by sku (the canonical order every command works in).
    """
    if type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidInput(
            f"{field} must be a mapping of sku to quantity, not {type(value).__name__}",
            field=field,
            value=value,
        )
    if not value:
        raise InvalidInput(f"{field} must not be empty", field=field, value=value)
    if len(value) > max_lines:
        raise InvalidInput(
            f"{field} has {len(value)} lines; the limit is {max_lines}", field=field, value=value
        )
    checked: dict[str, int] = {}
    items: list[tuple[Any, Any]] = list(value.items())
    for sku, units in items:
        if not (
            type(sku) is str
            and 0 < len(sku) <= MAX_ID_LENGTH
            and sku.isprintable()
            and not sku[0].isspace()
            and not sku[-1].isspace()
        ):  # the fast test of identifier, inline: this is every command's input
            identifier(sku, f"{field} sku")
        if not (type(units) is int and 0 < units <= MAX_QUANTITY):  # the same of positive
            positive(units, f"{field}[{sku!r}]")
        checked[sku] = units
    return checked if len(checked) == 1 else dict(sorted(checked.items()))


def text(value: object, field: str, *, required: bool = False, max_length: int = 500) -> str:
    """Accept a printable ``str`` of at most ``max_length`` characters (non-blank if required)."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be a str, not {type(value).__name__}", field=field, value=value
        )
    if required and not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field, value=value)
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the limit is {max_length}",
            field=field,
            value=value,
        )
    if not value.isprintable():
        raise InvalidInput(
            f"{field} contains control or unprintable characters", field=field, value=value
        )
    return value
