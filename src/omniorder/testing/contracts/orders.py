"""Orders on every store: quotes, checkout holds, placement, backorders and short picks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from omniorder.allocation import AllocationPlan, AllocationProblem, PrioritySolver
from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.errors import (
    InsufficientStock,
    InvalidInput,
    InvalidPlan,
    InvalidTransition,
    UnknownLocation,
    UnknownOrder,
)
from omniorder.model.events import (
    LineBackordered,
    LineResourced,
    OrderHeld,
    OrderPlaced,
    ReservationPlaced,
    StockAdjusted,
)
from omniorder.model.network import Location, Network
from omniorder.model.order import Order, OrderLine, OrderStatus, Pickup, Ship
from omniorder.model.policy import Policy
from omniorder.model.reservation import ReservationState
from omniorder.model.values import Capability, Channel, Geo, LocationKind, Mode
from omniorder.stores.base import Store
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE
from omniorder.testing.snapshot import take_snapshot

LEEDS_CUSTOMER = Geo(53.80, -1.55)
PRICE = Decimal("19.99")


def shipped(
    order_id: str, *lines: tuple[str, int], to: Geo = LEEDS_CUSTOMER, channel: Channel = Channel.WEB
) -> Order:
    """An order of shipped lines."""
    return Order(
        order_id,
        channel,
        [
            OrderLine(str(n), sku, units, PRICE, Ship(to))
            for n, (sku, units) in enumerate(lines, start=1)
        ],
    )


def _warehouses(*names: str) -> Network:
    return Network(
        [
            Location(
                name,
                LocationKind.WAREHOUSE,
                Geo(53.0 + n / 10, -1.0),
                {Capability.SHIP},
                priority=n,
            )
            for n, name in enumerate(names)
        ]
    )


class _OverfillingSolver:
    """A broken solver: it sources every unit twice."""

    name = "overfilling"

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        plan = PrioritySolver().solve(problem)
        return attrs.evolve(plan, assignments=plan.assignments * 2, solver=self.name)


class OrdersContract(ContractBase):
    """Orders: quote, hold, place, backorder, re-source after a short pick."""

    def test_a_solver_that_returns_an_invalid_plan_is_refused_and_nothing_is_written(
        self, store: Store, clock: ManualClock
    ) -> None:
        engine = self.engine_on(store, clock, solver=_OverfillingSolver())
        engine.receive(WAREHOUSE, "lamp", 5)
        before = take_snapshot(engine.store)
        for command in (engine.place_order, engine.hold_order):
            with pytest.raises(InvalidPlan) as refused:
                command(shipped("o-1", ("lamp", 2)))
            assert (refused.value.solver, refused.value.order_id) == ("overfilling", "o-1")
            assert refused.value.problems
            assert take_snapshot(engine.store) == before

    def test_a_quote_shows_the_plan_and_writes_nothing(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 3)
        before = take_snapshot(engine.store)
        plan = engine.quote(shipped("o-1", ("lamp", 2)))
        assert [(a.location, a.quantity) for a in plan.assignments] == [(WAREHOUSE, 2)]
        assert plan.cost > 0
        assert take_snapshot(engine.store) == before

    def test_placing_an_order_commits_its_stock_where_it_is_sourced(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 3)
        engine.receive(STORE_1, "rug", 1)
        order = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine("1", "lamp", 2, PRICE, Ship(LEEDS_CUSTOMER)),
                OrderLine("2", "rug", 1, PRICE, Pickup(STORE_1)),
            ],
        )
        view = engine.place_order(order)
        assert view.status is OrderStatus.PLACED
        assert dict(view.line("1").sourced) == {WAREHOUSE: 2}
        assert dict(view.line("2").sourced) == {STORE_1: 1}
        for rid in view.reservation_ids:
            r = engine.reservation(rid)
            assert (r.state, r.order_id) == (ReservationState.CONFIRMED, "o-1")
        assert engine.position(WAREHOUSE, "lamp").committed == 2
        placed = [e for e in engine.events() if isinstance(e, ReservationPlaced)]
        assert {e.mode for e in placed} == {Mode.SHIP, Mode.PICKUP}
        assert isinstance(engine.events()[-1], OrderPlaced)
        assert engine.order("o-1") == view
        assert engine.verify() == []

    def test_an_order_that_cannot_be_sourced_is_refused_and_writes_nothing(
        self, engine: Engine
    ) -> None:
        engine.receive(WAREHOUSE, "lamp", 1)
        before = take_snapshot(engine.store)
        order = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine("1", "lamp", 3, PRICE, Ship(LEEDS_CUSTOMER)),
                OrderLine("2", "rug", 1, PRICE, Pickup(STORE_1)),
            ],
        )
        with pytest.raises(InsufficientStock) as raised:
            engine.place_order(order)
        assert [(s.sku, s.location, s.requested, s.available) for s in raised.value.lines] == [
            ("lamp", "*", 3, 1),
            ("rug", STORE_1, 1, 0),
        ]
        assert take_snapshot(engine.store) == before

    def test_with_backorders_on_what_cannot_be_sourced_is_backordered(
        self, store: Store, clock: ManualClock
    ) -> None:
        engine = self.engine_on(store, clock, policy=Policy(backorders=True))
        engine.receive(WAREHOUSE, "lamp", 1)
        view = engine.place_order(shipped("o-1", ("lamp", 3)))
        line = view.line("1")
        assert (dict(line.sourced), line.backordered) == ({WAREHOUSE: 1}, 2)
        (event,) = [e for e in engine.events() if isinstance(e, LineBackordered)]
        assert (event.quantity, event.sku) == (2, "lamp")
        assert engine.verify() == []

    def test_peer_solidus_26_prefer_on_hand_to_backorder(
        self, store: Store, clock: ManualClock
    ) -> None:
        """Location 1 could give 5 only as a backorder, location 2 has 2 on hand: a line of
        5 takes the 2 on hand and backorders 3."""
        network = _warehouses("location-1", "location-2")
        engine = self.engine_on(store, clock, network=network, policy=Policy(backorders=True))
        engine.receive("location-2", "V", 2)
        view = engine.place_order(shipped("o-1", ("V", 5)))
        assert (dict(view.line("1").sourced), view.line("1").backordered) == ({"location-2": 2}, 3)

    def test_peer_saleor_11_another_checkouts_hold_is_never_taken(
        self, store: Store, clock: ManualClock
    ) -> None:
        """W1 = 4, W2 = 3 and another checkout holds 2 at W1: an order of 3, high stock first,
        gets W1 2 + W2 1 (Saleor sorts by stock ignoring the hold; we never take it)."""
        network = _warehouses("W1", "W2")
        engine = self.engine_on(store, clock, network=network, solver=PrioritySolver())
        engine.receive("W1", "V", 4)
        engine.receive("W2", "V", 3)
        engine.reserve("W1", {"V": 2}, channel=Channel.WEB, mode=Mode.SHIP)
        view = engine.place_order(shipped("o-1", ("V", 3)))
        assert dict(view.line("1").sourced) == {"W1": 2, "W2": 1}
        assert engine.position("W1", "V").reserved == 2

    def test_peer_saleor_14_checkout_holds_pin_stock_to_locations(
        self, store: Store, clock: ManualClock
    ) -> None:
        """Stock 10, line 5 -> a hold of 5, on hand stays 10; stocks 3 + 2, line 5 -> holds of
        3 and 2; stock 3, line 5 -> insufficient stock."""
        network = _warehouses("W1", "W2", "W3")
        engine = self.engine_on(store, clock, network=network)
        engine.receive("W1", "A", 10)
        held = engine.hold_order(shipped("o-a", ("A", 5)))
        assert dict(held.line("1").sourced) == {"W1": 5}
        assert engine.position("W1", "A").on_hand == 10
        engine.receive("W2", "B", 3)
        engine.receive("W3", "B", 2)
        held = engine.hold_order(shipped("o-b", ("B", 5)))
        assert dict(held.line("1").sourced) == {"W2": 3, "W3": 2}
        engine.receive("W1", "C", 3)
        with pytest.raises(InsufficientStock):
            engine.hold_order(shipped("o-c", ("C", 5)))

    def test_holding_an_order_again_replaces_its_holds(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 5)
        first = engine.hold_order(shipped("o-1", ("lamp", 2)))
        second = engine.hold_order(shipped("o-1", ("lamp", 3)))
        assert engine.position(WAREHOUSE, "lamp").reserved == 3
        (old,) = first.reservation_ids
        assert engine.reservation(old).state is ReservationState.RELEASED
        assert dict(second.line("1").sourced) == {WAREHOUSE: 3}
        assert engine.verify() == []

    def test_placing_a_held_order_confirms_its_holds(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 2)
        order = shipped("o-1", ("lamp", 2))
        held = engine.hold_order(order, key="checkout-1")
        assert isinstance(engine.events()[-1], OrderHeld)
        placed = engine.place_order(order)
        assert placed.reservation_ids == held.reservation_ids
        (rid,) = placed.reservation_ids
        assert engine.reservation(rid).state is ReservationState.CONFIRMED
        assert engine.position(WAREHOUSE, "lamp").committed == 2

    def test_placing_a_held_order_one_of_whose_holds_was_confirmed_commits_each_unit_once(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "rug", 5)
        order = Order("o-1", Channel.WEB, [OrderLine("1", "rug", 2, PRICE, Pickup(STORE_1))])
        (rid,) = engine.hold_order(order).reservation_ids
        engine.confirm(rid)  # the call centre confirmed the store's part on its own
        placed = engine.place_order(order)
        assert placed.reservation_ids == (rid,)
        assert placed.line("1").sourced == {STORE_1: 2}
        assert engine.position(STORE_1, "rug").committed == 2
        assert engine.verify() == []

    def _held_and_partly_confirmed(self, engine: Engine) -> str:
        """o-1 held: 2 rugs to collect at Camden (confirmed on their own), 1 lamp shipped."""
        engine.receive(STORE_1, "rug", 5)
        engine.receive(WAREHOUSE, "lamp", 5)
        order = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine("1", "rug", 2, PRICE, Pickup(STORE_1)),
                OrderLine("2", "lamp", 1, PRICE, Ship(LEEDS_CUSTOMER)),
            ],
        )
        held = engine.hold_order(order)
        (rid,) = [r for r in held.reservation_ids if engine.reservation(r).location == STORE_1]
        engine.confirm(rid)  # the call centre confirmed the store's part on its own
        return rid

    def _committed_units_equal_the_orders_open_sourcing(self, engine: Engine) -> None:
        """Every committed unit of every position belongs to o-1, on a line of its cart."""
        view = engine.order("o-1")
        committed: dict[tuple[str, str], int] = {}
        for line in view.lines:
            for r in line.reservations:
                if engine.reservation(r.reservation_id).state is ReservationState.CONFIRMED:
                    key = (r.location, line.sku)
                    committed[key] = committed.get(key, 0) + r.units
        for location in (STORE_1, STORE_2, WAREHOUSE):
            for sku in ("rug", "lamp"):
                got = engine.position(location, sku).committed
                assert got == committed.get((location, sku), 0), (location, sku, view)
        assert engine.verify() == []

    @pytest.mark.parametrize("ids", [("1", "2"), ("rug-line", "lamp-line")])
    def test_placing_a_changed_cart_keeps_the_confirmed_units_and_sources_only_the_rest(
        self, engine: Engine, ids: tuple[str, str]
    ) -> None:
        """Whether the changed cart keeps its line ids or renames them, the confirmed rugs stay
        on the rug line (matched by sku and destination) and only the extra rug is sourced."""
        rid = self._held_and_partly_confirmed(engine)
        rugs, lamps = ids
        changed = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine(lamps, "lamp", 2, PRICE, Ship(LEEDS_CUSTOMER)),
                OrderLine(rugs, "rug", 3, PRICE, Pickup(STORE_1)),
            ],
        )
        placed = engine.place_order(changed)
        assert placed.status is OrderStatus.PLACED
        assert placed.reservation_ids[0] == rid
        assert dict(placed.line(rugs).sourced) == {STORE_1: 3}
        assert [r.units for r in placed.line(rugs).reservations] == [2, 1]
        assert placed.line(rugs).reservations[0].reservation_id == rid
        assert dict(placed.line(lamps).sourced) == {WAREHOUSE: 2}
        assert engine.position(STORE_1, "rug").committed == 3
        assert engine.position(WAREHOUSE, "lamp").committed == 2
        assert engine.position(WAREHOUSE, "lamp").reserved == 0  # the lamp's hold is released
        (event,) = [e for e in engine.events() if isinstance(e, OrderPlaced)]
        assert {(x.sku, x.quantity) for x in event.lines} == {("rug", 3), ("lamp", 2)}
        self._committed_units_equal_the_orders_open_sourcing(engine)

    @pytest.mark.parametrize("ids", [("1", "2"), ("rug-line", "lamp-line")])
    def test_holding_a_changed_cart_again_keeps_the_confirmed_units_and_holds_only_the_rest(
        self, engine: Engine, ids: tuple[str, str]
    ) -> None:
        rid = self._held_and_partly_confirmed(engine)
        rugs, lamps = ids
        changed = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine(rugs, "rug", 4, PRICE, Pickup(STORE_1)),
                OrderLine(lamps, "lamp", 1, PRICE, Ship(LEEDS_CUSTOMER)),
            ],
        )
        held = engine.hold_order(changed)
        assert held.status is OrderStatus.HELD
        assert held.reservation_ids[0] == rid
        assert engine.reservation(rid).state is ReservationState.CONFIRMED
        assert dict(held.line(rugs).sourced) == {STORE_1: 4}
        rug = engine.position(STORE_1, "rug")
        assert (rug.committed, rug.reserved) == (2, 2)  # only the two extra rugs are held
        assert engine.position(WAREHOUSE, "lamp").reserved == 1
        self._committed_units_equal_the_orders_open_sourcing(engine)
        placed = engine.place_order(changed)
        assert dict(placed.line(rugs).sourced) == {STORE_1: 4}
        rug = engine.position(STORE_1, "rug")
        assert (rug.committed, rug.reserved) == (4, 0)
        self._committed_units_equal_the_orders_open_sourcing(engine)

    @pytest.mark.parametrize("hold", [False, True], ids=["place", "hold"])
    def test_committed_units_always_equal_the_orders_open_sourcing(
        self, engine: Engine, hold: bool
    ) -> None:
        """Hold, confirm a hold on its own, change the cart (fewer lamps, more rugs, the lamp line
        renamed), hold or place it: no committed unit is left outside the order."""
        rid = self._held_and_partly_confirmed(engine)
        self._committed_units_equal_the_orders_open_sourcing(engine)
        cart = [
            OrderLine("1", "rug", 2, PRICE, Pickup(STORE_1)),
            OrderLine("9", "lamp", 3, PRICE, Ship(LEEDS_CUSTOMER)),
        ]
        changed = Order("o-1", Channel.WEB, cart)
        if hold:
            engine.hold_order(changed)
            self._committed_units_equal_the_orders_open_sourcing(engine)
        view = engine.place_order(changed)
        assert view.line("1").reservations[0].reservation_id == rid
        assert sum(view.line("9").sourced.values()) == 3
        assert engine.position(STORE_1, "rug").committed == 2
        assert engine.position(WAREHOUSE, "lamp").committed == 3
        self._committed_units_equal_the_orders_open_sourcing(engine)

    @pytest.mark.parametrize("hold", [False, True], ids=["place", "hold"])
    @pytest.mark.parametrize("cart", ["fewer", "dropped", "moved"])
    def test_a_cart_below_its_confirmed_units_is_refused_and_changes_nothing(
        self, engine: Engine, store: Store, hold: bool, cart: str
    ) -> None:
        """Fewer rugs than were confirmed, no rug line, or the rugs shipped instead of collected:
        InvalidInput naming the rug line, and the positions, events and order stay as they were;
        un-confirming is never implicit, but releasing the confirmed hold first works."""
        rid = self._held_and_partly_confirmed(engine)
        engine.receive(WAREHOUSE, "rug", 2)  # rugs to ship, once the collected ones are released
        lamp = OrderLine("2", "lamp", 1, PRICE, Ship(LEEDS_CUSTOMER))
        rugs = {
            "fewer": [OrderLine("1", "rug", 1, PRICE, Pickup(STORE_1)), lamp],
            "dropped": [lamp],
            "moved": [OrderLine("1", "rug", 2, PRICE, Ship(LEEDS_CUSTOMER)), lamp],
        }[cart]
        changed = Order("o-1", Channel.WEB, rugs)
        command = engine.hold_order if hold else engine.place_order
        before = take_snapshot(store)
        with pytest.raises(InvalidInput) as refused:
            command(changed)
        assert "'1' (rug)" in str(refused.value)
        assert len(refused.value.problems) == 1
        assert take_snapshot(store) == before
        assert engine.order("o-1").status is OrderStatus.HELD
        engine.release(rid, reason="the customer wants fewer rugs")
        done = command(changed)
        assert rid not in done.reservation_ids
        assert engine.verify() == []

    def test_units_delivered_before_the_order_is_placed_count_toward_their_line(
        self, engine: Engine
    ) -> None:
        engine.receive(WAREHOUSE, "lamp", 5)
        order = shipped("o-1", ("lamp", 2))
        (rid,) = engine.hold_order(order).reservation_ids
        engine.confirm(rid)
        engine.ship(rid)  # sent before the order was placed
        placed = engine.place_order(shipped("o-1", ("lamp", 3)))
        assert placed.line("1").fulfilled == 2
        assert sum(placed.line("1").sourced.values()) == 3
        assert engine.position(WAREHOUSE, "lamp").committed == 1
        assert engine.verify() == []

    def test_placing_re_sources_only_the_lines_whose_holds_expired(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(WAREHOUSE, "lamp", 2)
        engine.receive(STORE_1, "rug", 2)
        order = Order(
            "o-1",
            Channel.WEB,
            [
                OrderLine("1", "lamp", 1, PRICE, Ship(LEEDS_CUSTOMER)),
                OrderLine("2", "rug", 1, PRICE, Pickup(STORE_1)),
            ],
        )
        held = engine.hold_order(order, ttl=timedelta(minutes=10))
        pickup_hold = next(
            rid for rid in held.reservation_ids if engine.reservation(rid).location == STORE_1
        )
        clock.advance(timedelta(minutes=11))
        engine.receive(STORE_1, "rug", 1)  # the holds have expired meanwhile
        placed = engine.place_order(order)
        assert engine.reservation(pickup_hold).state is ReservationState.EXPIRED
        assert len(placed.reservation_ids) == 4
        assert sum(placed.line("2").sourced.values()) == 1
        assert engine.verify() == []

    def test_pickup_stock_of_a_placed_order_is_earmarked(self, engine: Engine) -> None:
        engine.receive(STORE_2, "lamp", 1)
        engine.place_order(
            Order("o-1", Channel.APP, [OrderLine("1", "lamp", 1, PRICE, Pickup(STORE_2))])
        )
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_2, {"lamp": 1})
        with pytest.raises(InsufficientStock):
            engine.place_order(shipped("o-2", ("lamp", 1)))

    def test_a_short_pick_corrects_stock_and_re_sources_the_units_elsewhere(
        self, engine: Engine
    ) -> None:
        stocked = {STORE_2: 2, WAREHOUSE: 5}
        for location, units in stocked.items():
            engine.receive(location, "lamp", units)
        view = engine.place_order(shipped("o-1", ("lamp", 2)))
        (rid,) = view.reservation_ids
        origin = engine.reservation(rid).location
        rejected = engine.reject(rid, {"lamp": 1}, reason="one was damaged")
        assert engine.position(origin, "lamp").on_hand == stocked[origin] - 1
        assert rejected.state is ReservationState.CONFIRMED
        assert rejected.open_quantities == {"lamp": 1}
        (elsewhere,) = {STORE_2, WAREHOUSE} - {origin}  # the other location that has lamps
        line = engine.order("o-1").line("1")
        assert (line.resourced, line.backordered) == (1, 0)
        assert line.sourced == {origin: 1, elsewhere: 1}
        assert engine.position(origin, "lamp").committed == 1
        assert engine.position(elsewhere, "lamp").committed == 1
        moved = [e for e in engine.events() if isinstance(e, LineResourced)]
        assert [(e.from_location, e.quantity) for e in moved] == [(origin, 1)]
        assert [(t.location, t.quantity) for t in moved[0].to] == [(elsewhere, 1)]
        adjusted = [e for e in engine.events() if isinstance(e, StockAdjusted)]
        assert adjusted[-1].delta == -1
        assert engine.verify() == []

    def test_a_short_pick_with_nothing_elsewhere_backorders_the_units(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 1)
        (rid,) = engine.place_order(shipped("o-1", ("lamp", 1))).reservation_ids
        rejected = engine.reject(rid, {"lamp": 1}, reason="not on the shelf")
        assert rejected.state is ReservationState.RELEASED
        assert engine.position(WAREHOUSE, "lamp").on_hand == 0
        assert engine.order("o-1").line("1").backordered == 1
        assert engine.verify() == []

    def test_a_placed_order_cannot_be_placed_or_held_again(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 3)
        order = shipped("o-1", ("lamp", 1))
        first = engine.place_order(order, key="pay-1")
        assert engine.place_order(order, key="pay-1") == first
        for command in (engine.place_order, engine.hold_order):
            with pytest.raises(InvalidTransition):
                command(order)

    def test_order_inputs_are_checked(self, engine: Engine) -> None:
        with pytest.raises(UnknownOrder):
            engine.order("nope")
        with pytest.raises(InvalidInput):
            engine.place_order("o-1")  # type: ignore[arg-type]
        with pytest.raises(UnknownLocation):
            engine.place_order(
                Order("o-1", Channel.WEB, [OrderLine("1", "x", 1, PRICE, Pickup("nowhere"))])
            )
        with pytest.raises(InvalidInput):
            engine.hold_order(shipped("o-1", ("x", 1)), ttl=timedelta(0))
        engine.receive(WAREHOUSE, "lamp", 1)
        rid = engine.reserve(WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP).id
        with pytest.raises(InvalidTransition):
            engine.reject(rid, {"lamp": 1}, reason="held, not confirmed")
        engine.confirm(rid)
        with pytest.raises(InvalidInput):
            engine.reject(rid, {"lamp": 2}, reason="more than held")
        with pytest.raises(InvalidInput):
            engine.reject(rid, {"lamp": 1}, reason=" ")
