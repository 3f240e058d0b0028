"""Omnichannel journeys end to end, on every store: click-and-collect, chat holds, no-shows,
ship-from-store, ship-to-store, short picks, and pickup options."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.errors import InsufficientStock, InvalidTransition, WrongLocation
from omniorder.model.events import (
    LineResourced,
    ReservationArrived,
    ReservationDispatched,
    ReservationExpired,
    ReservationReady,
    StockSold,
)
from omniorder.model.order import Order, OrderLine, Pickup, Ship, ShipToStore
from omniorder.model.reservation import ReservationState
from omniorder.model.values import Channel, Geo, Mode
from omniorder.testing import invariants
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE
from omniorder.testing.snapshot import take_snapshot

S = ReservationState
PRICE = Decimal("49.00")
LEEDS = Geo(53.80, -1.55)
CAMDEN = Geo(51.54, -0.14)


def _order(order_id: str, *lines: OrderLine, channel: Channel = Channel.WEB) -> Order:
    return Order(order_id, channel, list(lines))


def _line(number: int, sku: str, units: int, fulfilment: Ship | Pickup | ShipToStore) -> OrderLine:
    return OrderLine(str(number), sku, units, PRICE, fulfilment)


class JourneysContract(ContractBase):
    """Each journey a customer and a store actually go through."""

    def test_a_web_order_is_picked_up_in_store(self, engine: Engine, clock: ManualClock) -> None:
        engine.receive(STORE_1, "lamp", 2)
        view = engine.place_order(_order("o-1", _line(1, "lamp", 1, Pickup(STORE_1))))
        (rid,) = view.reservation_ids
        ready = engine.mark_ready(rid, pickup_window=timedelta(days=2))
        told = engine.events()[-1]
        assert isinstance(told, ReservationReady)
        assert told.pickup_deadline == clock.now() + timedelta(days=2)
        clock.advance(timedelta(hours=5))
        done = engine.collect(ready.id, at=STORE_1)
        assert done.state is S.FULFILLED
        line = engine.order("o-1").line("1")
        assert (line.fulfilled, line.fulfilled_in, engine.order("o-1").channel) == (
            1,
            Channel.STORE,
            Channel.WEB,
        )
        assert engine.position(STORE_1, "lamp").on_hand == 1
        assert engine.verify() == []

    def test_a_chat_hold_is_confirmed_and_collected(self, engine: Engine) -> None:
        engine.receive(STORE_1, "green-sofa", 1)
        hold = engine.reserve(STORE_1, {"green-sofa": 1}, channel=Channel.CALL_CENTER)
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"green-sofa": 1})
        engine.confirm(hold.id)
        engine.mark_ready(hold.id)
        assert engine.collect(hold.id).state is S.FULFILLED
        assert engine.position(STORE_1, "green-sofa").on_hand == 0

    def test_a_partial_pickup_puts_the_rest_back_on_sale_everywhere_at_once(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_2, "chair", 4)
        view = engine.place_order(_order("o-1", _line(1, "chair", 4, Pickup(STORE_2))))
        (rid,) = view.reservation_ids
        engine.mark_ready(rid)
        engine.collect(rid, {"chair": 1}, at=STORE_2)
        for channel in Channel:
            assert engine.availability("chair", channel=channel) == 3
        line = engine.order("o-1").line("1")
        assert (line.fulfilled, line.released, dict(line.sourced)) == (1, 3, {STORE_2: 1})

    def test_a_no_show_goes_back_on_sale_after_the_deadline(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_1, "lamp", 1)
        (rid,) = engine.place_order(
            _order("o-1", _line(1, "lamp", 1, Pickup(STORE_1)))
        ).reservation_ids
        engine.mark_ready(rid, pickup_window=timedelta(days=1))
        clock.advance(timedelta(days=1))
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidTransition, match="pickup deadline"):
            engine.collect(rid)
        assert take_snapshot(engine.store) == before
        assert [r.id for r in engine.expire_due()] == [rid]
        assert isinstance(engine.events()[-1], ReservationExpired)
        assert engine.availability("lamp", channel=Channel.STORE, location=STORE_1) == 1
        engine.sell(STORE_1, {"lamp": 1})

    def test_collecting_at_another_store_is_refused(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 1)
        (rid,) = engine.place_order(
            _order("o-1", _line(1, "lamp", 1, Pickup(STORE_1)))
        ).reservation_ids
        engine.mark_ready(rid)
        before = take_snapshot(engine.store)
        with pytest.raises(WrongLocation) as refused:
            engine.collect(rid, at=STORE_2)
        assert (refused.value.location, refused.value.at) == (STORE_1, STORE_2)
        assert take_snapshot(engine.store) == before

    def test_a_parcel_ships_from_a_store_that_has_the_stock(self, engine: Engine) -> None:
        engine.receive(STORE_2, "lamp", 1)  # Leeds ships; the warehouse has none left
        engine.receive(STORE_1, "lamp", 5)  # Camden has plenty but does not ship
        view = engine.place_order(_order("o-1", _line(1, "lamp", 1, Ship(LEEDS))))
        (rid,) = view.reservation_ids
        assert engine.reservation(rid).location == STORE_2
        engine.ship(rid)
        line = engine.order("o-1").line("1")
        assert (line.fulfilled, line.fulfilled_in) == (1, Channel.WEB)

    def test_a_store_that_cannot_pick_hands_the_parcel_to_another_location(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_2, "lamp", 1)
        order = _order("o-1", _line(1, "lamp", 1, Ship(LEEDS)))
        (rid,) = engine.place_order(order).reservation_ids
        engine.receive(WAREHOUSE, "lamp", 3)  # a delivery lands while Leeds is picking
        engine.reject(rid, {"lamp": 1}, reason="not on the shelf")
        (moved,) = [e for e in engine.events() if isinstance(e, LineResourced)]
        assert [(t.location, t.quantity) for t in moved.to] == [(WAREHOUSE, 1)]
        view = engine.order("o-1")
        new = next(r.reservation_id for r in view.line("1").reservations if r.location == WAREHOUSE)
        engine.ship(new)
        line = engine.order("o-1").line("1")
        assert (line.fulfilled, line.resourced, dict(line.sourced)) == (1, 1, {WAREHOUSE: 1})
        assert engine.position(STORE_2, "lamp").on_hand == 0
        assert engine.verify() == []

    def test_a_ship_to_store_order_arrives_and_is_collected(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(WAREHOUSE, "sofa", 1)
        view = engine.place_order(
            _order("o-1", _line(1, "sofa", 1, ShipToStore(STORE_1)), channel=Channel.APP)
        )
        (transfer_id,) = view.reservation_ids
        transfer = engine.reservation(transfer_id)
        assert (transfer.location, transfer.mode, transfer.destination) == (
            WAREHOUSE,
            Mode.TRANSFER,
            STORE_1,
        )
        engine.ship(transfer_id)
        assert isinstance(engine.events()[-1], ReservationDispatched)
        assert engine.reservation(transfer_id).state is S.IN_TRANSIT
        camden = engine.position(STORE_1, "sofa")
        assert (camden.inbound, camden.on_hand) == (1, 0)
        assert engine.availability("sofa", channel=Channel.STORE, location=STORE_1) == 0
        with pytest.raises(InsufficientStock):  # inbound units are never sold
            engine.sell(STORE_1, {"sofa": 1})
        assert dict(engine.order("o-1").line("1").sourced) == {WAREHOUSE: 1}
        clock.advance(timedelta(days=1))
        ready = engine.arrive(transfer_id)
        arrived = [e for e in engine.events() if isinstance(e, ReservationArrived)]
        assert [e.ready_reservation_id for e in arrived] == [ready.id]
        assert (ready.location, ready.state, ready.order_id) == (STORE_1, S.READY, "o-1")
        camden = engine.position(STORE_1, "sofa")
        assert (camden.inbound, camden.on_hand, camden.committed) == (0, 1, 1)
        with pytest.raises(InvalidTransition):
            engine.arrive(transfer_id)  # only once
        engine.collect(ready.id, at=STORE_1)
        line = engine.order("o-1").line("1")
        assert (line.fulfilled, line.fulfilled_in, dict(line.sourced)) == (
            1,
            Channel.STORE,
            {STORE_1: 1},
        )
        assert [r.state for r in line.reservations] == [S.FULFILLED, S.FULFILLED]
        assert engine.verify() == []

    def test_a_transfer_that_nobody_collects_goes_back_on_sale_at_the_store(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_2, "sofa", 1)
        (tid,) = engine.place_order(
            _order("o-1", _line(1, "sofa", 1, ShipToStore(STORE_1)))
        ).reservation_ids
        engine.ship(tid)
        ready = engine.arrive(tid, pickup_window=timedelta(days=2))
        clock.advance(timedelta(days=2))
        assert [r.id for r in engine.expire_due()] == [ready.id]
        assert engine.availability("sofa", channel=Channel.STORE, location=STORE_1) == 1

    def test_pickup_options_offer_only_stores_that_have_every_line(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 2)
        engine.receive(STORE_1, "rug", 1)
        engine.receive(STORE_2, "lamp", 5)  # no rug in Leeds
        assert engine.pickup_options({"lamp": 1, "rug": 1}, near=LEEDS) == [STORE_1]
        assert engine.pickup_options({"lamp": 1}, near=LEEDS) == [STORE_2, STORE_1]
        assert engine.pickup_options({"lamp": 1}, near=CAMDEN, limit=1) == [STORE_1]
        engine.reserve(STORE_1, {"rug": 1}, channel=Channel.CALL_CENTER)  # someone holds it
        assert engine.pickup_options({"lamp": 1, "rug": 1}, near=LEEDS) == []
        engine.set_safety_stock(STORE_2, "lamp", 5)
        assert engine.pickup_options({"lamp": 1}, near=LEEDS) == [STORE_1]
        assert engine.pickup_options({"lamp": 1}, near=LEEDS, channel=Channel.STORE) == [
            STORE_2,
            STORE_1,
        ]

    def test_no_interleaving_of_till_sales_web_orders_and_pickups_takes_earmarked_stock(
        self,
    ) -> None:
        @settings(max_examples=25)
        @given(
            st.lists(
                st.tuples(st.sampled_from(["till", "web", "pickup"]), st.integers(1, 3)),
                min_size=1,
                max_size=12,
            )
        )
        def interleave(steps: list[tuple[str, int]]) -> None:
            store = self.make_store()
            try:
                engine = self.engine_on(store, ManualClock(START))
                engine.receive(STORE_2, "lamp", 6)
                free = 6  # the model: every channel here sees the same six lamps, and no buffer
                sold = 0
                earmarked: dict[str, int] = {}
                for n, (kind, units) in enumerate(steps):
                    before = take_snapshot(store)
                    try:
                        if kind == "till":
                            engine.sell(STORE_2, {"lamp": units})
                        else:
                            where = Pickup(STORE_2) if kind == "pickup" else Ship(LEEDS)
                            view = engine.place_order(
                                _order(f"o-{n}", _line(1, "lamp", units, where))
                            )
                            if kind == "pickup":
                                earmarked.update(dict.fromkeys(view.reservation_ids, units))
                    except InsufficientStock:
                        assert units > free, f"step {n}: {kind} of {units} refused, {free} free"
                        invariants.unchanged(engine, before)
                    else:
                        assert units <= free, f"step {n}: {kind} of {units} took, {free} free"
                        free -= units
                        sold += units if kind == "till" else 0
                    for rid, units_held in earmarked.items():
                        r = engine.reservation(rid)
                        assert (r.state, r.open_quantities["lamp"]) == (S.CONFIRMED, units_held)
                    invariants.promise_1_no_oversell(engine)
                till = sum(e.lines[0].quantity for e in engine.events() if isinstance(e, StockSold))
                position = engine.position(STORE_2, "lamp")
                assert (till, position.on_hand) == (sold, 6 - sold)
                assert position.committed == 6 - sold - free
                invariants.promise_2_conservation(engine)
            finally:
                self.dispose(store)

        interleave()
