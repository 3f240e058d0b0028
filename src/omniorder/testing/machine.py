"""The stateful specification: every engine command, driven by Hypothesis against a reference model.

After every step, the invariants of DESIGN §5 promises 1, 2, 3, 6 and 7 hold and the engine
agrees with :mod:`omniorder.testing.reference`. Every command the model says must fail raises its
typed error and leaves a snapshot of the store unchanged (promise 4); keyed commands replay their
first result and apply nothing twice, and a key reused for another request conflicts (promise 5).

:func:`machine_for` builds the machine for any store, so the same specification runs against
every adapter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from omniorder import (
    Channel,
    Condition,
    Disposition,
    Engine,
    Geo,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    ManualClock,
    MissingCapability,
    Mode,
    OmniOrderError,
    Policy,
    ReservationState,
    ReturnNotAllowed,
    ReturnPolicy,
    ReturnState,
    UnknownLocation,
    UnknownOrder,
    UnknownReservation,
    UnknownReturn,
    WrongLocation,
)
from omniorder.model import ReservationCommand
from omniorder.model.order import (
    Fulfilment,
    Order,
    OrderLine,
    OrderView,
    Pickup,
    Ship,
    ShipToStore,
)
from omniorder.model.reservation import SHIP_COMMANDS
from omniorder.stores.base import Store
from omniorder.testing import invariants, take_snapshot
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network
from omniorder.testing.reference import Model, ModelReservation

SKUS = ["sku-a", "sku-b", "sku-c"]
CUSTOMER = Geo(53.80, -1.55)
FULFILMENTS: list[Fulfilment] = [
    Ship(CUSTOMER),
    Pickup(STORE_1),
    Pickup(STORE_2),
    ShipToStore(STORE_1),
]
LOCATIONS = [STORE_1, STORE_2, WAREHOUSE]
TILLS = [STORE_1, STORE_2]
C = ReservationCommand
S = ReservationState

units = st.integers(min_value=1, max_value=4)
sku_lines = st.dictionaries(st.sampled_from(SKUS), units, min_size=1, max_size=3)
ttls = st.none() | st.sampled_from(
    [timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(days=1)]
)
steps = st.sampled_from(
    [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(minutes=20),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(days=1),
        timedelta(days=2),
        timedelta(days=4),
    ]
)

# (mode, locations that can serve it)
MODES = [
    (Mode.PICKUP, TILLS),
    (Mode.SHIP, [STORE_2, WAREHOUSE]),
    (Mode.TRANSFER, [STORE_2, WAREHOUSE]),
]
DESTINATION = STORE_1
"""Where the sample network's lanes lead (from the warehouse and from Leeds)."""

RETURNS = ReturnPolicy(window=timedelta(days=3), restocking_fee={Condition.DAMAGED: Decimal("0.1")})
"""A short return window, so that the machine's clock walks past it."""
RECEIPTS = {
    Condition.SELLABLE: "on_hand",
    Condition.DAMAGED: "quarantine",
    Condition.DEFECTIVE: None,
}
"""Where a received unit goes under :data:`RETURNS` (None: written off)."""


@dataclass
class ModelReturn:
    """What the machine knows of one return authorisation."""

    order_id: str
    line_id: str
    sku: str
    units: int
    at: str
    state: ReturnState


BAD_QUANTITIES = [0, -1, True, 1.0, "1", None, 2**63]
BAD_IDS = ["", "   ", " x", "a\nb", "x" * 201, 7, None]


class EngineMachine(RuleBasedStateMachine):
    """Drives one engine and the reference model with the same commands."""

    make_store: Callable[[], Store]
    dispose: Callable[[Store], None]

    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.store = self.make_store()
        counter = itertools.count(1)
        self.engine = Engine(
            sample_network(),
            store=self.store,
            clock=self.clock,
            ids=lambda prefix: f"{prefix}-{next(counter)}",
            policy=Policy(returns=RETURNS),
        )
        self.model = Model(START)
        # (order id, line id) -> [(when, units)] that reached the customer
        self.delivered: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        self.covered: dict[tuple[str, str], int] = {}  # units under return authorisations
        self.rmas: dict[str, ModelReturn] = {}
        self.keys = itertools.count(1)
        # key -> (replay the same request, a different request, the first result)
        self.keyed: dict[str, tuple[Callable[[], Any], Callable[[], Any], Any]] = {}
        self.failed_keys: list[str] = []

    def teardown(self) -> None:
        self.dispose(self.store)

    # -- helpers -------------------------------------------------------------------------------

    def _call(
        self,
        keyed: bool,
        run: Callable[[str | None], Any],
        other: Callable[[str], Any],
        expect: type[OmniOrderError] | None,
    ) -> Any:
        """Run a command (keyed or not); assert it fails with ``expect`` and changes nothing."""
        key = f"key-{next(self.keys)}" if keyed else None
        if expect is not None:
            before = take_snapshot(self.store)
            try:
                run(key)
            except expect:
                invariants.unchanged(self.engine, before)
                if key is not None:
                    self.failed_keys.append(key)
                return None
            raise AssertionError(f"expected {expect.__name__}")
        result = run(key)
        if key is not None:
            self.keyed[key] = (lambda: run(key), lambda: other(key), result)
        return result

    # -- stock administration ------------------------------------------------------------------

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        quantity=st.integers(min_value=1, max_value=6),
        keyed=st.booleans(),
    )
    def receive(self, location: str, sku: str, quantity: int, keyed: bool) -> None:
        self._call(
            keyed,
            lambda k: self.engine.receive(location, sku, quantity, key=k),
            lambda k: self.engine.receive(location, sku, quantity + 1, key=k),
            None,
        )
        self.model.on_hand[(location, sku)] = self.model.on_hand.get((location, sku), 0) + quantity

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        change=st.integers(min_value=-5, max_value=5).filter(bool),
        absolute=st.booleans(),
        keyed=st.booleans(),
    )
    def adjust(self, location: str, sku: str, change: int, absolute: bool, keyed: bool) -> None:
        key_ = (location, sku)
        on_hand = self.model.on_hand.get(key_, 0)
        target = max(0, on_hand + change) if absolute else on_hand + change
        if absolute and target == on_hand:
            target = on_hand + 1
        if target < 0:
            return  # a negative `to` is bad input, covered by bad_input
        held = self.model.reserved(key_) + self.model.committed(key_)
        expect = InsufficientStock if target < held else None

        def run(k: str | None) -> Any:
            if absolute:
                return self.engine.adjust(location, sku, to=target, reason="count", key=k)
            return self.engine.adjust(location, sku, delta=change, reason="count", key=k)

        self._call(
            keyed,
            run,
            lambda k: self.engine.adjust(location, sku, to=target + 1, reason="x", key=k),
            expect,
        )
        if expect is None:
            self.model.on_hand[key_] = target

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        quantity=st.integers(min_value=0, max_value=3),
        keyed=st.booleans(),
    )
    def set_safety_stock(self, location: str, sku: str, quantity: int, keyed: bool) -> None:
        self._call(
            keyed,
            lambda k: self.engine.set_safety_stock(location, sku, quantity, key=k),
            lambda k: self.engine.set_safety_stock(location, sku, quantity + 1, key=k),
            None,
        )
        self.model.safety[(location, sku)] = quantity

    @rule(location=st.sampled_from(TILLS), lines=sku_lines, keyed=st.booleans())
    def sell(self, location: str, lines: dict[str, int], keyed: bool) -> None:
        short = self.model.shortfalls(location, lines, Channel.STORE)
        expect = InsufficientStock if short else None
        if short:
            try:
                self.engine.sell(location, lines)
            except InsufficientStock as error:
                got = [(s.sku, s.location, s.requested, s.available) for s in error.lines]
                assert got == short
        self._call(
            keyed,
            lambda k: self.engine.sell(location, lines, key=k),
            lambda k: self.engine.sell(location, {"sku-z": 1}, key=k),
            expect,
        )
        if not short:
            for sku, quantity in lines.items():
                self.model.on_hand[(location, sku)] -= quantity

    # -- holds and their lifecycle -------------------------------------------------------------

    @rule(
        target=reservations,
        mode_at=st.sampled_from(MODES),
        data=st.data(),
        lines=sku_lines,
        channel=st.sampled_from(Channel),
        ttl=ttls,
        keyed=st.booleans(),
    )
    def reserve(
        self,
        mode_at: tuple[Mode, list[str]],
        data: st.DataObject,
        lines: dict[str, int],
        channel: Channel,
        ttl: timedelta | None,
        keyed: bool,
    ) -> Any:
        mode, places = mode_at
        location = data.draw(st.sampled_from(places), label="location")
        to = DESTINATION if mode is Mode.TRANSFER else None
        short = self.model.shortfalls(location, lines, channel)
        made = self._call(
            keyed,
            lambda k: self.engine.reserve(
                location, lines, channel=channel, ttl=ttl, mode=mode, destination=to, key=k
            ),
            lambda k: self.engine.reserve(
                location,
                lines,
                channel=channel,
                ttl=ttl,
                mode=mode,
                destination=to,
                order_id="other",
                key=k,
            ),
            InsufficientStock if short else None,
        )
        if made is None:
            return multiple()
        lifetime = self.engine.policy.ttl_for(channel) if ttl is None else ttl
        self.model.hold(made.id, location, lines, channel, mode, lifetime, to)
        assert made.expires_at == self.model.now + lifetime
        return made.id

    def _lifecycle(
        self,
        rid: str,
        command: ReservationCommand,
        run: Callable[[str | None], Any],
        other: Callable[[str], Any],
        keyed: bool,
    ) -> Any:
        r = self.model.reservations[rid]
        expect = None if self.model.allowed(r, command) else InvalidTransition
        return self._call(keyed, run, other, expect)

    @rule(
        rid=reservations,
        ttl=st.sampled_from([timedelta(minutes=10), timedelta(hours=5)]),
        keyed=st.booleans(),
    )
    def extend(self, rid: str, ttl: timedelta, keyed: bool) -> None:
        done = self._lifecycle(
            rid,
            C.EXTEND,
            lambda k: self.engine.extend(rid, ttl, key=k),
            lambda k: self.engine.extend(rid, ttl * 2, key=k),
            keyed,
        )
        if done is not None:
            self.model.reservations[rid].expires_at = self.model.now + ttl

    @rule(rid=reservations, keyed=st.booleans())
    def confirm(self, rid: str, keyed: bool) -> None:
        done = self._lifecycle(
            rid,
            C.CONFIRM,
            lambda k: self.engine.confirm(rid, key=k),
            lambda k: self.engine.ship(rid, key=k),
            keyed,
        )
        if done is not None:
            r = self.model.reservations[rid]
            r.state, r.expires_at = S.CONFIRMED, None

    @rule(
        rid=reservations,
        window=st.none() | st.sampled_from([timedelta(hours=1), timedelta(days=2)]),
        keyed=st.booleans(),
    )
    def mark_ready(self, rid: str, window: timedelta | None, keyed: bool) -> None:
        done = self._lifecycle(
            rid,
            C.MARK_READY,
            lambda k: self.engine.mark_ready(rid, pickup_window=window, key=k),
            lambda k: self.engine.mark_ready(rid, pickup_window=timedelta(minutes=7), key=k),
            keyed,
        )
        if done is not None:
            r = self.model.reservations[rid]
            r.state = S.READY
            r.expires_at = self.model.now + (window or self.engine.policy.pickup_window)
            assert done.expires_at == r.expires_at

    @rule(rid=reservations, data=st.data(), keyed=st.booleans())
    def collect(self, rid: str, data: st.DataObject, keyed: bool) -> None:
        r = self.model.reservations[rid]
        partial = data.draw(st.booleans(), label="partial")
        taken: dict[str, int] | None = None
        if partial:
            taken = {
                sku: data.draw(st.integers(min_value=1, max_value=q), label=sku)
                for sku, q in r.open.items()
                if q and data.draw(st.booleans(), label=f"take {sku}")
            }
            if not taken:
                taken = None
        at = data.draw(st.sampled_from([None, *TILLS]), label="at the counter of")
        if at is not None and at != r.location and self.model.allowed(r, C.COLLECT):
            self._call(
                False,
                lambda k: self.engine.collect(rid, taken, at=at, key=k),
                lambda k: self.engine.release(rid, key=k),
                WrongLocation,
            )
            return
        done = self._lifecycle(
            rid,
            C.COLLECT,
            lambda k: self.engine.collect(rid, taken, at=at, key=k),
            lambda k: self.engine.release(rid, key=k),
            keyed,
        )
        if done is not None:
            gone = dict(r.open) if taken is None else taken
            self.model.finish(r, S.FULFILLED, gone)
            self._delivered(rid, gone)

    @rule(rid=reservations, keyed=st.booleans())
    def ship(self, rid: str, keyed: bool) -> None:
        r = self.model.reservations[rid]
        command = SHIP_COMMANDS[r.mode]
        done = self._lifecycle(
            rid,
            command,
            lambda k: self.engine.ship(rid, key=k),
            lambda k: self.engine.confirm(rid, key=k),
            keyed,
        )
        if done is None:
            return
        if command is C.DISPATCH:
            self.model.dispatch(r)
            assert done.state is S.IN_TRANSIT
        else:
            gone = dict(r.open)
            self.model.finish(r, S.FULFILLED, gone)
            self._delivered(rid, gone)

    @rule(target=reservations, rid=reservations, keyed=st.booleans())
    def arrive(self, rid: str, keyed: bool) -> Any:
        r = self.model.reservations[rid]
        ready = self._lifecycle(
            rid,
            C.ARRIVE,
            lambda k: self.engine.arrive(rid, key=k),
            lambda k: self.engine.arrive(rid, pickup_window=timedelta(hours=1), key=k),
            keyed,
        )
        if ready is None:
            return multiple()
        assert ready.state is S.READY
        assert ready.location == r.destination
        self.model.arrive(r, ready.id, self.model.now + self.engine.policy.pickup_window)
        return ready.id

    @rule(data=st.data())
    def pickup_options(self, data: st.DataObject) -> None:
        lines = data.draw(sku_lines, label="lines")
        channel = data.draw(st.sampled_from(Channel), label="channel")
        found = self.engine.pickup_options(lines, near=CUSTOMER, channel=channel)
        able = [
            store
            for store in (STORE_2, STORE_1)  # Leeds is nearer the customer
            if all(
                self.model.available((store, sku), channel) >= units for sku, units in lines.items()
            )
        ]
        assert found == able

    @rule(rid=reservations, keyed=st.booleans())
    def release(self, rid: str, keyed: bool) -> None:
        r = self.model.reservations[rid]
        done = self._lifecycle(
            rid,
            C.RELEASE,
            lambda k: self.engine.release(rid, reason="changed mind", key=k),
            lambda k: self.engine.release(rid, reason="other", key=k),
            keyed,
        )
        if done is not None:
            self.model.finish(r, S.RELEASED, {})

    # -- orders ------------------------------------------------------------------------------------

    def _order(self, data: st.DataObject) -> Order:
        skus = data.draw(
            st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True), label="skus"
        )
        lines = []
        for n, sku in enumerate(skus, start=1):
            where = data.draw(st.sampled_from(FULFILMENTS), label=f"fulfilment {n}")
            lines.append(
                OrderLine(str(n), sku, data.draw(units, label=f"units {n}"), Decimal("10"), where)
            )
        return Order(
            f"order-{next(self.keys)}", data.draw(st.sampled_from(Channel), label="channel"), lines
        )

    def _feasible(self, order: Order) -> bool:
        """Lines have distinct skus, so each is feasible on its own or not at all."""
        for line in order.lines:
            fulfilment = line.fulfilment
            if isinstance(fulfilment, Ship | ShipToStore):  # shipping origins, or lanes
                places = [STORE_2, WAREHOUSE]
            else:
                places = [fulfilment.at]
            if (
                sum(self.model.available((loc, line.sku), order.channel) for loc in places)
                < line.quantity
            ):
                return False
        return True

    def _learn(self, order: Order, view: OrderView, held: bool) -> None:
        """Add the reservations the engine made for ``order`` to the model, checking them."""
        for rid in view.reservation_ids:
            if rid in self.model.reservations:
                continue
            r = self.engine.reservation(rid)
            for line in r.lines:
                assert line.quantity <= self.model.available((r.location, line.sku), r.channel)
            state = S.HELD if held else S.CONFIRMED
            assert r.state is state
            self.model.reservations[rid] = ModelReservation(
                rid,
                r.location,
                r.channel,
                r.mode,
                state,
                r.expires_at,
                dict(r.quantities),
                dict(r.quantities),
                r.destination,
            )

    @rule(data=st.data(), keyed=st.booleans())
    def place_order(self, data: st.DataObject, keyed: bool) -> None:
        order = self._order(data)
        feasible = self._feasible(order)
        view = self._call(
            keyed,
            lambda k: self.engine.place_order(order, key=k),
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            None if feasible else InsufficientStock,
        )
        if view is not None:
            for line in order.lines:
                assert sum(view.line(line.id).sourced.values()) == line.quantity
            self._learn(order, view, held=False)

    @rule(data=st.data())
    def hold_order(self, data: st.DataObject) -> None:
        order = self._order(data)
        feasible = self._feasible(order)
        view = self._call(
            False,
            lambda k: self.engine.hold_order(order, key=k),
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            None if feasible else InsufficientStock,
        )
        if view is not None:
            self._learn(order, view, held=True)

    @rule(rid=reservations, data=st.data(), keyed=st.booleans())
    def reject(self, rid: str, data: st.DataObject, keyed: bool) -> None:
        r = self.model.reservations[rid]
        skus = sorted(sku for sku, n in self.model.open_units(r).items() if n) or sorted(r.lines)
        sku = data.draw(st.sampled_from(skus), label="sku")
        most = max(1, self.model.open_units(r).get(sku, 0))
        count = data.draw(st.integers(1, most), label="units")
        allowed = self.model.allowed(r, C.REJECT) and count <= self.model.open_units(r)[sku]
        expect = (
            None
            if allowed
            else (InvalidTransition if not self.model.allowed(r, C.REJECT) else InvalidInput)
        )
        done = self._call(
            keyed,
            lambda k: self.engine.reject(rid, {sku: count}, reason="short pick", key=k),
            lambda k: self.engine.reject(rid, {sku: count}, reason="x", key=k),
            expect,
        )
        if done is None:
            return
        r.open[sku] -= count
        self.model.on_hand[(r.location, sku)] -= count
        if not any(r.open.values()):
            r.state = S.RELEASED
        engine_r = self.engine.reservation(rid)
        if engine_r.order_id is not None:
            self._learn_resourced(engine_r.order_id)

    def _learn_resourced(self, order_id: str) -> None:
        view = self.engine.order(order_id)
        for new in view.reservation_ids:
            if new not in self.model.reservations:
                r = self.engine.reservation(new)
                assert r.state is S.CONFIRMED
                self.model.reservations[new] = ModelReservation(
                    new,
                    r.location,
                    r.channel,
                    r.mode,
                    S.CONFIRMED,
                    None,
                    dict(r.quantities),
                    dict(r.quantities),
                    r.destination,
                )

    # -- returns -------------------------------------------------------------------------------

    def _delivered(self, rid: str, gone: dict[str, int]) -> None:
        """Remember when units of an order reached the customer (they may come back)."""
        order_id = self.engine.reservation(rid).order_id
        if order_id is None:
            return
        for line in self.engine.order(order_id).lines:
            if any(x.reservation_id == rid for x in line.reservations) and gone.get(line.sku):
                batches = self.delivered.setdefault((order_id, line.line_id), [])
                batches.append((self.model.now, gone[line.sku]))

    def _returnable(self, order_line: tuple[str, str]) -> int:
        batches = self.delivered.get(order_line, [])
        fulfilled = sum(units for _, units in batches)
        recent = sum(units for when, units in batches if self.model.now < when + RETURNS.window)
        return max(0, min(recent, fulfilled - self.covered.get(order_line, 0)))

    @initialize(units=st.integers(min_value=1, max_value=3), sku=st.sampled_from(SKUS))
    def a_parcel_already_reached_a_customer(self, units: int, sku: str) -> None:
        """Every run starts with one delivered web order, so that returns have something to
        return from the first step."""
        self.engine.receive(WAREHOUSE, sku, units)
        self.model.on_hand[(WAREHOUSE, sku)] = units
        order = Order(
            "order-0", Channel.WEB, [OrderLine("1", sku, units, Decimal("10"), Ship(CUSTOMER))]
        )
        self._learn(order, self.engine.place_order(order), held=False)
        (rid,) = self._parcels()
        self._deliver(rid)

    def _deliver(self, rid: str) -> None:
        r = self.model.reservations[rid]
        assert self.engine.ship(rid).state is S.FULFILLED
        gone = dict(r.open)
        self.model.finish(r, S.FULFILLED, gone)
        self._delivered(rid, gone)

    def _parcels(self) -> list[str]:
        return sorted(
            rid
            for rid, r in self.model.reservations.items()
            if r.mode is Mode.SHIP and self.model.state(r) is S.CONFIRMED
        )

    @precondition(lambda self: bool(self._parcels()))
    @rule(data=st.data())
    def deliver_a_parcel(self, data: st.DataObject) -> None:
        """Ship a parcel that is ready to go (so that orders reach customers, and come back)."""
        self._deliver(data.draw(st.sampled_from(self._parcels()), label="parcel"))

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data(), keyed=st.booleans())
    def request_return(self, data: st.DataObject, keyed: bool) -> None:
        order_id, line_id = data.draw(st.sampled_from(sorted(self.delivered)), label="line")
        units = data.draw(st.integers(min_value=1, max_value=3), label="units")
        at = data.draw(st.sampled_from(LOCATIONS), label="at")
        channel = data.draw(st.sampled_from(Channel), label="channel")
        expect: type[OmniOrderError] | None = None
        if at == WAREHOUSE:
            expect = MissingCapability
        elif units > self._returnable((order_id, line_id)):
            expect = ReturnNotAllowed
        rma = self._call(
            keyed,
            lambda k: self.engine.request_return(
                order_id, {line_id: units}, at=at, channel=channel, key=k
            ),
            lambda k: self.engine.request_return(
                order_id, {line_id: units}, at=at, channel=channel, reason="other", key=k
            ),
            expect,
        )
        if rma is not None:
            assert rma.state is ReturnState.AUTHORIZED
            (line,) = rma.lines
            self.covered[(order_id, line_id)] = self.covered.get((order_id, line_id), 0) + units
            self.rmas[rma.id] = ModelReturn(
                order_id, line_id, line.sku, units, at, ReturnState.AUTHORIZED
            )

    @precondition(lambda self: bool(self.rmas))
    @rule(data=st.data(), keyed=st.booleans())
    def receive_return(self, data: st.DataObject, keyed: bool) -> None:
        rma_id = data.draw(st.sampled_from(sorted(self.rmas)), label="rma")
        condition = data.draw(st.sampled_from(Condition), label="condition")
        rma = self.rmas[rma_id]
        done = self._call(
            keyed,
            lambda k: self.engine.receive_return(rma_id, {rma.line_id: condition}, key=k),
            lambda k: self.engine.refund_return(rma_id, key=k),
            None if rma.state is ReturnState.AUTHORIZED else InvalidTransition,
        )
        if done is None:
            return
        rma.state = ReturnState.RECEIVED
        counter = RECEIPTS[condition]
        if counter is not None:
            stock = getattr(self.model, counter)
            stock[(rma.at, rma.sku)] = stock.get((rma.at, rma.sku), 0) + rma.units

    @precondition(lambda self: bool(self.rmas))
    @rule(data=st.data(), keyed=st.booleans())
    def refund_return(self, data: st.DataObject, keyed: bool) -> None:
        rma_id = data.draw(st.sampled_from(sorted(self.rmas)), label="rma")
        rma = self.rmas[rma_id]
        done = self._call(
            keyed,
            lambda k: self.engine.refund_return(rma_id, key=k),
            lambda k: self.engine.receive_return(rma_id, key=k),
            None if rma.state is ReturnState.RECEIVED else InvalidTransition,
        )
        if done is not None:
            rma.state = ReturnState.CLOSED

    @precondition(lambda self: any(self.model.quarantine.values()))
    @rule(data=st.data(), keyed=st.booleans())
    def resolve_quarantine(self, data: st.DataObject, keyed: bool) -> None:
        key = data.draw(
            st.sampled_from(sorted(k for k, v in self.model.quarantine.items() if v)),
            label="position",
        )
        units = data.draw(st.integers(min_value=1, max_value=3), label="units")
        restock = data.draw(st.booleans(), label="restock")
        disposition = Disposition.RESTOCK if restock else Disposition.WRITE_OFF
        done = self._call(
            keyed,
            lambda k: self.engine.resolve_quarantine(*key, units, disposition=disposition, key=k),
            lambda k: self.engine.resolve_quarantine(
                *key, units, disposition=disposition, reason="other", key=k
            ),
            None if units <= self.model.quarantine[key] else InsufficientStock,
        )
        if done is not None:
            self.model.quarantine[key] -= units
            if restock:
                self.model.on_hand[key] = self.model.on_hand.get(key, 0) + units

    @rule(keyed=st.booleans())
    def expire_due(self, keyed: bool) -> None:
        due = self.model.expire_due()
        expired = self._call(
            keyed,
            lambda k: self.engine.expire_due(key=k),
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            None,
        )
        ids = {r.id for r in expired}
        assert ids <= set(due), f"expired {ids - set(due)} too early"

    @rule(step=steps)
    def advance_clock(self, step: timedelta) -> None:
        self.model.now = self.clock.advance(step)

    # -- idempotency ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data())
    def replay_a_key(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keyed)), label="key")
        again, _, first = self.keyed[key]
        invariants.replayed(self.engine, again, first)

    @precondition(lambda self: bool(self.keyed))
    @rule(data=st.data())
    def reuse_a_key_for_another_request(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keyed)), label="key")
        _, other, _ = self.keyed[key]
        before = take_snapshot(self.store)
        try:
            other()
        except IdempotencyConflict as error:
            assert error.key == key
        else:
            raise AssertionError("a reused key with another request must conflict")
        invariants.unchanged(self.engine, before)

    @precondition(lambda self: bool(self.failed_keys))
    @rule(data=st.data())
    def a_failed_commands_key_is_free(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.failed_keys), label="key")
        self.failed_keys.remove(key)
        self.engine.receive(WAREHOUSE, "sku-a", 1, key=key)
        self.model.on_hand[(WAREHOUSE, "sku-a")] = (
            self.model.on_hand.get((WAREHOUSE, "sku-a"), 0) + 1
        )

    # -- bad input -----------------------------------------------------------------------------

    @rule(data=st.data())
    def bad_input(self, data: st.DataObject) -> None:
        e = self.engine
        q = data.draw(st.sampled_from(BAD_QUANTITIES), label="bad quantity")
        bad_id = data.draw(st.sampled_from(BAD_IDS), label="bad id")
        cases: list[tuple[Callable[[], Any], type[OmniOrderError]]] = [
            (lambda: e.receive(STORE_1, "sku-a", q), InvalidInput),  # type: ignore[arg-type]
            (lambda: e.receive(STORE_1, bad_id, 1), InvalidInput),  # type: ignore[arg-type]
            (lambda: e.receive("nowhere", "sku-a", 1), UnknownLocation),
            (lambda: e.adjust(STORE_1, "sku-a", to=-1, reason="x"), InvalidInput),
            (lambda: e.adjust(STORE_1, "sku-a", delta=0, reason="x"), InvalidInput),
            (lambda: e.adjust(STORE_1, "sku-a", delta=1, reason=""), InvalidInput),
            (lambda: e.set_safety_stock(STORE_1, "sku-a", -1), InvalidInput),
            (lambda: e.sell(WAREHOUSE, {"sku-a": 1}), MissingCapability),
            (lambda: e.sell(STORE_1, {"sku-a": q}), InvalidInput),  # type: ignore[dict-item]
            (lambda: e.sell(STORE_1, {}), InvalidInput),
            (lambda: e.reserve(STORE_1, {"sku-a": 1}, channel="fax"), InvalidInput),  # type: ignore[arg-type]
            (lambda: e.reserve(WAREHOUSE, {"sku-a": 1}, channel=Channel.WEB), MissingCapability),
            (
                lambda: e.reserve(STORE_1, {"sku-a": 1}, channel=Channel.WEB, ttl=timedelta(0)),
                InvalidInput,
            ),
            (
                lambda: e.reserve(
                    STORE_1, {"sku-a": 1}, channel=Channel.WEB, ttl=timedelta(days=8)
                ),
                InvalidInput,
            ),
            (lambda: e.extend("res-none", timedelta(minutes=1)), UnknownReservation),
            (lambda: e.confirm(bad_id), InvalidInput),  # type: ignore[arg-type]
            (lambda: e.release("res-none"), UnknownReservation),
            (lambda: e.receive(STORE_1, "sku-a", 1, key=bad_id or ""), InvalidInput),  # type: ignore[arg-type]
            (
                lambda: e.request_return("o-none", {"1": 1}, at=STORE_1, channel=Channel.WEB),
                UnknownOrder,
            ),
            (lambda: e.receive_return("rma-none"), UnknownReturn),
            (lambda: e.refund_return(bad_id), InvalidInput),  # type: ignore[arg-type]
            (
                lambda: e.resolve_quarantine(STORE_1, "sku-a", q, disposition=Disposition.RESTOCK),  # type: ignore[arg-type]
                InvalidInput,
            ),
        ]
        run, expected = data.draw(st.sampled_from(cases), label="case")
        before = take_snapshot(self.store)
        try:
            run()
        except expected:
            invariants.unchanged(self.engine, before)
        else:
            raise AssertionError(f"bad input accepted; expected {expected.__name__}")

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def promises_hold(self) -> None:
        invariants.all_state_promises(self.engine, SKUS)

    @invariant()
    def engine_agrees_with_the_model(self) -> None:
        for location in LOCATIONS:
            for sku in SKUS:
                key = (location, sku)
                p = self.engine.position(location, sku)
                assert p.counters() == (
                    self.model.on_hand.get(key, 0),
                    self.model.reserved(key),
                    self.model.committed(key),
                    self.model.safety.get(key, 0),
                    self.model.inbound.get(key, 0),
                    self.model.quarantine.get(key, 0),
                ), f"{p} but the model says {self.model}"
        for rma_id, rma in self.rmas.items():
            assert self.engine.return_authorization(rma_id).state is rma.state
        for rid, r in self.model.reservations.items():
            seen = self.engine.reservation(rid)
            assert seen.state is self.model.state(r), f"{rid}: {seen.state} vs {r}"
            assert seen.open_quantities == self.model.open_units(r)


def machine_for(
    make_store: Callable[[], Store], dispose: Callable[[Store], None], name: str
) -> type[EngineMachine]:
    """The machine class running against stores made by ``make_store``."""
    return type(
        name,
        (EngineMachine,),
        {"make_store": staticmethod(make_store), "dispose": staticmethod(dispose)},
    )
