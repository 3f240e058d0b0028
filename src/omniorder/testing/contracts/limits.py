"""Limits checked where the state changes, honest clocks, and damaged rows reported.

Every counter of a position is a signed 64-bit integer in a database: no movement, whichever
command writes it, may take one past :data:`~omniorder.model.checks.MAX_QUANTITY` (it is
``InvalidInput``, and nothing is written). Every instant is UTC: a clock in a zone with daylight
saving gives the same holds as a UTC one, and a deadline past ``datetime.max`` is bad input.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

import pytest

from omniorder.engine import Engine
from omniorder.model.checks import MAX_QUANTITY
from omniorder.model.clock import ManualClock
from omniorder.model.errors import InvalidInput, StoreError
from omniorder.model.order import Order, OrderLine, Ship, ShipToStore
from omniorder.model.position import COUNTERS, EFFECTS, Movement, MovementKind
from omniorder.model.returns import Condition
from omniorder.model.values import Channel, Geo
from omniorder.stores.base import Store
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network
from omniorder.testing.snapshot import take_snapshot

__all__ = ["LimitsContract"]

HOME = Geo(51.5, -0.1)

RAISED_BY = {
    "on_hand": MovementKind.RECEIVED,
    "reserved": MovementKind.HELD,
    "committed": MovementKind.COMMITTED,
    "safety_stock": MovementKind.SAFETY_STOCK_SET,
    "inbound": MovementKind.INBOUND,
    "quarantine": MovementKind.QUARANTINED,
}
"""A movement that raises each counter, to put a position where a test needs it."""

BOUNDED = ("reserved", "committed")
"""Counters that can never pass the limit: they are bounded by ``on_hand``."""


def _overflowing() -> list[tuple[MovementKind, str]]:
    """Every (movement kind, counter it raises) where the counter is not bounded by on_hand."""
    return [
        (kind, name)
        for kind, effect in EFFECTS.items()
        for name, sign in zip(COUNTERS, effect, strict=True)
        if sign > 0 and name not in BOUNDED
    ]


class _ZonedClock:
    """A clock that reads like a wall clock in ``zone`` (aware, with the zone's offset)."""

    def __init__(self, utc: ManualClock, zone: tzinfo) -> None:
        self.utc = utc
        self.zone = zone

    def now(self) -> datetime:
        return self.utc.now().astimezone(self.zone)


def _london() -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # pragma: no cover - every CI machine has a zone database
        pytest.skip("no time zone database (pip install tzdata)")


class LimitsContract(ContractBase):
    """Limits checked in the one write path; time kept in UTC; damage reported, typed."""

    # -- counters --------------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("kind", "counter"), _overflowing(), ids=lambda v: getattr(v, "value", v)
    )
    def test_no_movement_takes_a_counter_past_the_largest_quantity(
        self, store: Store, kind: MovementKind, counter: str
    ) -> None:
        sku = f"sku-{kind.value}"

        def move(what: MovementKind, units: int) -> None:
            with store.unit_of_work() as uow:
                uow.move(Movement(0, START, STORE_1, sku, what, units, "test"))

        for name, sign in zip(COUNTERS, EFFECTS[kind], strict=True):
            if sign < 0:  # what the movement takes from must be there (inbound, quarantine)
                move(RAISED_BY[name], 1)
        move(RAISED_BY[counter], MAX_QUANTITY)
        before = take_snapshot(store)
        with pytest.raises(InvalidInput, match="above the largest quantity"):
            move(kind, 1)
        assert take_snapshot(store) == before
        with store.unit_of_work(read_only=True) as uow:
            (position,) = uow.positions([(STORE_1, sku)])
        assert getattr(position, counter) == MAX_QUANTITY
        assert all(type(value) is int for value in position.counters())

    def test_a_restocked_return_cannot_take_on_hand_past_the_largest_quantity(
        self, store: Store
    ) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(STORE_2, "lamp", 1)
        line = OrderLine("1", "lamp", 1, Decimal("10.00"), Ship(HOME))
        (parcel,) = engine.place_order(Order("o-1", Channel.WEB, [line])).reservation_ids
        engine.ship(parcel)
        engine.receive(STORE_1, "lamp", MAX_QUANTITY)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        before = take_snapshot(store)
        with pytest.raises(InvalidInput, match="on_hand would be"):
            engine.receive_return(rma.id, {"1": Condition.SELLABLE})
        assert take_snapshot(store) == before
        assert engine.position(STORE_1, "lamp").on_hand == MAX_QUANTITY

    def test_a_transfer_cannot_take_inbound_past_the_largest_quantity(self, store: Store) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(WAREHOUSE, "rug", MAX_QUANTITY)
        engine.receive(STORE_2, "rug", 1)
        big = OrderLine("1", "rug", MAX_QUANTITY, Decimal("0.01"), ShipToStore(STORE_1))
        (first,) = engine.place_order(Order("o-big", Channel.WEB, [big])).reservation_ids
        engine.ship(first)
        assert engine.position(STORE_1, "rug").inbound == MAX_QUANTITY
        one = OrderLine("1", "rug", 1, Decimal("5.00"), ShipToStore(STORE_1))
        (second,) = engine.place_order(Order("o-one", Channel.WEB, [one])).reservation_ids
        before = take_snapshot(store)
        with pytest.raises(InvalidInput, match="inbound would be"):
            engine.ship(second)
        assert take_snapshot(store) == before

    # -- time ------------------------------------------------------------------------------------
    def test_a_hold_lasts_its_lifetime_in_real_time_across_the_end_of_daylight_saving(
        self, store: Store
    ) -> None:
        # 2026-10-25 in London: at 01:00 UTC the clocks go back from 02:00 BST to 01:00 GMT.
        utc = ManualClock(datetime(2026, 10, 25, 0, 50, tzinfo=UTC))  # 01:50 BST
        engine = Engine(sample_network(), store=store, clock=_ZonedClock(utc, _london()))
        engine.receive(STORE_1, "sofa", 1)
        hold = engine.reserve(STORE_1, {"sofa": 1}, channel=Channel.WEB)  # 15 minutes
        assert hold.expires_at == datetime(2026, 10, 25, 1, 5, tzinfo=UTC)
        assert hold.created_at.utcoffset() == timedelta(0)
        utc.advance(timedelta(minutes=14))  # 01:04 GMT: earlier on the wall, later in time
        assert engine.availability("sofa", channel=Channel.STORE) == 0
        utc.advance(timedelta(minutes=1))
        assert engine.availability("sofa", channel=Channel.STORE) == 1
        engine.sell(STORE_1, {"sofa": 1})  # the till sells it: no clock went backwards
        assert engine.reservation(hold.id).state.name == "EXPIRED"
        assert engine.verify() == []

    def test_a_deadline_past_the_last_representable_time_is_invalid_input(
        self, store: Store
    ) -> None:
        clock = ManualClock(datetime.max.replace(tzinfo=UTC) - timedelta(days=1))
        engine = Engine(sample_network(), store=store, clock=clock)
        engine.receive(STORE_1, "lamp", 5)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        confirmed = engine.confirm(engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id)
        order = Order(
            "o-late", Channel.WEB, [OrderLine("1", "lamp", 1, Decimal("1"), ShipToStore(STORE_1))]
        )
        engine.receive(WAREHOUSE, "lamp", 1)
        two_days = timedelta(days=2)
        before = take_snapshot(store)
        for attempt in (
            lambda: engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=two_days),
            lambda: engine.extend(held.id, two_days),
            lambda: engine.mark_ready(confirmed.id),  # the policy's 3-day pickup window
            lambda: engine.hold_order(order, ttl=two_days),
        ):
            with pytest.raises(InvalidInput, match="last representable time"):
                attempt()
            assert take_snapshot(store) == before

    # -- damaged rows ----------------------------------------------------------------------------
    def test_a_damaged_ledger_row_is_a_store_error_never_a_raw_one(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 2)
        tamper = self.tamper(engine.store)
        if tamper is None:
            pytest.skip("this adapter offers no way to corrupt it")
        try:
            tamper.garble_movement(1)
        except NotImplementedError:
            pytest.skip("this adapter cannot damage a row")
        with pytest.raises(StoreError, match="ledger row 1 is damaged"):
            engine.verify()

    def test_a_damaged_event_is_a_store_error_never_a_raw_one(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 2)
        tamper = self.tamper(engine.store)
        if tamper is None:
            pytest.skip("this adapter offers no way to corrupt it")
        try:
            tamper.garble_event(engine.events()[0].seq)
        except NotImplementedError:
            pytest.skip("this adapter cannot damage a row")
        with pytest.raises(StoreError, match="damaged"):
            engine.events()
