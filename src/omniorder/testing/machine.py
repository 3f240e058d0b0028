"""The stateful specification: every engine command, driven by Hypothesis against a reference model.

After every step, the invariants of DESIGN §5 promises 1, 2, 3, 6, 7 and 8 hold, and the engine,
its outbox and :mod:`omniorder.testing.reference` tell the same story: every position's counters,
every channel's availability, every reservation (state, lines, deadline, location), every return
authorisation and refund, and the order views of the orders a step touched. Every command the
model says must fail raises its typed error and leaves a snapshot of the store unchanged (promise
4); keyed commands replay their first result and apply nothing twice, and a key reused for another
request conflicts (promise 5).

The machine is built to reach every state of every table often: each run starts from a shop with
stock everywhere (and a delivered parcel, a pickup waiting at a counter and a transfer on the
road); every reservation the engine makes (holds, orders, re-sourcing, arrivals) is in the model,
and each lifecycle rule draws only reservations in the state it needs (a precondition), while one
rule tries the commands the tables forbid. Quantities are drawn from what is available, so most
commands succeed and some fall just short. :func:`hypothesis.target` steers generation towards
runs that exercise more ``(state, command)`` pairs.

:func:`machine_for` builds the machine for any store, so the same specification runs against
every adapter. :class:`Tally` counts, per rule, how often its command succeeded and which typed
errors it raised (``benchmarks/mutants.py`` prints it); it costs nothing unless installed.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis import target
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

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
from omniorder.model.checks import MAX_QUANTITY
from omniorder.model.order import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    OrderView,
    Pickup,
    Ship,
    ShipToStore,
    mode_of,
)
from omniorder.model.reservation import SHIP_COMMANDS, Reservation
from omniorder.model.returns import RETURN_TABLE, Inspection, ReturnCommand
from omniorder.stores.base import Store
from omniorder.testing import invariants, take_snapshot
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network
from omniorder.testing.reference import (
    Declared,
    EventStory,
    LinePlan,
    Model,
    ModelOrder,
    ModelReservation,
    ModelReturn,
    cents_refund,
    fulfilment_origins,
)

__all__ = ["DECLARED", "EngineMachine", "Tally", "machine_for", "policy_for"]

SKUS = ["sku-a", "sku-b", "sku-c"]
CUSTOMER = Geo(53.80, -1.55)
LOCATIONS = [STORE_1, STORE_2, WAREHOUSE]
POSITIONS = [(location, sku) for location in LOCATIONS for sku in SKUS]
TILLS = [STORE_1, STORE_2]
SHIPPERS = [STORE_2, WAREHOUSE]
LANES_TO = {STORE_1: [STORE_2, WAREHOUSE], STORE_2: [WAREHOUSE]}
"""Where a transfer to each store can come from: the sample network's lanes."""
FULFILMENTS: list[Fulfilment] = [
    Ship(CUSTOMER),
    Pickup(STORE_1),
    Pickup(STORE_2),
    ShipToStore(STORE_1),
    ShipToStore(STORE_2),
]
ORIGINS = fulfilment_origins(SHIPPERS, LANES_TO)
PRICES = [Decimal("10"), Decimal("9.99"), Decimal("24.95"), Decimal("0.35")]
C = ReservationCommand
S = ReservationState

DECLARED = Declared(
    hold_ttl={
        Channel.WEB: timedelta(minutes=20),
        Channel.APP: timedelta(minutes=25),
        Channel.CALL_CENTER: timedelta(hours=6),
        Channel.STORE: timedelta(minutes=90),
        Channel.MARKETPLACE: timedelta(minutes=45),
    },
    pickup_window=timedelta(hours=26),
    return_window=timedelta(days=3),
    fees={
        Condition.SELLABLE: Decimal(0),
        Condition.DAMAGED: Decimal("0.15"),
        Condition.DEFECTIVE: Decimal("0.4"),
    },
    receipts={
        Condition.SELLABLE: "on_hand",
        Condition.DAMAGED: "quarantine",
        Condition.DEFECTIVE: None,
    },
)
"""The machine's own settings, none of them the library's defaults: the model predicts from these,
never from ``engine.policy``. Each run picks whether backorders and manual review are on."""

DISPOSITIONS = {
    Condition.SELLABLE: Disposition.RESTOCK,
    Condition.DAMAGED: Disposition.QUARANTINE,
    Condition.DEFECTIVE: Disposition.WRITE_OFF,
}
"""What the machine's return policy does with each condition (see ``DECLARED.receipts``)."""


def policy_for(declared: Declared) -> Policy:
    """The engine's :class:`~omniorder.Policy` for the settings the machine declares."""
    return Policy(
        hold_ttl=dict[Channel | str, timedelta](declared.hold_ttl.items()),
        pickup_window=declared.pickup_window,
        backorders=declared.backorders,
        returns=ReturnPolicy(
            window=declared.return_window,
            manual_review=declared.manual_review,
            dispositions=DISPOSITIONS,
            restocking_fee=dict(declared.fees),
        ),
    )


TTLS = [None, timedelta(minutes=5), timedelta(minutes=20), timedelta(hours=2), timedelta(days=1)]
EXTENSIONS = [timedelta(minutes=10), timedelta(minutes=20), timedelta(hours=5)]
WINDOWS = [None, timedelta(hours=1), timedelta(days=2)]
STEPS = [
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
BAD_QUANTITIES = [0, -1, True, 1.0, "1", None, 2**63]
BAD_IDS = ["", "   ", " x", "a\nb", "x" * 201, 7, None]


class Tally:
    """Per rule, how often its command succeeded and which typed errors it raised.

    Install one on a machine class (``machine.tally = Tally()``) before running it; the
    machine records each command it runs through its checks under the rule that ran it.
    """

    def __init__(self) -> None:
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, rule: str, outcome: str) -> None:
        """Count ``outcome`` ("ok" or an error's class name) for ``rule``."""
        self.counts[rule][outcome] += 1

    def rows(self) -> list[tuple[str, int, str]]:
        """``(rule, successes, "error count, ...")`` per rule, by rule name."""
        found = []
        for name in sorted(self.counts):
            outcomes = Counter(self.counts[name])
            ok = outcomes.pop("ok", 0)
            errors = ", ".join(f"{error} {n}" for error, n in sorted(outcomes.items()))
            found.append((name, ok, errors))
        return found


def _rule_names(cls: type[RuleBasedStateMachine]) -> frozenset[str]:
    state = cls.setup_state()
    return frozenset(r.function.__name__ for r in [*state.rules, *state.initializers])


class EngineMachine(RuleBasedStateMachine):
    """Drives one engine and the reference model with the same commands."""

    make_store: Callable[[], Store]
    dispose: Callable[[Store], None]
    tally: ClassVar[Tally | None] = None
    """Counts command outcomes per rule when set (see :class:`Tally`)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.store = self.make_store()
        self.ids = itertools.count(1)
        self.declared = DECLARED
        self.engine = self._engine()
        self.model = Model(START, DECLARED)
        self.story = EventStory()
        self.keys = itertools.count(1)
        # key -> (replay the same request, a different request, the first result)
        self.keyed: dict[str, tuple[Callable[[], Any], Callable[[], Any], Any]] = {}
        self.failed_keys: list[str] = []
        self.touched: set[str] = set()  # orders a step changed: their views are compared
        self.reached: set[tuple[str, str]] = set()  # (state, command) pairs that succeeded

    def _engine(self) -> Engine:
        return Engine(
            sample_network(),
            store=self.store,
            clock=self.clock,
            ids=lambda prefix: f"{prefix}-{next(self.ids)}",
            policy=policy_for(self.declared),
        )

    def teardown(self) -> None:
        try:
            if sys.exc_info()[1] is None:  # the run passed: check what steps do not read
                target(float(len(self.reached)), label="(state, command) pairs that succeeded")
                assert self.engine.verify() == []
                for order_id in self.model.orders:
                    self._compare_order(order_id)
        finally:
            self.dispose(self.store)

    # -- helpers -------------------------------------------------------------------------------

    def _rule(self) -> str:
        names = _rule_names(type(self))
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_name not in names:
            frame = frame.f_back  # type: ignore[assignment]
        return frame.f_code.co_name if frame is not None else "?"

    def _count(self, outcome: str) -> None:
        if self.tally is not None:
            self.tally.record(self._rule(), outcome)

    def _call(
        self,
        keyed: bool,
        run: Callable[[str | None], Any],
        other: Callable[[str], Any],
        expect: type[OmniOrderError] | None,
        check: Callable[[Any], None] | None = None,
    ) -> Any:
        """Run a command (keyed or not). With ``expect``, assert that it raises that error
        (checked by ``check``) and changes nothing; return None then, else its result."""
        key = f"key-{next(self.keys)}" if keyed else None
        if expect is not None:
            before = take_snapshot(self.store)
            try:
                result = run(key)
            except expect as error:
                self._count(type(error).__name__)
                invariants.unchanged(self.engine, before)
                if check is not None:
                    check(error)
                if key is not None:
                    self.failed_keys.append(key)
                return None
            raise AssertionError(f"expected {expect.__name__}; the command returned {result!r}")
        try:
            result = run(key)
        except OmniOrderError as error:
            self._count(type(error).__name__)
            raise
        self._count("ok")
        if key is not None:
            self.keyed[key] = (lambda: run(key), lambda: other(key), result)
        return result

    def _pick(self, data: st.DataObject, ids: list[str], label: str) -> ModelReservation:
        return self.model.reservations[data.draw(st.sampled_from(ids), label=label)]

    def _lines(
        self, data: st.DataObject, location: str, channel: Channel, most: int = 3
    ) -> dict[str, int]:
        """Lines for ``location`` sized to what ``channel`` may take there: mostly enough,
        sometimes one unit too many."""
        skus = data.draw(
            st.lists(st.sampled_from(SKUS), min_size=1, max_size=most, unique=True), label="skus"
        )
        lines = {}
        for sku in skus:
            free = self.model.available((location, sku), channel)
            lines[sku] = data.draw(st.integers(1, max(1, min(free + 1, 4))), label=sku)
        return lines

    def _reached(self, state: ReservationState, command: ReservationCommand) -> None:
        self.reached.add((state.value, command.value))

    # -- stock administration ------------------------------------------------------------------

    @initialize(
        stock=st.lists(st.integers(6, 16), min_size=len(POSITIONS), max_size=len(POSITIONS)),
        safety=st.lists(st.integers(0, 2), min_size=len(POSITIONS), max_size=len(POSITIONS)),
        backorders=st.booleans(),
        manual_review=st.booleans(),
        data=st.data(),
    )
    def a_shop_open_for_business(
        self,
        stock: list[int],
        safety: list[int],
        backorders: bool,
        manual_review: bool,
        data: st.DataObject,
    ) -> None:
        """Every run starts from the same kind of day, set up in this order (one initialiser,
        so the policy is declared before anything is sold under it): stock everywhere, a
        delivered parcel with returns, and orders in flight."""
        self._a_shop_with_stock(stock, safety, backorders, manual_review)
        self._a_parcel_already_reached_a_customer(
            data.draw(st.integers(min_value=3, max_value=5), label="parcel units"),
            data.draw(st.sampled_from(SKUS), label="parcel sku"),
            data.draw(st.sampled_from(PRICES), label="parcel price"),
            data.draw(st.integers(min_value=1, max_value=2), label="units to return"),
        )
        self._orders_in_flight(
            data.draw(st.permutations(SKUS), label="skus in flight"),
            data.draw(st.integers(min_value=1, max_value=3), label="units in flight"),
        )

    def _a_shop_with_stock(
        self, stock: list[int], safety: list[int], backorders: bool, manual_review: bool
    ) -> None:
        """Every position starts with stock (some with a safety stock), under one of the four
        policies the machine declares."""
        self.declared = dataclasses.replace(
            DECLARED, backorders=backorders, manual_review=manual_review
        )
        self.engine = self._engine()
        self.model.declared = self.declared
        for key, units, buffer in zip(POSITIONS, stock, safety, strict=True):
            self.engine.receive(*key, units)
            self.model.on_hand[key] = self.model.on_hand.get(key, 0) + units
            if buffer:
                self.engine.set_safety_stock(*key, buffer)
                self.model.safety[key] = buffer

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        quantity=st.integers(min_value=1, max_value=6),
        keyed=st.booleans(),
    )
    def receive(self, location: str, sku: str, quantity: int, keyed: bool) -> None:
        after = self._call(
            keyed,
            lambda k: self.engine.receive(location, sku, quantity, key=k),
            lambda k: self.engine.receive(location, sku, quantity + 1, key=k),
            None,
        )
        self.model.on_hand[(location, sku)] = self.model.on_hand.get((location, sku), 0) + quantity
        assert after.on_hand == self.model.on_hand[(location, sku)]

    @rule(
        location=st.sampled_from(LOCATIONS),
        sku=st.sampled_from(SKUS),
        change=st.integers(min_value=-5, max_value=5).filter(bool),
        absolute=st.booleans(),
        edge=st.sampled_from([None, None, -1, 0]),
        keyed=st.booleans(),
    )
    def adjust(
        self, location: str, sku: str, change: int, absolute: bool, edge: int | None, keyed: bool
    ) -> None:
        """A stock count or correction; ``edge`` takes on_hand to just below (-1) or exactly
        (0) what is held and committed there."""
        key_ = (location, sku)
        on_hand = self.model.on_hand.get(key_, 0)
        if edge is not None:
            change = self.model.reserved(key_) + self.model.committed(key_) + edge - on_hand
            if change == 0:
                return
        target_ = max(0, on_hand + change) if absolute else on_hand + change
        if absolute and target_ == on_hand:
            target_ = on_hand + 1
        if target_ < 0:
            return  # a negative `to` is bad input, covered by bad_input
        held = self.model.reserved(key_) + self.model.committed(key_)
        expect = InsufficientStock if target_ < held else None

        def run(k: str | None) -> Any:
            if absolute:
                return self.engine.adjust(location, sku, to=target_, reason="count", key=k)
            return self.engine.adjust(location, sku, delta=change, reason="count", key=k)

        after = self._call(
            keyed,
            run,
            lambda k: self.engine.adjust(location, sku, to=target_ + 1, reason="x", key=k),
            expect,
        )
        if after is not None:
            self.model.on_hand[key_] = target_
            assert after.on_hand == target_

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

    @rule(
        data=st.data(), channel=st.sampled_from([Channel.STORE, Channel.WEB]), keyed=st.booleans()
    )
    def sell(self, data: st.DataObject, channel: Channel, keyed: bool) -> None:
        """A walk-in sale at a till (booked in the store's channel, or the web's)."""
        location = data.draw(st.sampled_from(TILLS), label="till")
        lines = self._lines(data, location, channel)
        short = self.model.shortfalls(location, lines, channel)

        def check(error: InsufficientStock) -> None:
            got = [(s.sku, s.location, s.requested, s.available) for s in error.lines]
            assert got == short, f"{got} but the model says {short}"

        sale = self._call(
            keyed,
            lambda k: self.engine.sell(location, lines, channel=channel, key=k),
            lambda k: self.engine.sell(location, {"sku-z": 1}, key=k),
            InsufficientStock if short else None,
            check,
        )
        if sale is not None:
            assert {x.sku: x.quantity for x in sale.lines} == lines
            for sku, quantity in lines.items():
                self.model.on_hand[(location, sku)] -= quantity

    # -- holds and their lifecycle -------------------------------------------------------------

    @rule(data=st.data(), channel=st.sampled_from(Channel), ttl=st.sampled_from(TTLS))
    def reserve(self, data: st.DataObject, channel: Channel, ttl: timedelta | None) -> None:
        mode = data.draw(st.sampled_from(Mode), label="mode")
        places = {Mode.PICKUP: TILLS, Mode.SHIP: SHIPPERS, Mode.TRANSFER: [STORE_2, WAREHOUSE]}
        location = data.draw(st.sampled_from(places[mode]), label="location")
        to = None
        if mode is Mode.TRANSFER:
            stores = [s for s, origins in LANES_TO.items() if location in origins]
            to = data.draw(st.sampled_from(stores), label="destination")
        lines = self._lines(data, location, channel)
        keyed = data.draw(st.booleans(), label="keyed")
        short = self.model.shortfalls(location, lines, channel)

        def check(error: InsufficientStock) -> None:
            got = [(s.sku, s.location, s.requested, s.available) for s in error.lines]
            assert got == short, f"{got} but the model says {short}"

        made = self._call(
            keyed,
            lambda k: self.engine.reserve(
                location, lines, channel=channel, ttl=ttl, mode=mode, destination=to, key=k
            ),
            lambda k: self.engine.reserve(
                location, lines, channel=channel, mode=mode, destination=to, order_id="x", key=k
            ),
            InsufficientStock if short else None,
            check,
        )
        if made is None:
            return
        self.model.add(
            ModelReservation(
                made.id,
                location,
                channel,
                mode,
                S.HELD,
                self.model.now + self.model.hold_lifetime(channel, ttl),
                dict(lines),
                destination=to,
            )
        )
        self._reached(S.HELD, C.RESERVE)

    @precondition(lambda self: bool(self.model.live(S.HELD)))
    @rule(data=st.data(), ttl=st.sampled_from(EXTENSIONS), keyed=st.booleans())
    def extend_a_hold(self, data: st.DataObject, ttl: timedelta, keyed: bool) -> None:
        r = self._pick(data, self.model.live(S.HELD), "hold")
        done = self._call(
            keyed,
            lambda k: self.engine.extend(r.id, ttl, key=k),
            lambda k: self.engine.extend(r.id, ttl * 2, key=k),
            None,
        )
        r.expires_at = self.model.now + ttl
        assert done.expires_at == r.expires_at, f"extended to {done.expires_at}, not {r}"
        self._reached(S.HELD, C.EXTEND)

    @precondition(lambda self: bool(self.model.live(S.HELD)))
    @rule(data=st.data(), keyed=st.booleans())
    def confirm_a_hold(self, data: st.DataObject, keyed: bool) -> None:
        """Any hold, a held order's too: the order keeps those units when it is held again or
        placed (see ``confirm_part_of_a_held_order``)."""
        self._confirm(self._pick(data, self.model.live(S.HELD), "hold"), keyed)

    def _held_orders_holds(self) -> list[str]:
        held = set(self._orders(OrderStatus.HELD))
        return [
            rid for rid in self.model.live(S.HELD) if self.model.reservations[rid].order_id in held
        ]

    @precondition(lambda self: bool(self._held_orders_holds()))
    @rule(data=st.data(), keyed=st.booleans())
    def confirm_part_of_a_held_order(self, data: st.DataObject, keyed: bool) -> None:
        """A call-centre agent confirms one store's part of a cart before the customer pays:
        holding the order again or placing it (its cart changed or not) keeps those units on
        their line, and a cart below them is refused."""
        self._confirm(self._pick(data, self._held_orders_holds(), "hold of a held order"), keyed)

    def _confirm(self, r: ModelReservation, keyed: bool) -> None:
        done = self._call(
            keyed,
            lambda k: self.engine.confirm(r.id, key=k),
            lambda k: self.engine.release(r.id, key=k),
            None,
        )
        self.model.confirm(r)
        assert done.state is S.CONFIRMED
        self._reached(S.HELD, C.CONFIRM)
        self._touch(r)

    def _release(self, data: st.DataObject, state: ReservationState, keyed: bool) -> None:
        r = self._pick(data, self.model.live(state), state.value.lower())
        done = self._call(
            keyed,
            lambda k: self.engine.release(r.id, reason="changed mind", key=k),
            lambda k: self.engine.release(r.id, reason="other", key=k),
            None,
        )
        self.model.give_back(r, S.RELEASED)
        assert done.state is S.RELEASED
        self._reached(state, C.RELEASE)
        self._touch(r)

    @precondition(lambda self: bool(self.model.live(S.HELD)))
    @rule(data=st.data(), keyed=st.booleans())
    def release_a_hold(self, data: st.DataObject, keyed: bool) -> None:
        self._release(data, S.HELD, keyed)

    @precondition(lambda self: bool(self.model.live(S.CONFIRMED)))
    @rule(data=st.data(), keyed=st.booleans())
    def release_a_commitment(self, data: st.DataObject, keyed: bool) -> None:
        self._release(data, S.CONFIRMED, keyed)

    @precondition(lambda self: bool(self.model.live(S.READY)))
    @rule(data=st.data(), keyed=st.booleans())
    def release_a_pickup(self, data: st.DataObject, keyed: bool) -> None:
        self._release(data, S.READY, keyed)

    @precondition(lambda self: bool(self.model.live(S.CONFIRMED, mode=Mode.PICKUP)))
    @rule(data=st.data(), window=st.sampled_from(WINDOWS), keyed=st.booleans())
    def mark_ready(self, data: st.DataObject, window: timedelta | None, keyed: bool) -> None:
        r = self._pick(data, self.model.live(S.CONFIRMED, mode=Mode.PICKUP), "pickup")
        done = self._call(
            keyed,
            lambda k: self.engine.mark_ready(r.id, pickup_window=window, key=k),
            lambda k: self.engine.mark_ready(r.id, pickup_window=timedelta(minutes=7), key=k),
            None,
        )
        self.model.mark_ready(r, window)
        assert done.state is S.READY
        assert done.expires_at == r.expires_at, f"ready until {done.expires_at}, not {r}"
        self._reached(S.CONFIRMED, C.MARK_READY)

    def _collectable(self) -> list[str]:
        return [
            rid
            for rid in self.model.live(S.READY)
            if self.model.allowed(self.model.reservations[rid], C.COLLECT)
        ]

    @precondition(lambda self: bool(self._collectable()))
    @rule(data=st.data(), keyed=st.booleans())
    def collect(self, data: st.DataObject, keyed: bool) -> None:
        """The customer collects all or part of a READY pickup, at its counter or another; at
        the pickup deadline the counter refuses: it is a no-show."""
        r = self._pick(data, self._collectable(), "pickup")
        self._perhaps_at(data, r.expires_at)
        late = not self.model.allowed(r, C.COLLECT)
        taken: dict[str, int] | None = None
        if data.draw(st.booleans(), label="partial"):
            taken = {
                sku: data.draw(st.integers(min_value=1, max_value=q), label=sku)
                for sku, q in r.open.items()
                if q and data.draw(st.booleans(), label=f"take {sku}")
            } or None
        at = data.draw(st.sampled_from([None, r.location, *TILLS]), label="at the counter of")
        wrong = at is not None and at != r.location
        done = self._call(
            keyed,
            lambda k: self.engine.collect(r.id, taken, at=at, key=k),
            lambda k: self.engine.release(r.id, key=k),
            InvalidTransition if late else WrongLocation if wrong else None,
        )
        if done is None:
            return
        expected = dict(r.open) if taken is None else taken
        self.model.fulfil(r, expected)
        assert {x.sku: x.fulfilled for x in done.lines} == r.fulfilled, (done, r)
        self._reached(S.READY, C.COLLECT)
        self._touch(r)

    @precondition(lambda self: bool(self.model.live(S.CONFIRMED, mode=Mode.SHIP)))
    @rule(data=st.data(), keyed=st.booleans())
    def ship_a_parcel(self, data: st.DataObject, keyed: bool) -> None:
        r = self._pick(data, self.model.live(S.CONFIRMED, mode=Mode.SHIP), "parcel")
        self._ship(r, keyed)

    def _ship(self, r: ModelReservation, keyed: bool) -> None:
        done = self._call(
            keyed,
            lambda k: self.engine.ship(r.id, key=k),
            lambda k: self.engine.confirm(r.id, key=k),
            None,
        )
        self.model.fulfil(r, r.open)
        assert done.state is S.FULFILLED
        self._reached(S.CONFIRMED, C.SHIP)
        self._touch(r)

    @precondition(lambda self: bool(self.model.live(S.CONFIRMED, mode=Mode.TRANSFER)))
    @rule(data=st.data(), keyed=st.booleans())
    def dispatch_a_transfer(self, data: st.DataObject, keyed: bool) -> None:
        r = self._pick(data, self.model.live(S.CONFIRMED, mode=Mode.TRANSFER), "transfer")
        done = self._call(
            keyed,
            lambda k: self.engine.ship(r.id, key=k),
            lambda k: self.engine.arrive(r.id, key=k),
            None,
        )
        self.model.dispatch(r)
        assert done.state is S.IN_TRANSIT
        self._reached(S.CONFIRMED, C.DISPATCH)
        self._touch(r)

    @precondition(lambda self: bool(self.model.live(S.IN_TRANSIT)))
    @rule(data=st.data(), window=st.sampled_from(WINDOWS), keyed=st.booleans())
    def arrive(self, data: st.DataObject, window: timedelta | None, keyed: bool) -> None:
        r = self._pick(data, self.model.live(S.IN_TRANSIT), "transfer")
        ready = self._call(
            keyed,
            lambda k: self.engine.arrive(r.id, pickup_window=window, key=k),
            lambda k: self.engine.arrive(r.id, pickup_window=timedelta(minutes=9), key=k),
            None,
        )
        self.model.arrive(r, ready.id, window)
        waiting = self.model.reservations[ready.id]
        assert ready.expires_at == waiting.expires_at, f"ready until {ready.expires_at}"
        self._reached(S.IN_TRANSIT, C.ARRIVE)
        self._touch(r)

    @precondition(lambda self: bool(self.model.live(S.CONFIRMED)))
    @rule(data=st.data(), keyed=st.booleans())
    def reject(self, data: st.DataObject, keyed: bool) -> None:
        """A short pick: some units of a CONFIRMED reservation are not there; an order's units
        are sourced again elsewhere or backordered."""
        r = self._pick(data, self.model.live(S.CONFIRMED), "commitment")
        sku = data.draw(st.sampled_from(sorted(s for s, n in r.open.items() if n)), label="sku")
        count = data.draw(st.integers(1, r.open[sku] + 1), label="units")
        trial = copy.deepcopy(self.model)
        placed: list[tuple[LinePlan, Fulfilment]] = []
        if count <= r.open[sku]:
            trial.reject(trial.reservations[r.id], sku, count)
            placed = self._resourcing(trial, r, sku, count)
        done = self._call(
            keyed,
            lambda k: self.engine.reject(r.id, {sku: count}, reason="short pick", key=k),
            lambda k: self.engine.reject(r.id, {sku: count}, reason="x", key=k),
            None if count <= r.open[sku] else InvalidInput,
        )
        if done is None:
            return
        if r.order_id is not None and r.order_id in trial.orders:
            view = self.engine.order(r.order_id)
            self._learn(trial, trial.orders[r.order_id].order, view, [p for p, _ in placed], None)
        self.model = trial
        after = trial.reservations[r.id]
        assert {x.sku: x.released for x in done.lines} == {
            sku: after.released.get(sku, 0) for sku in after.lines
        }
        self._reached(S.CONFIRMED, C.REJECT)
        self._touch(r)

    def _resourcing(
        self, trial: Model, r: ModelReservation, sku: str, units: int
    ) -> list[tuple[LinePlan, Fulfilment]]:
        """Predict the re-sourcing of a short pick in ``trial``: the line's other origin, or a
        backorder (every line of the machine's network has at most one other origin)."""
        mo = trial.orders.get(r.order_id or "")
        if mo is None:
            return []
        line = next(
            mo.order.line(lid)
            for lid, rid in mo.sourcing
            if rid == r.id and mo.order.line(lid).sku == sku
        )
        rest = _with_quantity(line, units)
        (plan,) = trial.plan([rest], mo.order.channel, ORIGINS, exclude=r.location)
        assert plan.exact is not None, plan
        if plan.fill:
            mo.resourced[line.id] = mo.resourced.get(line.id, 0) + plan.fill
        if plan.short:
            mo.backordered[line.id] = mo.backordered.get(line.id, 0) + plan.short
        return [(plan, line.fulfilment)]

    def _illegal_commands(self, r: ModelReservation) -> list[ReservationCommand]:
        commands = [C.EXTEND, C.CONFIRM, C.MARK_READY, C.COLLECT, C.RELEASE, C.REJECT, C.ARRIVE]
        commands.append(SHIP_COMMANDS[r.mode])
        return [c for c in commands if not self.model.allowed(r, c)]

    @precondition(lambda self: bool(self.model.reservations))
    @rule(data=st.data())
    def a_forbidden_command_changes_nothing(self, data: st.DataObject) -> None:
        """A command the tables (or a mode, or a deadline) forbid raises InvalidTransition and
        changes nothing: on a reservation, a return authorisation or a placed order."""
        kinds = ["reservation"] * 3
        kinds += ["return"] if self.model.returns else []
        kinds += ["order"] if self._orders(OrderStatus.PLACED) else []
        kind = data.draw(st.sampled_from(kinds), label="on")
        if kind == "return":
            self._forbidden_return(data)
        elif kind == "order":
            self._forbidden_order(data)
        else:
            self._forbidden_transition(data)

    def _forbidden_transition(self, data: st.DataObject) -> None:
        r = self._pick(data, sorted(self.model.reservations), "reservation")
        command = data.draw(st.sampled_from(self._illegal_commands(r)), label="command")
        sku = sorted(r.lines)[0]
        runs: dict[ReservationCommand, Callable[[], Any]] = {
            C.EXTEND: lambda: self.engine.extend(r.id, timedelta(minutes=10)),
            C.CONFIRM: lambda: self.engine.confirm(r.id),
            C.MARK_READY: lambda: self.engine.mark_ready(r.id),
            C.COLLECT: lambda: self.engine.collect(r.id),
            C.RELEASE: lambda: self.engine.release(r.id),
            C.REJECT: lambda: self.engine.reject(r.id, {sku: 1}, reason="short"),
            C.ARRIVE: lambda: self.engine.arrive(r.id),
            C.SHIP: lambda: self.engine.ship(r.id),
            C.DISPATCH: lambda: self.engine.ship(r.id),
        }

        def check(error: InvalidTransition) -> None:
            assert error.command == command.value, (error.command, command)

        self._call(False, lambda _: runs[command](), lambda _: None, InvalidTransition, check)

    @rule(keyed=st.booleans())
    def expire_due(self, keyed: bool) -> None:
        """The sweep expires exactly the due holds and no-shows not swept yet, by deadline."""
        due = self.model.due()
        stored = self.story.states
        waiting = [r.id for r in due if stored.get(r.id) in (S.HELD, S.READY)]
        expired = self._call(
            keyed,
            lambda k: self.engine.expire_due(key=k),
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            None,
        )
        assert [r.id for r in expired] == waiting, f"expired {expired}; due: {waiting}"
        for r in due:
            self._reached(r.state, C.EXPIRE)
            self._touch(r)
        self.model.expire_due()

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        """The clock moves on by a step, or to a hold's expiry, a pickup deadline or the end of
        a return window exactly (or a minute before): where off-by-one mistakes show."""
        deadlines = self._deadlines()
        to_deadline = bool(deadlines) and data.draw(st.booleans(), label="to a deadline")
        if to_deadline:
            deadline = data.draw(st.sampled_from(deadlines), label="deadline")
            early = data.draw(st.sampled_from([timedelta(0), timedelta(minutes=1)]), label="early")
            step = max(timedelta(0), deadline - early - self.model.now)
        else:
            step = data.draw(st.sampled_from(STEPS), label="step")
        self.model.now = self.clock.advance(step)

    def _perhaps_at(self, data: st.DataObject, deadline: datetime | None) -> None:
        """Sometimes move the clock to ``deadline`` exactly before a command that the deadline
        decides, so that its boundary is tried often (``time_passes`` seldom lands on it just
        before such a command)."""
        if deadline is None or deadline <= self.model.now:
            return
        if data.draw(st.integers(0, 5), label="to its deadline") == 0:
            self.model.now = self.clock.advance(deadline - self.model.now)

    def _deadlines(self) -> list[Any]:
        deadlines = [
            r.expires_at
            for r in self.model.reservations.values()
            if r.state in (S.HELD, S.READY) and r.expires_at is not None
        ]
        deadlines += [
            r.fulfilled_at + self.declared.return_window
            for r in self.model.reservations.values()
            if r.fulfilled_at is not None
        ]
        return sorted(d for d in deadlines if d > self.model.now)

    @rule(data=st.data())
    def pickup_options(self, data: st.DataObject) -> None:
        channel = data.draw(st.sampled_from(Channel), label="channel")
        lines = self._lines(data, STORE_2, channel)
        found = self.engine.pickup_options(lines, near=CUSTOMER, channel=channel)
        able = [
            store
            for store in (STORE_2, STORE_1)  # Leeds is nearer the customer
            if all(
                self.model.available((store, sku), channel) >= units for sku, units in lines.items()
            )
        ]
        assert found == able

    # -- orders ----------------------------------------------------------------------------------

    def _touch(self, r: ModelReservation) -> None:
        if r.order_id is not None and r.order_id in self.model.orders:
            self.touched.add(r.order_id)

    def _new_order(self, data: st.DataObject) -> Order:
        skus = data.draw(
            st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True), label="skus"
        )
        channel = data.draw(st.sampled_from(Channel), label="channel")
        lines = []
        for n, sku in enumerate(skus, start=1):
            where = data.draw(st.sampled_from(FULFILMENTS), label=f"fulfilment {n}")
            line = OrderLine(str(n), sku, 1, data.draw(st.sampled_from(PRICES)), where)
            (plan,) = self.model.plan([line], channel, ORIGINS)
            most = max(1, min(sum(plan.available.values()) + 1, 4))
            lines.append(_with_quantity(line, data.draw(st.integers(1, most), label=f"units {n}")))
        return Order(f"order-{next(self.keys)}", channel, lines)

    def _shortfalls_check(
        self, order: Order, plans: list[LinePlan]
    ) -> Callable[[InsufficientStock], None]:
        def check(error: InsufficientStock) -> None:
            got = {s.sku: (s.location, s.requested, s.available) for s in error.lines}
            short = {p.line.sku: p for p in plans if p.short}
            assert set(got) == set(short), (got, short)
            for sku, p in short.items():
                if isinstance(p.line.fulfilment, Ship):
                    assert got[sku] == ("*", p.line.quantity, p.fill), (got[sku], p)
                elif isinstance(p.line.fulfilment, Pickup):
                    assert got[sku] == (p.line.fulfilment.at, p.line.quantity, p.fill), got[sku]

        return check

    def _learn(
        self,
        trial: Model,
        order: Order,
        view: OrderView,
        plans: list[LinePlan],
        held_for: timedelta | None,
    ) -> list[str]:
        """Add the reservations the engine just made for ``plans`` to ``trial``, checking each
        against the prediction: single-origin lines exactly, others within what each origin
        could give; state, deadline, mode, destination and channel always."""
        mo = trial.orders[order.id]
        new = [rid for rid in view.reservation_ids if rid not in trial.reservations]
        made = {rid: self.engine.reservation(rid) for rid in new}
        by_sku = {p.line.sku: p for p in plans}
        got: dict[str, dict[str, int]] = {p.line.sku: {} for p in plans}
        for r in made.values():
            for sku, units in r.quantities.items():
                assert sku in by_sku, f"{r.id} holds {sku}, which no planned line asked for"
                got[sku][r.location] = got[sku].get(r.location, 0) + units
        for sku, p in by_sku.items():
            assert sum(got[sku].values()) == p.fill, (got[sku], p)
            if p.exact is not None:
                assert got[sku] == p.exact, (got[sku], p)
            for location, units in got[sku].items():
                assert units <= p.available.get(location, 0), (location, units, p)
        for rid, r in made.items():
            line = by_sku[next(iter(r.quantities))].line
            fulfilment = line.fulfilment
            trial.add(
                ModelReservation(
                    rid,
                    r.location,
                    order.channel,
                    mode_of(fulfilment),
                    S.CONFIRMED if held_for is None else S.HELD,
                    None if held_for is None else trial.now + held_for,
                    dict(r.quantities),
                    destination=fulfilment.at if isinstance(fulfilment, ShipToStore) else None,
                    order_id=order.id,
                )
            )
            for sku in r.quantities:
                mo.sourcing.append((by_sku[sku].line.id, rid))
        return new

    def _order_command(
        self,
        keyed: bool,
        trial: Model,
        order: Order,
        plans: list[LinePlan],
        run: Callable[[str | None], OrderView],
        held_for: timedelta | None,
        *,
        may_backorder: bool,
    ) -> bool:
        short = any(p.short for p in plans)
        expect = InsufficientStock if short and not may_backorder else None
        view = self._call(
            keyed,
            run,
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            expect,
            self._shortfalls_check(order, plans),
        )
        if view is None:
            return False
        mo = trial.orders[order.id]
        for p in plans:
            if p.short:
                mo.backordered[p.line.id] = mo.backordered.get(p.line.id, 0) + p.short
        self._learn(trial, order, view, plans, held_for)
        self.model = trial
        self.touched.add(order.id)
        assert view.status is mo.status
        return True

    @rule(data=st.data(), keyed=st.booleans())
    def place_order(self, data: st.DataObject, keyed: bool) -> None:
        order = self._new_order(data)
        trial = copy.deepcopy(self.model)
        trial.orders[order.id] = ModelOrder(order, OrderStatus.PLACED)
        plans = trial.plan(order.lines, order.channel, ORIGINS)
        if self._order_command(
            keyed,
            trial,
            order,
            plans,
            lambda k: self.engine.place_order(order, key=k),
            None,
            may_backorder=self.declared.backorders,
        ):
            self._reached(S.CONFIRMED, C.PLACE)

    @rule(data=st.data(), ttl=st.sampled_from(TTLS), keyed=st.booleans())
    def hold_order(self, data: st.DataObject, ttl: timedelta | None, keyed: bool) -> None:
        self._hold(self._new_order(data), ttl, keyed)

    def _hold(self, order: Order, ttl: timedelta | None, keyed: bool) -> None:
        trial = copy.deepcopy(self.model)
        covered: dict[str, int] = {}
        if order.id in trial.orders:
            carried = _carried(trial, trial.orders[order.id], order)
            if carried is None:
                self._below_what_is_sold(keyed, lambda k: self.engine.hold_order(order, key=k))
                return
            kept, covered, resourced = carried
            for r in trial.live_holds(order.id):
                trial.give_back(r, S.RELEASED)
            trial.orders[order.id] = ModelOrder(order, OrderStatus.HELD, kept, {}, resourced)
        else:
            trial.orders[order.id] = ModelOrder(order, OrderStatus.HELD)
        plans = trial.plan(_uncovered(order, covered), order.channel, ORIGINS)
        self._order_command(
            keyed,
            trial,
            order,
            plans,
            lambda k: self.engine.hold_order(order, ttl=ttl, key=k),
            trial.hold_lifetime(order.channel, ttl),
            may_backorder=False,
        )

    def _orders(self, status: OrderStatus) -> list[str]:
        return sorted(oid for oid, mo in self.model.orders.items() if mo.status is status)

    @precondition(lambda self: bool(self._orders(OrderStatus.HELD)))
    @rule(data=st.data(), ttl=st.sampled_from(TTLS), changed=st.booleans(), keyed=st.booleans())
    def hold_a_held_order_again(
        self, data: st.DataObject, ttl: timedelta | None, changed: bool, keyed: bool
    ) -> None:
        """Holding an order again releases its live holds and holds afresh what its sold
        reservations do not cover; a cart below what is sold is refused."""
        order = self.model.orders[data.draw(st.sampled_from(self._orders(OrderStatus.HELD)))].order
        self._hold(_changed(data, order) if changed else order, ttl, keyed)

    def _below_what_is_sold(self, keyed: bool, run: Callable[[str | None], OrderView]) -> None:
        """A cart that gives back units the order already sold: InvalidInput, nothing written."""

        def check(error: InvalidInput) -> None:
            assert error.problems, error

        self._call(
            keyed,
            run,
            lambda k: self.engine.receive(STORE_1, "sku-z", 1, key=k),
            InvalidInput,
            check,
        )

    @precondition(lambda self: bool(self._orders(OrderStatus.HELD)))
    @rule(data=st.data(), changed=st.booleans(), keyed=st.booleans())
    def place_a_held_order(self, data: st.DataObject, changed: bool, keyed: bool) -> None:
        """Placing a held order keeps what it already sold, confirms its live holds and sources
        only what they do not cover; a cart that changed since it was held releases its live
        holds instead; a cart below what is sold is refused."""
        held = self.model.orders[data.draw(st.sampled_from(self._orders(OrderStatus.HELD)))]
        order = _changed(data, held.order) if changed else held.order
        expiries = [r.expires_at for r in self.model.live_holds(order.id) if r.expires_at]
        self._perhaps_at(data, min(expiries, default=None))
        trial = copy.deepcopy(self.model)
        mo = trial.orders[order.id]
        carried = _carried(trial, mo, order)
        if carried is None:
            self._below_what_is_sold(keyed, lambda k: self.engine.place_order(order, key=k))
            return
        kept, sold, mo.resourced = carried
        covered: dict[str, int] = defaultdict(int, sold)
        live = trial.live_holds(order.id)
        live_ids = {r.id for r in live}
        if order != mo.order:
            for r in live:
                trial.give_back(r, S.RELEASED)
            mo.sourcing = kept
        else:
            for r in live:
                trial.confirm(r)
            for line_id, rid in mo.sourcing:
                if rid in live_ids:
                    covered[line_id] += trial.reservations[rid].lines[order.line(line_id).sku]
        mo.order, mo.status, mo.backordered = order, OrderStatus.PLACED, {}
        plans = trial.plan(_uncovered(order, covered), order.channel, ORIGINS)
        if self._order_command(
            keyed,
            trial,
            order,
            plans,
            lambda k: self.engine.place_order(order, key=k),
            None,
            may_backorder=self.declared.backorders,
        ):
            self._reached(S.HELD, C.CONFIRM)

    def _forbidden_order(self, data: st.DataObject) -> None:
        """A placed order can be neither placed nor held again."""
        order = self.model.orders[data.draw(st.sampled_from(self._orders(OrderStatus.PLACED)))]
        hold = data.draw(st.booleans(), label="hold")
        again = order.order

        def run(_: str | None) -> Any:
            return self.engine.hold_order(again) if hold else self.engine.place_order(again)

        self._call(False, run, lambda _: None, InvalidTransition)

    # -- returns -------------------------------------------------------------------------------

    def _a_parcel_already_reached_a_customer(
        self, units: int, sku: str, price: Decimal, back: int
    ) -> None:
        """Every run starts with a delivered web order, part of which the customer asked to
        return, so that returns have something to work on from the first step; one more unit
        of it already came back damaged, so that the quarantine has something to resolve."""
        self._receive_at_start(WAREHOUSE, sku, units)
        order = Order("order-0", Channel.WEB, [OrderLine("1", sku, units, price, Ship(CUSTOMER))])
        self._place_at_start(order)
        (rid,) = [r for r in self.model.live(S.CONFIRMED) if r in self._of("order-0")]
        self._ship(self.model.reservations[rid], False)
        damaged = self._return_at_start(order, sku, 1, price)
        if damaged.state is ReturnState.REQUESTED:
            assert self.engine.authorize_return(damaged.id).state is ReturnState.AUTHORIZED
        self.engine.receive_return(damaged.id, {"1": Condition.DAMAGED})
        self.model.receive_return(damaged, [(Condition.DAMAGED, 1)])
        self._return_at_start(order, sku, back, price)

    def _return_at_start(self, order: Order, sku: str, units: int, price: Decimal) -> ModelReturn:
        rma = self.engine.request_return(order.id, {"1": units}, at=STORE_2, channel=Channel.APP)
        state = ReturnState.REQUESTED if self.declared.manual_review else ReturnState.AUTHORIZED
        assert rma.state is state
        self.model.returns[rma.id] = ModelReturn(
            rma.id, order.id, "1", sku, units, price, STORE_2, state
        )
        return self.model.returns[rma.id]

    def _orders_in_flight(self, skus: list[str], units: int) -> None:
        """Every run also starts with orders on their way: a READY pickup at Camden, a transfer
        travelling to Leeds, a parcel to ship, a pickup to get ready, a transfer to dispatch,
        and a call-centre hold, so that every lifecycle command can happen from the first
        step."""
        x, y, z = skus
        for key in [(STORE_1, x), (WAREHOUSE, y), (WAREHOUSE, z), (STORE_2, x), (WAREHOUSE, y)]:
            self._receive_at_start(*key, units)
        first = Order(
            "order-in-flight",
            Channel.CALL_CENTER,
            [
                OrderLine("1", x, units, Decimal("24.95"), Pickup(STORE_1)),
                OrderLine("2", y, units, Decimal("9.99"), ShipToStore(STORE_2)),
                OrderLine("3", z, units, Decimal("10"), Ship(CUSTOMER)),
            ],
        )
        self._place_at_start(first)
        for rid in self._of(first.id):
            r = self.model.reservations[rid]
            if r.mode is Mode.PICKUP:
                assert self.engine.mark_ready(rid).state is S.READY
                self.model.mark_ready(r, None)
            elif r.mode is Mode.TRANSFER:
                assert self.engine.ship(rid).state is S.IN_TRANSIT
                self.model.dispatch(r)
        second = Order(
            "order-next",
            Channel.WEB,
            [
                OrderLine("1", x, units, Decimal("0.35"), Pickup(STORE_2)),
                OrderLine("2", y, units, Decimal("9.99"), ShipToStore(STORE_1)),
            ],
        )
        self._place_at_start(second)
        self._receive_at_start(STORE_2, z, units)
        held = self.engine.reserve(STORE_2, {z: units}, channel=Channel.CALL_CENTER)
        lifetime = self.model.hold_lifetime(Channel.CALL_CENTER, None)
        self.model.add(
            ModelReservation(
                held.id,
                STORE_2,
                Channel.CALL_CENTER,
                Mode.PICKUP,
                S.HELD,
                self.model.now + lifetime,
                {z: units},
            )
        )

    def _receive_at_start(self, location: str, sku: str, units: int) -> None:
        self.engine.receive(location, sku, units)
        self.model.on_hand[(location, sku)] = self.model.on_hand.get((location, sku), 0) + units

    def _of(self, order_id: str) -> list[str]:
        """The reservations of an order, in the order they were made."""
        return list(dict.fromkeys(rid for _, rid in self.model.orders[order_id].sourcing))

    def _place_at_start(self, order: Order) -> None:
        trial = copy.deepcopy(self.model)
        trial.orders[order.id] = ModelOrder(order, OrderStatus.PLACED)
        plans = trial.plan(order.lines, order.channel, ORIGINS)
        assert all(p.fill == p.line.quantity for p in plans), plans
        self._learn(trial, order, self.engine.place_order(order), plans, None)
        self.model = trial
        self.touched.add(order.id)

    def _returns(self, state: ReturnState) -> list[str]:
        return sorted(i for i, rma in self.model.returns.items() if rma.state is state)

    @precondition(lambda self: bool(self.model.delivered()))
    @rule(data=st.data(), keyed=st.booleans())
    def request_return(self, data: st.DataObject, keyed: bool) -> None:
        delivered = self.model.delivered()
        eligible = [x for x in delivered if self.model.returnable(*x)]
        prefer = bool(eligible) and data.draw(st.integers(0, 4), label="eligible line") > 0
        if prefer:
            delivered = eligible
        order_id, line_id = data.draw(st.sampled_from(delivered), label="line")
        if not prefer:  # try the end of the window, where a unit stops being returnable
            self._perhaps_at(data, self._window_end(order_id, line_id))
        may = self.model.returnable(order_id, line_id)
        units = data.draw(st.integers(min_value=1, max_value=max(1, min(may + 1, 4))), label="n")
        at = data.draw(st.sampled_from([STORE_1, STORE_2, STORE_1, STORE_2, WAREHOUSE]), label="at")
        channel = data.draw(st.sampled_from(Channel), label="channel")
        expect: type[OmniOrderError] | None = None
        if at == WAREHOUSE:
            expect = MissingCapability
        elif units > may:
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
        if rma is None:
            return
        line = self.model.orders[order_id].order.line(line_id)
        state = ReturnState.REQUESTED if self.declared.manual_review else ReturnState.AUTHORIZED
        assert rma.state is state
        assert [(x.line_id, x.sku, x.quantity, x.unit_price) for x in rma.lines] == [
            (line_id, line.sku, units, line.unit_price)
        ]
        self.model.returns[rma.id] = ModelReturn(
            rma.id, order_id, line_id, line.sku, units, line.unit_price, at, state
        )

    def _window_end(self, order_id: str, line_id: str) -> datetime | None:
        """When the next of the line's fulfilled batches stops being returnable."""
        m = self.model
        ends = [
            r.fulfilled_at + self.declared.return_window
            for lid, rid in m.orders[order_id].sourcing
            if lid == line_id
            for r in [m.reservations[rid]]
            if r.mode is not Mode.TRANSFER
            and r.fulfilled_at is not None
            and r.fulfilled_at + self.declared.return_window > m.now
        ]
        return min(ends, default=None)

    @precondition(lambda self: bool(self._returns(ReturnState.REQUESTED)))
    @rule(data=st.data(), accept=st.booleans(), keyed=st.booleans())
    def review_a_return(self, data: st.DataObject, accept: bool, keyed: bool) -> None:
        """A reviewer authorises or rejects a requested return (manual review)."""
        rma = self.model.returns[data.draw(st.sampled_from(self._returns(ReturnState.REQUESTED)))]

        def run(k: str | None) -> Any:
            if accept:
                return self.engine.authorize_return(rma.id, key=k)
            return self.engine.reject_return(rma.id, "not ours", key=k)

        done = self._call(
            keyed, run, lambda k: self.engine.reject_return(rma.id, "other", key=k), None
        )
        rma.state = ReturnState.AUTHORIZED if accept else ReturnState.REJECTED
        assert done.state is rma.state

    @precondition(lambda self: bool(self._returns(ReturnState.AUTHORIZED)))
    @rule(data=st.data(), keyed=st.booleans())
    def receive_return(self, data: st.DataObject, keyed: bool) -> None:
        """The units come back, all in one condition or inspected in two parts."""
        rma = self.model.returns[data.draw(st.sampled_from(self._returns(ReturnState.AUTHORIZED)))]
        first = data.draw(st.sampled_from(Condition), label="condition")
        parts = [(first, rma.units)]
        given: Any = first
        if rma.units > 1 and data.draw(st.booleans(), label="split"):
            second = data.draw(st.sampled_from(Condition), label="second condition")
            cut = data.draw(st.integers(1, rma.units - 1), label="units in the first")
            parts = [(first, cut), (second, rma.units - cut)]
            given = [Inspection(c, n) for c, n in parts]
        done = self._call(
            keyed,
            lambda k: self.engine.receive_return(rma.id, {rma.line_id: given}, key=k),
            lambda k: self.engine.refund_return(rma.id, key=k),
            None,
        )
        self.model.receive_return(rma, parts)
        assert done.state is ReturnState.RECEIVED
        assert done.refund_total == rma.refund, f"refund {done.refund_total}, not {rma.refund}"

    @precondition(lambda self: bool(self._returns(ReturnState.RECEIVED)))
    @rule(data=st.data(), keyed=st.booleans())
    def refund_return(self, data: st.DataObject, keyed: bool) -> None:
        rma = self.model.returns[data.draw(st.sampled_from(self._returns(ReturnState.RECEIVED)))]
        done = self._call(
            keyed,
            lambda k: self.engine.refund_return(rma.id, key=k),
            lambda k: self.engine.receive_return(rma.id, key=k),
            None,
        )
        rma.state = ReturnState.CLOSED
        assert done.state is ReturnState.CLOSED
        assert done.refund_total == rma.refund

    def _forbidden_return(self, data: st.DataObject) -> None:
        rma = self.model.returns[data.draw(st.sampled_from(sorted(self.model.returns)))]
        commands = [c for c in ReturnCommand if c is not ReturnCommand.REQUEST]
        forbidden = [c for c in commands if not RETURN_TABLE.allows(rma.state, c)]
        command = data.draw(st.sampled_from(forbidden), label="command")
        runs: dict[ReturnCommand, Callable[[], Any]] = {
            ReturnCommand.AUTHORIZE: lambda: self.engine.authorize_return(rma.id),
            ReturnCommand.REJECT: lambda: self.engine.reject_return(rma.id, "no"),
            ReturnCommand.RECEIVE: lambda: self.engine.receive_return(rma.id),
            ReturnCommand.REFUND: lambda: self.engine.refund_return(rma.id),
        }
        self._call(False, lambda _: runs[command](), lambda _: None, InvalidTransition)

    @precondition(lambda self: any(self.model.quarantine.values()))
    @rule(data=st.data(), keyed=st.booleans())
    def resolve_quarantine(self, data: st.DataObject, keyed: bool) -> None:
        key = data.draw(
            st.sampled_from(sorted(k for k, v in self.model.quarantine.items() if v)),
            label="position",
        )
        held = self.model.quarantine[key]
        too_many = data.draw(st.sampled_from([False, False, False, True]), label="too many")
        units = held + 1 if too_many else data.draw(st.integers(1, held), label="units")
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

    # -- idempotency ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self.keyed or self.failed_keys))
    @rule(data=st.data())
    def a_key_is_used_again(self, data: st.DataObject) -> None:
        """A key replays its first result, conflicts with another request, or (when its command
        failed) is free for a new one."""
        uses = ["replay", "another request"] if self.keyed else []
        uses += ["after a failure"] if self.failed_keys else []
        use = data.draw(st.sampled_from(uses), label="use")
        if use == "replay":
            self._replay_a_key(data)
        elif use == "another request":
            self._reuse_a_key_for_another_request(data)
        else:
            self._a_failed_commands_key_is_free(data)

    def _replay_a_key(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keyed)), label="key")
        again, _, first = self.keyed[key]
        invariants.replayed(self.engine, again, first)
        self._count("ok")

    def _reuse_a_key_for_another_request(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keyed)), label="key")
        _, other, _ = self.keyed[key]
        before = take_snapshot(self.store)
        try:
            other()
        except IdempotencyConflict as error:
            assert error.key == key
            self._count("IdempotencyConflict")
        else:
            raise AssertionError("a reused key with another request must conflict")
        invariants.unchanged(self.engine, before)

    def _a_failed_commands_key_is_free(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.failed_keys), label="key")
        self.failed_keys.remove(key)
        self._call(
            False,
            lambda _: self.engine.receive(WAREHOUSE, "sku-a", 1, key=key),
            lambda _: None,
            None,
        )
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
        # on_hand + quantity is one above the largest storable counter; each fits on its own
        # when the shelf is not empty (the write path refuses the sum).
        on_hand = self.model.counters((STORE_1, "sku-a"))[0]
        over = MAX_QUANTITY - on_hand + 1
        cases.append((lambda: e.receive(STORE_1, "sku-a", over), InvalidInput))
        run, expected = data.draw(st.sampled_from(cases), label="case")
        self._call(False, lambda _: run(), lambda _: None, expected)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_engine_its_events_and_the_model_agree(self) -> None:
        snap = take_snapshot(self.store)
        positions = {key: self.engine.position(*key) for key in POSITIONS}
        seen = {
            c: {sku: self.engine.availability_by_location(sku, channel=c) for sku in SKUS}
            for c in Channel
        }
        invariants.all_state_promises(
            self.engine, SKUS, snapshot=snap, seen=seen, positions=positions
        )
        m = self.model
        for key, p in positions.items():
            assert p.counters() == m.counters(key), f"{p} but the model says {m.counters(key)}"
            for c in Channel:
                assert seen[c][key[1]][key[0]] == m.available(key, c), (c, p, m.available(key, c))
        stored = {r.id: r for r in snap.reservations}
        assert set(stored) == set(m.reservations), set(stored) ^ set(m.reservations)
        for r in m.reservations.values():
            self._compare_reservation(r, stored[r.id])
        returns = {rma.id: rma for rma in snap.returns}
        assert set(returns) == set(m.returns)
        for rma_id, rma in m.returns.items():
            assert returns[rma_id].state is rma.state, (returns[rma_id], rma)
            assert returns[rma_id].refund_total == (rma.refund or 0), (returns[rma_id], rma)
        for order_id in sorted(self.touched):
            self._compare_order(order_id)
        self.touched.clear()
        self._compare_events(snap.events, stored)

    def _compare_reservation(self, r: ModelReservation, s: Reservation) -> None:
        m = self.model
        if m.lapsed(r):  # the store may not have swept it yet
            assert s.state in (S.HELD, S.EXPIRED), f"{s} but the model says {r}"
        else:
            assert s.state is r.state, f"{s} but the model says {r}"
        released = m.released_units(r) if s.state is S.EXPIRED else r.released
        assert [(x.sku, x.quantity, x.fulfilled, x.released) for x in s.lines] == [
            (sku, units, r.fulfilled.get(sku, 0), released.get(sku, 0))
            for sku, units in sorted(r.lines.items())
        ], f"{s} but the model says {r}"
        assert (s.location, s.channel, s.mode, s.destination, s.order_id, s.expires_at) == (
            r.location,
            r.channel,
            r.mode,
            r.destination,
            r.order_id,
            r.expires_at,
        ), f"{s} but the model says {r}"

    def _compare_order(self, order_id: str) -> None:
        view = self.engine.order(order_id)
        mo = self.model.orders[order_id]
        assert view.status is mo.status, (view, mo)
        assert list(view.reservation_ids) == list(dict.fromkeys(rid for _, rid in mo.sourcing))
        expected = self.model.order_view(order_id)
        for line in view.lines:
            got = (
                dict(line.sourced),
                line.fulfilled,
                line.released,
                line.backordered,
                line.resourced,
            )
            assert got == expected[line.line_id], f"{order_id}/{line}: the model says " + str(
                expected[line.line_id]
            )

    def _compare_events(self, events: Any, stored: dict[str, Reservation]) -> None:
        """The outbox tells the story the store and the model tell."""
        story, m = self.story, self.model
        story.read(e for e in events if e.seq > story.last_seq)
        for key in POSITIONS:
            told = (
                story.on_hand.get(key, 0),
                story.safety.get(key, 0),
                story.inbound.get(key, 0),
                story.quarantine.get(key, 0),
            )
            on_hand, _, _, safety, inbound, quarantine = m.counters(key)
            assert told == (on_hand, safety, inbound, quarantine), (key, told, m.counters(key))
        assert story.states == {rid: s.state for rid, s in stored.items()}, "events vs store"
        for rid, r in m.reservations.items():
            if story.states[rid] in (S.HELD, S.READY):
                assert story.deadlines[rid] == r.expires_at, (rid, story.deadlines[rid], r)
            if story.states[rid] is S.EXPIRED:
                units = sum(r.lines.values()) - sum(r.rejected.values())
                assert story.expired[rid] == units, (rid, story.expired[rid], r)
        assert story.returns == {i: rma.state for i, rma in m.returns.items()}
        assert story.refunds == {
            i: [rma.refund] for i, rma in m.returns.items() if rma.state is ReturnState.CLOSED
        }, story.refunds
        for rma in m.returns.values():
            if rma.refund is not None:  # recomputed from the declared fees, independently
                assert rma.refund <= cents_refund(rma.unit_price, rma.units, Decimal(0))


def _with_quantity(line: OrderLine, quantity: int) -> OrderLine:
    return OrderLine(line.id, line.sku, quantity, line.unit_price, line.fulfilment)


def _changed(data: st.DataObject, order: Order) -> Order:
    """The cart as the customer changed it: one more unit of its first line, one fewer, its
    last line dropped, or its lines renumbered (the same skus and destinations)."""
    how = data.draw(st.sampled_from(["more", "fewer", "dropped", "renumbered"]), label="change")
    first, *rest = order.lines
    if how == "fewer" and first.quantity > 1:
        lines = [_with_quantity(first, first.quantity - 1), *rest]
    elif how == "dropped" and rest:
        lines = [first, *rest[:-1]]
    elif how == "renumbered":
        lines = [attrs.evolve(line, id=f"r{line.id}") for line in reversed(order.lines)]
    else:
        lines = [_with_quantity(first, first.quantity + 1), *rest]
    return Order(order.id, order.channel, lines)


SOLD = frozenset({S.CONFIRMED, S.READY, S.IN_TRANSIT, S.FULFILLED})
"""The states of a reservation whose units the order has sold (committed or delivered)."""


def _carried(
    trial: Model, mo: ModelOrder, order: Order
) -> tuple[list[tuple[str, str]], dict[str, int], dict[str, int]] | None:
    """What order ``mo`` already sold, carried over to its cart ``order`` (docs/concepts/
    orders.md, "Changing a held cart"): the sourcing of its reservations that sold units, moved
    to the line with the same sku and destination; the units sold per line; the re-sourced
    units per line. None when ``order`` asks for fewer units of a line than are sold for it,
    or drops (or sends elsewhere) a line with sold units: the engine refuses it."""
    places = {(line.sku, line.slot): line.id for line in order.lines}
    moved = {
        line.id: places[(line.sku, line.slot)]
        for line in mo.order.lines
        if (line.sku, line.slot) in places
    }
    kept: list[tuple[str, str]] = []
    covered: dict[str, int] = defaultdict(int)
    for line_id, rid in mo.sourcing:
        r = trial.reservations[rid]
        if trial.state(r) not in SOLD:
            continue
        sku = mo.order.line(line_id).sku
        delivered = 0 if r.mode is Mode.TRANSFER else r.fulfilled.get(sku, 0)
        units = r.open.get(sku, 0) + delivered
        if line_id in moved:
            kept.append((moved[line_id], rid))
            covered[moved[line_id]] += units
        elif units:
            return None
    if any(covered[line.id] > line.quantity for line in order.lines):
        return None
    resourced: dict[str, int] = defaultdict(int)
    for line_id, units in mo.resourced.items():
        if line_id in moved:
            resourced[moved[line_id]] += units
    return kept, dict(covered), dict(resourced)


def _uncovered(order: Order, covered: dict[str, int]) -> list[OrderLine]:
    """The lines of ``order`` with only the units ``covered`` does not cover."""
    return [
        _with_quantity(line, line.quantity - covered.get(line.id, 0))
        for line in order.lines
        if line.quantity > covered.get(line.id, 0)
    ]


def machine_for(
    make_store: Callable[[], Store], dispose: Callable[[Store], None], name: str
) -> type[EngineMachine]:
    """The machine class running against stores made by ``make_store``."""
    return type(
        name,
        (EngineMachine,),
        {"make_store": staticmethod(make_store), "dispose": staticmethod(dispose)},
    )
