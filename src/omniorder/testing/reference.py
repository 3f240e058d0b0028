"""A small reference model of the shop, written independently of the engine.

The stateful machine drives the engine and this model side by side and compares them after every
step. The model knows only the specification: the reservation *table*, the network facts the
test declares (which locations can serve which kind of order line) and the test's own
:class:`Declared` settings (hold lifetimes, pickup window, return window, fees, backorders). From
those it computes stock, expiry, availability, where single-location order lines are sourced,
re-sourcing after a short pick, backorders, what may be returned and every refund, from scratch.
It never calls the engine and never uses the engine's formulas (``Position.available``,
``EFFECTS``, ``refund_for``).

:class:`EventStory` is the other independent reader: it rebuilds stock counters, reservation
states and deadlines from the outbox alone, so the events can be compared with both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from omniorder import Channel, Condition, Mode, ReservationState, ReturnState
from omniorder.model import RESERVATION_TABLE, ReservationCommand
from omniorder.model.events import (
    Event,
    QuarantineResolved,
    RefundIssued,
    ReservationArrived,
    ReservationConfirmed,
    ReservationDispatched,
    ReservationExpired,
    ReservationExtended,
    ReservationFulfilled,
    ReservationHeld,
    ReservationPlaced,
    ReservationReady,
    ReservationReleased,
    ReturnAuthorized,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    SafetyStockSet,
    StockAdjusted,
    StockReceived,
    StockSold,
)
from omniorder.model.order import Order, OrderLine, OrderStatus, Pickup, Ship, ShipToStore
from omniorder.model.returns import Disposition

__all__ = [
    "Declared",
    "EventStory",
    "LinePlan",
    "Model",
    "ModelOrder",
    "ModelReservation",
    "ModelReturn",
    "cents_refund",
    "fulfilment_origins",
]

S = ReservationState
C = ReservationCommand

Key = tuple[str, str]

REMOTE = frozenset({Channel.WEB, Channel.APP, Channel.CALL_CENTER, Channel.MARKETPLACE})
"""The channels the safety stock is withheld from (DESIGN §2.2), written out again here."""


@dataclass(frozen=True)
class Declared:
    """The settings a test declares for its engine; the model predicts from these alone.

    Attributes:
        hold_ttl: how long a hold lasts per channel when no ttl is given.
        pickup_window: how long a READY pickup waits when no window is given.
        return_window: how long after fulfilment a unit may come back.
        fees: the restocking fee per condition, as a fraction of the price.
        receipts: where a received unit goes per condition: ``"on_hand"``, ``"quarantine"`` or
            None (written off).
        backorders: whether unsourced order lines are backordered (else the order is refused).
        manual_review: whether return requests wait for a reviewer.
    """

    hold_ttl: Mapping[Channel, timedelta]
    pickup_window: timedelta
    return_window: timedelta
    fees: Mapping[Condition, Decimal]
    receipts: Mapping[Condition, str | None]
    backorders: bool = False
    manual_review: bool = False


def cents_refund(unit_price: Decimal, units: int, fee: Decimal) -> Decimal:
    """What ``units`` at ``unit_price`` refund after a ``fee`` fraction, rounded down to the cent,
    computed in whole cents and ten-thousandths (not with the engine's Decimal rounding)."""
    price_cents = int(unit_price * 100)
    fee_parts = int(fee * 10_000)
    assert Decimal(price_cents) == unit_price * 100, unit_price
    assert Decimal(fee_parts) == fee * 10_000, fee
    return Decimal(price_cents * units * (10_000 - fee_parts) // 10_000) / 100


@dataclass
class ModelReservation:
    """What the model knows of one reservation."""

    id: str
    location: str
    channel: Channel
    mode: Mode
    state: ReservationState
    expires_at: datetime | None
    lines: dict[str, int]
    destination: str | None = None
    order_id: str | None = None
    fulfilled: dict[str, int] = field(default_factory=dict)
    released: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    fulfilled_at: datetime | None = None

    @property
    def open(self) -> dict[str, int]:
        """Units neither fulfilled nor released, per sku."""
        return {
            sku: units - self.fulfilled.get(sku, 0) - self.released.get(sku, 0)
            for sku, units in self.lines.items()
        }


@dataclass
class ModelOrder:
    """What the model knows of one order."""

    order: Order
    status: OrderStatus
    sourcing: list[tuple[str, str]] = field(default_factory=list)
    """(line id, reservation id), in the order the reservations were made."""
    backordered: dict[str, int] = field(default_factory=dict)
    resourced: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelReturn:
    """What the model knows of one return authorisation (one order line)."""

    id: str
    order_id: str
    line_id: str
    sku: str
    units: int
    unit_price: Decimal
    at: str
    state: ReturnState
    refund: Decimal | None = None


@dataclass(frozen=True)
class LinePlan:
    """How one order line can be sourced now.

    Attributes:
        line: the order line.
        available: units each location that can serve it can give (locations with none left
            out), by location id.
    """

    line: OrderLine
    available: Mapping[str, int]

    @property
    def fill(self) -> int:
        """Units every solver must give (each fills first: unfilled units cost the most)."""
        return min(self.line.quantity, sum(self.available.values()))

    @property
    def short(self) -> int:
        """Units nobody can give."""
        return self.line.quantity - self.fill

    @property
    def exact(self) -> dict[str, int] | None:
        """Where the units come from when one location at most can give them, else None."""
        if len(self.available) > 1:
            return None
        return {location: self.fill for location in self.available if self.fill}


Origins = Callable[[OrderLine], Sequence[str]]
"""The locations that can ever serve an order line (the test's knowledge of its network)."""


@dataclass
class Model:
    """Expected stock, reservations, orders and returns."""

    now: datetime
    declared: Declared
    on_hand: dict[Key, int] = field(default_factory=dict)
    safety: dict[Key, int] = field(default_factory=dict)
    quarantine: dict[Key, int] = field(default_factory=dict)
    reservations: dict[str, ModelReservation] = field(default_factory=dict)
    orders: dict[str, ModelOrder] = field(default_factory=dict)
    returns: dict[str, ModelReturn] = field(default_factory=dict)

    # -- views ---------------------------------------------------------------------------------

    def lapsed(self, r: ModelReservation) -> bool:
        """Whether ``r`` is a hold at or past its expiry (expired for every reader)."""
        return r.state is S.HELD and r.expires_at is not None and self.now >= r.expires_at

    def state(self, r: ModelReservation) -> ReservationState:
        """The state every reader must see now (a hold past its expiry is EXPIRED)."""
        return S.EXPIRED if self.lapsed(r) else r.state

    def open_units(self, r: ModelReservation) -> dict[str, int]:
        """Units still held, committed or in transit, as readers see them now."""
        return dict.fromkeys(r.lines, 0) if self.lapsed(r) else r.open

    def released_units(self, r: ModelReservation) -> dict[str, int]:
        """Units given back, as readers see them now (a lapsed hold gave back everything)."""
        return dict(r.lines) if self.lapsed(r) else {s: r.released.get(s, 0) for s in r.lines}

    def _counted(self, key: Key, states: Iterable[ReservationState]) -> int:
        location, sku = key
        wanted = set(states)
        return sum(
            r.open.get(sku, 0)
            for r in self.reservations.values()
            if r.location == location and self.state(r) in wanted
        )

    def reserved(self, key: Key) -> int:
        """Units under live holds."""
        return self._counted(key, {S.HELD})

    def committed(self, key: Key) -> int:
        """Units under CONFIRMED or READY reservations."""
        return self._counted(key, {S.CONFIRMED, S.READY})

    def inbound(self, key: Key) -> int:
        """Units travelling to the location under dispatched transfers."""
        location, sku = key
        return sum(
            r.open.get(sku, 0)
            for r in self.reservations.values()
            if r.state is S.IN_TRANSIT and r.destination == location
        )

    def counters(self, key: Key) -> tuple[int, int, int, int, int, int]:
        """on_hand, reserved, committed, safety stock, inbound, quarantine."""
        return (
            self.on_hand.get(key, 0),
            self.reserved(key),
            self.committed(key),
            self.safety.get(key, 0),
            self.inbound(key),
            self.quarantine.get(key, 0),
        )

    def free(self, key: Key) -> int:
        """Units on hand that nobody holds or has bought."""
        return self.on_hand.get(key, 0) - self.reserved(key) - self.committed(key)

    def available(self, key: Key, channel: Channel) -> int:
        """What ``channel`` may sell: free units less the safety stock for remote channels."""
        withheld = self.safety.get(key, 0) if channel in REMOTE else 0
        return max(0, self.free(key) - withheld)

    def shortfalls(
        self, location: str, lines: Mapping[str, int], channel: Channel
    ) -> list[tuple[str, str, int, int]]:
        """``(sku, location, requested, available)`` for every line that cannot be had."""
        return [
            (sku, location, units, self.available((location, sku), channel))
            for sku, units in sorted(lines.items())
            if self.available((location, sku), channel) < units
        ]

    def live(self, *states: ReservationState, mode: Mode | None = None) -> list[str]:
        """Ids of reservations readers see in one of ``states`` (and ``mode``), sorted."""
        return sorted(
            r.id
            for r in self.reservations.values()
            if self.state(r) in states and (mode is None or r.mode is mode)
        )

    def due(self) -> list[ModelReservation]:
        """HELD and READY reservations at or past their deadline, by (deadline, id)."""
        found = [
            r
            for r in self.reservations.values()
            if r.state in (S.HELD, S.READY) and r.expires_at is not None
            if self.now >= r.expires_at
        ]
        return sorted(found, key=lambda r: (r.expires_at or self.now, r.id))

    # -- the reservation table -----------------------------------------------------------------

    def allowed(self, r: ModelReservation, command: ReservationCommand) -> bool:
        """Whether the engine must accept ``command`` on ``r`` now."""
        if not RESERVATION_TABLE.allows(self.state(r), command):
            return False
        modes = {
            C.MARK_READY: {Mode.PICKUP},
            C.COLLECT: {Mode.PICKUP},
            C.SHIP: {Mode.SHIP},
            C.DISPATCH: {Mode.TRANSFER},
            C.ARRIVE: {Mode.TRANSFER},
        }
        if r.mode not in modes.get(command, set(Mode)):
            return False
        return not (command is C.COLLECT and r.expires_at is not None and self.now >= r.expires_at)

    # -- effects of the reservation commands ---------------------------------------------------

    def add(self, r: ModelReservation) -> ModelReservation:
        """Record a new reservation."""
        assert r.id not in self.reservations, r.id
        self.reservations[r.id] = r
        return r

    def hold_lifetime(self, channel: Channel, ttl: timedelta | None) -> timedelta:
        """How long a hold made now by ``channel`` lasts."""
        return self.declared.hold_ttl[channel] if ttl is None else ttl

    def confirm(self, r: ModelReservation) -> None:
        """HELD -> CONFIRMED."""
        r.state, r.expires_at = S.CONFIRMED, None

    def mark_ready(self, r: ModelReservation, window: timedelta | None) -> None:
        """CONFIRMED -> READY until now + the window (the declared one by default)."""
        r.state = S.READY
        r.expires_at = self.now + (self.declared.pickup_window if window is None else window)

    def fulfil(self, r: ModelReservation, taken: Mapping[str, int]) -> None:
        """Shipped or collected: ``taken`` leaves the shelf, the rest goes back on sale."""
        for sku, units in r.open.items():
            got = taken.get(sku, 0)
            self.on_hand[(r.location, sku)] -= got
            r.fulfilled[sku] = r.fulfilled.get(sku, 0) + got
            r.released[sku] = r.released.get(sku, 0) + units - got
        r.state, r.fulfilled_at = S.FULFILLED, self.now

    def give_back(self, r: ModelReservation, state: ReservationState) -> dict[str, int]:
        """Released or expired: every open unit back on sale; returns the units given back."""
        gone = {sku: units for sku, units in r.open.items() if units}
        for sku, units in gone.items():
            r.released[sku] = r.released.get(sku, 0) + units
        r.state = state
        return gone

    def dispatch(self, r: ModelReservation) -> None:
        """A transfer leaves: off the origin's shelf, into the destination's inbound."""
        for sku, units in r.open.items():
            self.on_hand[(r.location, sku)] -= units
        r.state = S.IN_TRANSIT

    def arrive(self, r: ModelReservation, ready_id: str, window: timedelta | None) -> None:
        """A transfer arrives: on hand at the store, waiting under a new READY reservation."""
        assert r.destination is not None
        waiting = {sku: units for sku, units in r.open.items() if units}
        for sku, units in waiting.items():
            key = (r.destination, sku)
            self.on_hand[key] = self.on_hand.get(key, 0) + units
            r.fulfilled[sku] = r.fulfilled.get(sku, 0) + units
        r.state = S.FULFILLED
        deadline = self.now + (self.declared.pickup_window if window is None else window)
        self.add(
            ModelReservation(
                ready_id,
                r.destination,
                r.channel,
                Mode.PICKUP,
                S.READY,
                deadline,
                waiting,
                order_id=r.order_id,
            )
        )
        order = self.orders.get(r.order_id or "")
        if order is not None:
            for line_id, rid in list(order.sourcing):
                if rid == r.id and order.order.line(line_id).sku in waiting:
                    order.sourcing.append((line_id, ready_id))

    def reject(self, r: ModelReservation, sku: str, units: int) -> None:
        """A short pick: the units are not there (off the shelf) and leave the reservation."""
        self.on_hand[(r.location, sku)] -= units
        r.released[sku] = r.released.get(sku, 0) + units
        r.rejected[sku] = r.rejected.get(sku, 0) + units
        if not any(r.open.values()):
            r.state = S.RELEASED

    def expire_due(self) -> list[str]:
        """Expire every due HELD and READY reservation; their ids by (deadline, id)."""
        due = self.due()
        for r in due:
            self.give_back(r, S.EXPIRED)
        return [r.id for r in due]

    # -- orders --------------------------------------------------------------------------------

    def plan(
        self, lines: Iterable[OrderLine], channel: Channel, origins: Origins, *, exclude: str = ""
    ) -> list[LinePlan]:
        """How each line can be sourced now (never at ``exclude``)."""
        plans = []
        for line in lines:
            available = {
                location: self.available((location, line.sku), channel)
                for location in origins(line)
                if location != exclude
            }
            plans.append(LinePlan(line, {k: v for k, v in available.items() if v}))
        return plans

    def live_holds(self, order_id: str) -> list[ModelReservation]:
        """The order's holds that still hold stock."""
        found = dict.fromkeys(rid for _, rid in self.orders[order_id].sourcing)
        return [
            self.reservations[rid] for rid in found if self.state(self.reservations[rid]) is S.HELD
        ]

    def order_view(self, order_id: str) -> dict[str, tuple[dict[str, int], int, int, int, int]]:
        """Per line id: (sourced per location, fulfilled, released, backordered, resourced).

        A ship-to-store line counts at the transfer's origin until the units arrive, then at
        the store, under the READY reservation the customer collects; the transfer's own
        arrival is not the customer's fulfilment.
        """
        mo = self.orders[order_id]
        view = {}
        for line in mo.order.lines:
            sourced: dict[str, int] = {}
            fulfilled = released = 0
            for line_id, rid in mo.sourcing:
                r = self.reservations[rid]
                if line_id != line.id or line.sku not in r.lines:
                    continue
                gave = self.released_units(r)[line.sku]
                released += gave
                kept = r.lines[line.sku] - gave
                arrived = r.mode is Mode.TRANSFER and r.state is S.FULFILLED
                if kept and not arrived:
                    sourced[r.location] = sourced.get(r.location, 0) + kept
                if r.mode is not Mode.TRANSFER:
                    fulfilled += r.fulfilled.get(line.sku, 0)
            view[line.id] = (
                sourced,
                fulfilled,
                released,
                mo.backordered.get(line.id, 0),
                mo.resourced.get(line.id, 0),
            )
        return view

    # -- returns -------------------------------------------------------------------------------

    def returnable(self, order_id: str, line_id: str) -> int:
        """Units of an order line that may come back now: fulfilled within the declared window,
        less what other return authorisations (all but rejected ones) already cover."""
        mo = self.orders[order_id]
        sku = mo.order.line(line_id).sku
        batches = [
            (r.fulfilled_at, r.fulfilled.get(sku, 0))
            for rid in dict.fromkeys(rid for lid, rid in mo.sourcing if lid == line_id)
            for r in [self.reservations[rid]]
            if r.mode is not Mode.TRANSFER and r.state is S.FULFILLED and r.fulfilled_at
        ]
        fulfilled = sum(units for _, units in batches)
        recent = sum(
            units
            for when, units in batches
            if when is not None and self.now < when + self.declared.return_window
        )
        covered = sum(
            rma.units
            for rma in self.returns.values()
            if rma.order_id == order_id
            and rma.line_id == line_id
            and rma.state is not ReturnState.REJECTED
        )
        return max(0, min(recent, fulfilled - covered))

    def delivered(self) -> list[tuple[str, str]]:
        """(order id, line id) of every line some of whose units reached the customer."""
        return sorted(
            (order_id, line_id)
            for order_id, mo in self.orders.items()
            for line_id, rid in mo.sourcing
            if self.reservations[rid].mode is not Mode.TRANSFER
            and self.reservations[rid].fulfilled.get(mo.order.line(line_id).sku, 0)
        )

    def receive_return(self, rma: ModelReturn, parts: Sequence[tuple[Condition, int]]) -> None:
        """The units are back: each part goes where its condition says; the refund is set."""
        refund = Decimal(0)
        for condition, units in parts:
            counter = self.declared.receipts[condition]
            if counter is not None:
                stock = self.on_hand if counter == "on_hand" else self.quarantine
                stock[(rma.at, rma.sku)] = stock.get((rma.at, rma.sku), 0) + units
            refund += cents_refund(
                rma.unit_price, units, self.declared.fees.get(condition, Decimal(0))
            )
        rma.state, rma.refund = ReturnState.RECEIVED, refund


def fulfilment_origins(
    shippers: Sequence[str], lanes: Mapping[str, Sequence[str]]
) -> Callable[[OrderLine], Sequence[str]]:
    """The :data:`Origins` of a network: ``shippers`` ship parcels, a pickup is served by its
    store only, and a ship-to-store line by the locations with a lane to the store
    (``lanes[store]``)."""

    def origins(line: OrderLine) -> Sequence[str]:
        fulfilment = line.fulfilment
        if isinstance(fulfilment, Ship):
            return shippers
        if isinstance(fulfilment, Pickup):
            return [fulfilment.at]
        assert isinstance(fulfilment, ShipToStore)
        return lanes.get(fulfilment.at, [])

    return origins


@dataclass
class EventStory:
    """What the outbox alone says: stock counters, reservation states, deadlines, returns.

    Feed it every event once, in ``seq`` order (:meth:`read`); compare what it rebuilt with the
    store and with the :class:`Model`.
    """

    on_hand: dict[Key, int] = field(default_factory=dict)
    safety: dict[Key, int] = field(default_factory=dict)
    inbound: dict[Key, int] = field(default_factory=dict)
    quarantine: dict[Key, int] = field(default_factory=dict)
    states: dict[str, ReservationState] = field(default_factory=dict)
    deadlines: dict[str, datetime | None] = field(default_factory=dict)
    returns: dict[str, ReturnState] = field(default_factory=dict)
    refunds: dict[str, list[Decimal]] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)
    last_seq: int = 0

    def _add(self, stock: dict[Key, int], key: Key, units: int) -> None:
        stock[key] = stock.get(key, 0) + units

    def read(self, events: Iterable[Event]) -> None:
        """Apply events, checking that each comes after the last one read."""
        for event in events:
            assert event.seq > self.last_seq, f"event {event.seq} after {self.last_seq}"
            self.last_seq = event.seq
            self._stock(event)
            self._reservation(event)
            self._return(event)

    def _stock(self, e: Event) -> None:  # noqa: PLR0912 - one branch per event type
        if isinstance(e, StockReceived):
            self._add(self.on_hand, (e.location, e.sku), e.quantity)
        elif isinstance(e, StockAdjusted):
            self._add(self.on_hand, (e.location, e.sku), e.delta)
            assert self.on_hand[(e.location, e.sku)] == e.on_hand, e
        elif isinstance(e, SafetyStockSet):
            self.safety[(e.location, e.sku)] = e.quantity
        elif isinstance(e, StockSold):
            for line in e.lines:
                self._add(self.on_hand, (e.location, line.sku), -line.quantity)
        elif isinstance(e, ReservationFulfilled):
            for line in e.fulfilled:
                self._add(self.on_hand, (e.location, line.sku), -line.quantity)
        elif isinstance(e, ReservationDispatched):
            for line in e.lines:
                self._add(self.on_hand, (e.location, line.sku), -line.quantity)
                self._add(self.inbound, (e.destination, line.sku), line.quantity)
        elif isinstance(e, ReservationArrived):
            for line in e.lines:
                self._add(self.on_hand, (e.destination, line.sku), line.quantity)
                self._add(self.inbound, (e.destination, line.sku), -line.quantity)
        elif isinstance(e, ReturnReceived):
            for u in e.units:
                if u.disposition is Disposition.RESTOCK:
                    self._add(self.on_hand, (e.location, u.sku), u.quantity)
                elif u.disposition is Disposition.QUARANTINE:
                    self._add(self.quarantine, (e.location, u.sku), u.quantity)
        elif isinstance(e, QuarantineResolved):
            self._add(self.quarantine, (e.location, e.sku), -e.quantity)
            if e.disposition is Disposition.RESTOCK:
                self._add(self.on_hand, (e.location, e.sku), e.quantity)

    def _reservation(self, e: Event) -> None:
        if isinstance(e, ReservationHeld):
            self.states[e.reservation_id] = S.HELD
            self.deadlines[e.reservation_id] = e.expires_at
        elif isinstance(e, ReservationPlaced):
            self.states[e.reservation_id] = S.CONFIRMED
            self.deadlines[e.reservation_id] = None
        elif isinstance(e, ReservationExtended):
            assert self.states[e.reservation_id] is S.HELD, e
            self.deadlines[e.reservation_id] = e.expires_at
        elif isinstance(e, ReservationConfirmed):
            assert self.states[e.reservation_id] is S.HELD, e
            self.states[e.reservation_id] = S.CONFIRMED
            self.deadlines[e.reservation_id] = None
        elif isinstance(e, ReservationReady):
            self.states[e.reservation_id] = S.READY
            self.deadlines[e.reservation_id] = e.pickup_deadline
        elif isinstance(e, ReservationDispatched):
            self.states[e.reservation_id] = S.IN_TRANSIT
        elif isinstance(e, ReservationFulfilled | ReservationArrived):
            self.states[e.reservation_id] = S.FULFILLED
        elif isinstance(e, ReservationReleased):
            assert self.states[e.reservation_id] is e.previous, e
            self.states[e.reservation_id] = S.RELEASED
        elif isinstance(e, ReservationExpired):
            assert self.states[e.reservation_id] is e.previous, e
            assert self.deadlines[e.reservation_id] == e.expires_at, e
            self.states[e.reservation_id] = S.EXPIRED
            self.expired[e.reservation_id] = sum(line.quantity for line in e.lines)

    def _return(self, e: Event) -> None:
        if isinstance(e, ReturnRequested):
            self.returns[e.rma_id] = e.state
        elif isinstance(e, ReturnAuthorized):
            self.returns[e.rma_id] = ReturnState.AUTHORIZED
        elif isinstance(e, ReturnRejected):
            self.returns[e.rma_id] = ReturnState.REJECTED
        elif isinstance(e, ReturnReceived):
            self.returns[e.rma_id] = ReturnState.RECEIVED
        elif isinstance(e, RefundIssued):
            self.returns[e.rma_id] = ReturnState.CLOSED
            self.refunds.setdefault(e.rma_id, []).append(e.amount)
            assert e.amount == sum((line.amount for line in e.lines), Decimal(0)), e
