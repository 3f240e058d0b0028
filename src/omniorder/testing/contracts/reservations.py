"""Holds, their lifecycle and exact expiry (DESIGN §2.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from omniorder import (
    Channel,
    Engine,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    ManualClock,
    MissingCapability,
    Mode,
    Policy,
    ReservationState,
    UnknownReservation,
)
from omniorder.model import (
    ReservationConfirmed,
    ReservationExpired,
    ReservationFulfilled,
    ReservationHeld,
    ReservationReady,
    ReservationReleased,
)
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE

S = ReservationState


def stocked(engine: Engine, location: str = STORE_1, /, **skus: int) -> None:
    for sku, units in skus.items():
        engine.receive(location, sku, units)


def ready(engine: Engine, **skus: int) -> str:
    stocked(engine, STORE_1, **skus)
    rid = engine.reserve(STORE_1, skus, channel=Channel.WEB).id
    engine.confirm(rid)
    engine.mark_ready(rid)
    return rid


class ReservationContract(ContractBase):
    """Holds, their lifecycle and exact expiry."""

    def test_a_multi_line_hold_is_all_or_nothing_and_names_every_short_line(
        self, engine: Engine
    ) -> None:
        stocked(engine, lamp=2, rug=1)
        before = take_snapshot(engine.store)
        with pytest.raises(InsufficientStock) as raised:
            engine.reserve(STORE_1, {"lamp": 3, "rug": 2, "vase": 1}, channel=Channel.WEB)
        assert [(s.sku, s.location, s.requested, s.available) for s in raised.value.lines] == [
            ("lamp", STORE_1, 3, 2),
            ("rug", STORE_1, 2, 1),
            ("vase", STORE_1, 1, 0),
        ]
        assert take_snapshot(engine.store) == before

    def test_a_hold_reserves_every_line_and_emits_reservation_held(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=2, rug=1)
        held = engine.reserve(STORE_1, {"lamp": 2, "rug": 1}, channel=Channel.APP, order_id="o-1")
        assert held.state is S.HELD
        assert held.quantities == {"lamp": 2, "rug": 1}
        assert held.expires_at == clock.now() + timedelta(minutes=15)
        assert engine.position(STORE_1, "lamp").reserved == 2
        assert engine.availability("lamp", channel=Channel.STORE, location=STORE_1) == 0
        event = engine.events()[-1]
        assert isinstance(event, ReservationHeld)
        assert (event.reservation_id, event.channel, event.order_id, event.expires_at) == (
            held.id,
            Channel.APP,
            "o-1",
            held.expires_at,
        )

    @pytest.mark.parametrize(
        ("channel", "ttl"),
        [
            (Channel.WEB, timedelta(minutes=15)),
            (Channel.APP, timedelta(minutes=15)),
            (Channel.CALL_CENTER, timedelta(hours=48)),
            (Channel.STORE, timedelta(hours=2)),
            (Channel.MARKETPLACE, timedelta(minutes=30)),
        ],
    )
    def test_a_hold_lasts_the_policy_ttl_of_its_channel(
        self, engine: Engine, clock: ManualClock, channel: Channel, ttl: timedelta
    ) -> None:
        stocked(engine, lamp=1)
        assert engine.reserve(STORE_1, {"lamp": 1}, channel=channel).expires_at == clock.now() + ttl

    def test_a_hold_may_ask_for_its_own_ttl_up_to_the_policy_maximum(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=2)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(days=7))
        assert held.expires_at == clock.now() + timedelta(days=7)
        with pytest.raises(InvalidInput, match="policy maximum"):
            engine.reserve(
                STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(days=7, seconds=1)
            )

    def test_a_mode_needs_the_capability_that_serves_it(self, engine: Engine) -> None:
        stocked(engine, WAREHOUSE, lamp=2)
        with pytest.raises(MissingCapability):
            engine.reserve(WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.PICKUP)
        with pytest.raises(MissingCapability):
            engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP)
        engine.reserve(WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP)
        engine.reserve(
            WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.TRANSFER, destination=STORE_1
        )
        with pytest.raises(InvalidInput, match="needs a destination"):
            engine.reserve(WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.TRANSFER)
        with pytest.raises(InvalidInput, match="no lane"):
            engine.reserve(
                STORE_1, {"lamp": 1}, channel=Channel.WEB, mode=Mode.TRANSFER, destination=STORE_2
            )
        with pytest.raises(InvalidInput, match="only a TRANSFER"):
            engine.reserve(
                WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP, destination=STORE_1
            )

    def test_confirming_turns_held_units_into_committed_ones(self, engine: Engine) -> None:
        stocked(engine, lamp=2)
        held = engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.CALL_CENTER)
        confirmed = engine.confirm(held.id)
        assert (confirmed.state, confirmed.expires_at, confirmed.version) == (S.CONFIRMED, None, 2)
        p = engine.position(STORE_1, "lamp")
        assert (p.reserved, p.committed, p.on_hand) == (0, 2, 2)
        assert isinstance(engine.events()[-1], ReservationConfirmed)

    def test_a_hold_past_its_expiry_frees_its_units_before_any_sweep(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=1)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        clock.advance(timedelta(minutes=14, seconds=59))
        assert engine.availability("lamp", channel=Channel.WEB) == 0
        clock.advance(timedelta(seconds=1))  # exactly at expires_at
        assert engine.availability("lamp", channel=Channel.WEB) == 1
        assert engine.position(STORE_1, "lamp").reserved == 0
        seen = engine.reservation(held.id)
        assert seen.state is S.EXPIRED
        assert seen.open_quantities == {"lamp": 0}

    def test_an_expired_hold_cannot_be_confirmed_or_extended_even_unswept(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=1)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        clock.set(held.expires_at)  # type: ignore[arg-type]
        before = take_snapshot(engine.store)
        commands: list[Callable[[], object]] = [
            lambda: engine.confirm(held.id),
            lambda: engine.extend(held.id, timedelta(minutes=5)),
            lambda: engine.release(held.id),
        ]
        for command in commands:
            with pytest.raises(InvalidTransition) as raised:
                command()
            assert raised.value.state == "EXPIRED"
            assert "expired" in raised.value.reason
        assert take_snapshot(engine.store) == before

    def test_a_new_hold_takes_the_units_of_an_expired_one_and_records_the_expiry(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=1)
        old = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        clock.advance(timedelta(minutes=15))
        new = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.APP)
        kinds = [type(e) for e in engine.events()[-2:]]
        assert kinds == [ReservationExpired, ReservationHeld]
        assert engine.reservation(old.id).state is S.EXPIRED
        assert engine.position(STORE_1, "lamp").reserved == 1
        assert engine.reservation(new.id).state is S.HELD
        assert engine.verify() == []

    def test_extending_a_hold_moves_its_expiry(self, engine: Engine, clock: ManualClock) -> None:
        stocked(engine, lamp=1)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        clock.advance(timedelta(minutes=10))
        extended = engine.extend(held.id, timedelta(minutes=30))
        assert extended.expires_at == clock.now() + timedelta(minutes=30)
        clock.advance(timedelta(minutes=20))
        assert engine.reservation(held.id).state is S.HELD

    def test_a_pickup_marked_ready_announces_its_deadline(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=1)
        rid = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
        engine.confirm(rid)
        ready = engine.mark_ready(rid)
        assert ready.expires_at == clock.now() + timedelta(days=3)
        event = engine.events()[-1]
        assert isinstance(event, ReservationReady)
        assert event.pickup_deadline == ready.expires_at

    def test_a_pickup_window_is_bounded_by_the_policy(self, engine: Engine) -> None:
        stocked(engine, lamp=1)
        rid = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
        engine.confirm(rid)
        with pytest.raises(InvalidInput):
            engine.mark_ready(rid, pickup_window=timedelta(days=31))
        with pytest.raises(InvalidInput):
            engine.mark_ready(rid, pickup_window=timedelta(0))
        assert engine.mark_ready(rid, pickup_window=timedelta(hours=4)).state is S.READY

    def test_collecting_everything_takes_the_units_off_the_shelf(self, engine: Engine) -> None:
        rid = ready(engine, lamp=2, rug=1)
        done = engine.collect(rid)
        assert done.state is S.FULFILLED
        assert {line.sku: line.fulfilled for line in done.lines} == {"lamp": 2, "rug": 1}
        for sku in ("lamp", "rug"):
            p = engine.position(STORE_1, sku)
            assert (p.on_hand, p.committed) == (0, 0)
        event = engine.events()[-1]
        assert isinstance(event, ReservationFulfilled)
        assert event.released == ()

    def test_a_partial_pickup_releases_the_rest_exactly_to_every_channel(
        self, engine: Engine
    ) -> None:
        rid = ready(engine, lamp=3, rug=1)
        done = engine.collect(rid, {"lamp": 1})
        assert {line.sku: (line.fulfilled, line.released) for line in done.lines} == {
            "lamp": (1, 2),
            "rug": (0, 1),
        }
        for channel in Channel:
            assert engine.availability("lamp", channel=channel, location=STORE_1) == 2
            assert engine.availability("rug", channel=channel, location=STORE_1) == 1
        event = engine.events()[-1]
        assert isinstance(event, ReservationFulfilled)
        assert [(x.sku, x.quantity) for x in event.released] == [("lamp", 2), ("rug", 1)]
        assert engine.verify() == []

    @pytest.mark.parametrize("lines", [{"lamp": 3}, {"vase": 1}, {"lamp": 0}, {}])
    def test_collecting_what_the_reservation_does_not_hold_is_refused(
        self, engine: Engine, lines: dict[str, int]
    ) -> None:
        rid = ready(engine, lamp=2)
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidInput):
            engine.collect(rid, lines)
        assert take_snapshot(engine.store) == before

    def test_a_no_show_is_expired_by_the_sweep_and_its_units_go_back_on_sale(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        rid = ready(engine, lamp=1)
        clock.advance(timedelta(days=3))
        with pytest.raises(InvalidTransition, match="pickup deadline"):
            engine.collect(rid)
        assert engine.availability("lamp", channel=Channel.STORE) == 0  # still on the counter
        (expired,) = engine.expire_due()
        assert (expired.id, expired.state) == (rid, S.EXPIRED)
        assert engine.availability("lamp", channel=Channel.STORE) == 1
        event = engine.events()[-1]
        assert isinstance(event, ReservationExpired)
        assert event.previous is S.READY
        assert engine.expire_due() == []

    def test_shipping_takes_a_ship_reservation_off_hand(self, engine: Engine) -> None:
        stocked(engine, STORE_2, lamp=2)
        rid = engine.reserve(STORE_2, {"lamp": 2}, channel=Channel.WEB, mode=Mode.SHIP).id
        engine.confirm(rid)
        shipped = engine.ship(rid)
        assert shipped.state is S.FULFILLED
        p = engine.position(STORE_2, "lamp")
        assert (p.on_hand, p.committed) == (0, 0)

    def test_a_pickup_cannot_be_shipped_nor_a_parcel_collected(self, engine: Engine) -> None:
        stocked(engine, STORE_2, lamp=2)
        pickup = engine.reserve(STORE_2, {"lamp": 1}, channel=Channel.WEB, mode=Mode.PICKUP).id
        parcel = engine.reserve(STORE_2, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP).id
        engine.confirm(pickup)
        engine.confirm(parcel)
        with pytest.raises(InvalidTransition, match="ship is for SHIP reservations"):
            engine.ship(pickup)
        with pytest.raises(InvalidTransition, match="PICKUP"):
            engine.mark_ready(parcel)

    @pytest.mark.parametrize("stage", ["held", "confirmed", "ready"])
    def test_releasing_puts_every_open_unit_back_on_sale(self, engine: Engine, stage: str) -> None:
        stocked(engine, lamp=2)
        rid = engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.WEB).id
        if stage != "held":
            engine.confirm(rid)
        if stage == "ready":
            engine.mark_ready(rid)
        released = engine.release(rid, reason="customer cancelled")
        assert released.state is S.RELEASED
        assert engine.availability("lamp", channel=Channel.WEB) == 2
        event = engine.events()[-1]
        assert isinstance(event, ReservationReleased)
        assert (event.previous.value, event.reason) == (stage.upper(), "customer cancelled")

    def test_an_unknown_reservation_is_a_lookup_error(self, engine: Engine) -> None:
        for command in (engine.confirm, engine.ship, engine.release, engine.reservation):
            with pytest.raises(UnknownReservation):
                command("res-404")

    def test_more_lines_than_the_policy_allows_are_refused(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        small = Engine(engine.network, clock=clock, policy=Policy(max_lines=2))
        with pytest.raises(InvalidInput, match="limit is 2"):
            small.reserve(STORE_1, {"a": 1, "b": 1, "c": 1}, channel=Channel.WEB)

    def test_the_sweep_expires_due_holds_and_no_shows_in_deadline_order(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        stocked(engine, lamp=5)
        late = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(minutes=20))
        early = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(minutes=5))
        kept = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(hours=1))
        clock.advance(timedelta(minutes=30))
        assert [r.id for r in engine.expire_due()] == [early.id, late.id]
        assert engine.reservation(kept.id).state is S.HELD
