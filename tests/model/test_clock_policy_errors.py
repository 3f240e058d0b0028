"""Clocks, the policy's documented defaults, the state-table builder and the error tree."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

import pytest

from omniorder import (
    Channel,
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    ManualClock,
    MissingCapability,
    OmniOrderError,
    Policy,
    ReturnNotAllowed,
    Shortfall,
    StoreError,
    SystemClock,
    UnknownLocation,
    UnknownOrder,
    UnknownReservation,
)
from omniorder.model import Table, checks
from omniorder.model.returns import refund_for

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_a_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    assert clock.advance(timedelta(minutes=5)) == T0 + timedelta(minutes=5)
    assert clock.set(T0 + timedelta(hours=1)) == clock.now()
    with pytest.raises(InvalidInput):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(InvalidInput):
        clock.set(T0)
    with pytest.raises(InvalidInput):
        clock.set(datetime(2027, 1, 1))  # noqa: DTZ001 - the naive datetime is the point
    with pytest.raises(InvalidInput):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001
    assert clock.now() == T0 + timedelta(hours=1)


def test_the_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_a_clock_names_itself_and_the_time_it_shows() -> None:
    assert repr(SystemClock()) == "SystemClock()"
    assert repr(ManualClock(T0)) == "ManualClock(2026-11-25T09:00:00+00:00)"


@pytest.mark.parametrize("by", [5, 1.5, "PT5M", None])
def test_advancing_a_clock_by_anything_but_a_timedelta_is_invalid_input_and_keeps_the_time(
    by: object,
) -> None:
    clock = ManualClock(T0)
    with pytest.raises(InvalidInput) as refused:
        clock.advance(by)  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.value) == ("by", by)
    assert clock.now() == T0


def test_policy_defaults_are_the_documented_ones() -> None:
    policy = Policy()
    assert policy.ttl_for(Channel.WEB) == timedelta(minutes=15)
    assert policy.ttl_for(Channel.APP) == timedelta(minutes=15)
    assert policy.ttl_for(Channel.CALL_CENTER) == timedelta(hours=48)
    assert policy.ttl_for(Channel.STORE) == timedelta(hours=2)
    assert policy.ttl_for(Channel.MARKETPLACE) == timedelta(minutes=30)
    assert policy.pickup_window == timedelta(days=3)
    assert policy.max_hold_ttl == timedelta(days=7)
    assert policy.backorders is False


def test_a_policy_overrides_only_the_channels_it_names() -> None:
    policy = Policy(hold_ttl={Channel.WEB: timedelta(minutes=10)})
    assert policy.ttl_for(Channel.WEB) == timedelta(minutes=10)
    assert policy.ttl_for(Channel.CALL_CENTER) == timedelta(hours=48)
    with pytest.raises(TypeError):
        policy.hold_ttl[Channel.WEB] = timedelta(0)  # type: ignore[index]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hold_ttl": {Channel.WEB: timedelta(0)}},
        {"hold_ttl": {"fax": timedelta(minutes=1)}},
        {"hold_ttl": {Channel.WEB: timedelta(days=8)}},
        {"pickup_window": timedelta(days=31)},
        {"max_lines": 0},
        {"backorders": "yes"},
    ],
)
def test_an_inconsistent_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        Policy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"hold_ttl": [(Channel.WEB, timedelta(minutes=5))]}, "hold_ttl"),
        ({"hold_ttl": timedelta(minutes=5)}, "hold_ttl"),
        ({"returns": {"window": timedelta(days=30)}}, "returns"),
        ({"returns": None}, "returns"),
    ],
)
def test_a_policy_given_the_wrong_kind_of_value_names_the_field_it_refuses(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        Policy(**kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert refused.value.value == kwargs[field]


class _S(Enum):
    A = "a"
    B = "b"
    C = "c"


class _C(Enum):
    GO = "go"


def test_a_table_with_an_unreachable_state_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unreachable"):
        Table("t", _S, _C, {_C.GO: _S.A}, {(_S.A, _C.GO): _S.B}, frozenset({_S.B}))


def test_a_table_with_a_way_out_of_a_terminal_state_is_refused() -> None:
    with pytest.raises(ValueError, match="terminal"):
        Table(
            "t",
            _S,
            _C,
            {_C.GO: _S.A},
            {(_S.A, _C.GO): _S.B, (_S.B, _C.GO): _S.C},
            frozenset({_S.B, _S.C}),
        )


ERRORS: list[OmniOrderError] = [
    InvalidInput("bad", field="quantity", value=0),
    MissingCapability("s", "sell", "sell"),
    ClockWentBackwards(T0, T0 + timedelta(1)),
    UnknownLocation("x"),
    UnknownReservation("r"),
    UnknownOrder("o"),
    InsufficientStock([Shortfall("a", "s", 2, 1), Shortfall("b", "s", 1, 0)]),
    InvalidTransition("reservation", "HELD", "ship", subject="r", reason="why"),
    ReturnNotAllowed("o", "too late"),
    IdempotencyConflict("k", "reserve", "reserve", ["lines"]),
    ConcurrencyConflict("row"),
    StoreError("disk"),
    CommitOutcomeUnknown("connection lost", "k"),
]


@pytest.mark.parametrize("error", ERRORS, ids=[type(e).__name__ for e in ERRORS])
def test_every_error_is_an_omniorder_error_that_pickles_with_its_fields(
    error: OmniOrderError,
) -> None:
    assert isinstance(error, OmniOrderError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert vars(copy) == vars(error)
    assert str(copy) == str(error)


def test_errors_subclass_the_builtins_they_resemble() -> None:
    assert issubclass(InvalidInput, ValueError)
    for cls in (UnknownLocation, UnknownReservation, UnknownOrder):
        assert issubclass(cls, LookupError)


def test_insufficient_stock_lists_every_short_line() -> None:
    error = InsufficientStock([Shortfall("a", "s", 2, 1), Shortfall("b", "s", 1, 0)])
    assert [(s.sku, s.requested, s.available) for s in error.lines] == [("a", 2, 1), ("b", 1, 0)]
    assert "a at s: requested 2, available 1" in str(error)
    assert "b at s: requested 1, available 0" in str(error)


def test_a_conflict_names_what_differs() -> None:
    assert "differs in lines, ttl" in str(
        IdempotencyConflict("k", "reserve", "reserve", ["lines", "ttl"])
    )
    assert "first used for receive" in str(IdempotencyConflict("k", "reserve", "receive", []))


def test_a_manual_clock_keeps_utc_and_advances_in_real_time_across_daylight_saving() -> None:
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    # 01:30 BST on the night the clocks go back: one hour later it is 01:30 GMT on the wall.
    clock = ManualClock(datetime(2026, 10, 25, 1, 30, tzinfo=london))
    assert clock.now() == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.advance(timedelta(hours=1)) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput):  # 01:00 BST is 00:00 UTC: earlier than now
        clock.set(datetime(2026, 10, 25, 1, 0, tzinfo=london))


def test_advancing_a_clock_past_the_last_representable_time_is_invalid_input() -> None:
    clock = ManualClock(datetime.max.replace(tzinfo=UTC) - timedelta(hours=1))
    with pytest.raises(InvalidInput, match="last representable time"):
        clock.advance(timedelta(hours=2))
    assert clock.now() == datetime.max.replace(tzinfo=UTC) - timedelta(hours=1)


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("1E+15"),
        Decimal("1E+30"),
        Decimal("9E+999999"),
        Decimal("0.0000001"),
        Decimal("-0.01"),
        Decimal("NaN"),
        Decimal("Infinity"),
    ],
)
def test_money_beyond_the_documented_bounds_is_refused(amount: Decimal) -> None:
    with pytest.raises(InvalidInput):
        checks.money(amount)


def test_money_within_the_bounds_is_kept_as_given() -> None:
    for text in ("0", "19.99", "19.990", "0.000001", "1.0000000", "999999999999999.999999"):
        assert str(checks.money(Decimal(text))) == text


def test_the_largest_refund_of_the_largest_return_computes_exactly() -> None:
    price, units = Decimal("999999999999999.999999"), checks.MAX_QUANTITY
    refund = refund_for(price, units, Decimal("0.000001"))
    # 999999999999999.999999 * 9223372036854775807 * 0.999999, worked out by hand in integers:
    exact = 999999999999999999999 * 9223372036854775807 * 999999  # in units of 10**-12
    assert refund == Decimal(f"{exact // 10**10}E-2")  # rounded down to the cent
