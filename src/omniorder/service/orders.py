"""Orders: quote, hold_order, place_order, order, reject (a short pick, sourced again).

Each command builds an :class:`~omniorder.allocation.AllocationProblem` from the stock every
location can give the order's channel *now* (after other customers' holds, commitments and the
channel's safety stock), asks the solver, refuses any plan that fails
:func:`~omniorder.allocation.validate`, and writes every reservation in one unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from omniorder.allocation.plan import AllocationPlan
from omniorder.model import checks
from omniorder.model.errors import (
    InsufficientStock,
    InvalidInput,
    UnknownOrder,
)
from omniorder.model.events import (
    LineResourced,
    LocationUnits,
    OrderHeld,
    OrderPlaced,
    StockAdjusted,
)
from omniorder.model.order import (
    LineQuantity,
    Order,
    OrderLine,
    OrderRecord,
    OrderView,
    Ship,
    Sourcing,
    order_view,
)
from omniorder.model.order_table import OrderCommand, order_status_after
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Mode, lines_of
from omniorder.service import sourcing as source
from omniorder.service.command import command
from omniorder.service.context import Context
from omniorder.service.work import Work, effective_positions
from omniorder.stores.base import UnitOfWork

__all__ = [
    "check_order",
    "hold_order",
    "order",
    "place_order",
    "quote",
    "reject",
    "stored_order",
    "view",
]


def check_order(ctx: Context, order: object) -> Order:
    """Accept an :class:`Order` whose stores exist and that fits the policy."""
    if not isinstance(order, Order):
        raise InvalidInput("order must be an Order", field="order", value=order)
    if len(order.lines) > ctx.policy.max_lines:
        raise InvalidInput(
            f"order {order.id!r} has {len(order.lines)} lines; the limit is {ctx.policy.max_lines}",
            field="lines",
            value=len(order.lines),
        )
    for line in order.lines:
        if not isinstance(line.fulfilment, Ship):
            ctx.network.location(line.fulfilment.at)
    return order


# -- reading -------------------------------------------------------------------------------


def stored_order(uow: UnitOfWork, order_id: str, *, for_update: bool = False) -> OrderRecord:
    record = uow.order(order_id, for_update=for_update)
    if record is None:
        raise UnknownOrder(order_id)
    return record


def view(uow: UnitOfWork, record: OrderRecord, now: datetime, *, returns: bool = True) -> OrderView:
    """The order as readers see it at ``now``; ``returns=False`` skips reading its return
    authorisations (an order being held or placed has none yet)."""
    found = {}
    for s in record.sourcing:
        reservation = uow.reservation(s.reservation_id)
        assert reservation is not None
        found[s.reservation_id] = reservation.effective(now)
    returned: dict[str, int] = {}
    for rma in uow.returns(order_id=record.id) if returns else ():
        for line in rma.lines:
            if line.received:
                returned[line.line_id] = returned.get(line.line_id, 0) + line.quantity
    return order_view(record, found, returned)


# -- commands ------------------------------------------------------------------------------


def quote(ctx: Context, order: Order) -> AllocationPlan:
    order = check_order(ctx, order)

    def read(uow: UnitOfWork, now: datetime) -> AllocationPlan:
        skus = sorted({line.sku for line in order.lines})
        keys = [(loc.id, sku) for loc in ctx.network.locations for sku in skus]
        positions = effective_positions(uow, now, uow.positions(keys))
        supply = {
            (p.location, p.sku): p.available(order.channel)
            for p in positions
            if p.available(order.channel) > 0
        }
        return source.plan(ctx, order, supply)

    return ctx.read(read)


@command(OrderView)
def hold_order(
    ctx: Context, order: Order, *, ttl: timedelta | None = None, key: str | None = None
) -> Callable[[Work], OrderView]:
    order = check_order(ctx, order)
    if ttl is not None:
        checks.positive_duration(ttl, "ttl", maximum=ctx.policy.max_hold_ttl)
    lifetime = ctx.policy.ttl_for(order.channel) if ttl is None else ttl

    def work(w: Work) -> OrderView:
        existing = w.uow.order(order.id, for_update=True)
        status = order_status_after(
            None if existing is None else existing.status,
            OrderCommand.HOLD_ORDER,
            order_id=order.id,
        )
        carried = _Carried()
        if existing is not None:
            carried = _commitments(w, existing, order)  # refuses before anything is written
            _release_holds(w, existing, reason="held again")
        sourcing: list[Sourcing] = []
        if missing := _uncovered(order, carried.covered):
            rest = attrs.evolve(order, lines=missing)
            positions, supply = source.supply(ctx, w, rest)
            plan = source.plan(ctx, rest, supply)
            if plan.unallocated:
                raise InsufficientStock(source.shortfalls(rest, plan, supply))
            sourcing = source.write(ctx, w, rest, plan.assignments, positions, held_for=lifetime)
        if existing is None:
            record = OrderRecord(order, status, tuple(sourcing), w.now, w.now)
            w.uow.add_order(record)
        else:
            record = attrs.evolve(
                existing,
                order=order,
                status=status,
                # what the order sold stays; the new holds replace the old ones
                sourcing=tuple(carried.sourcing) + tuple(sourcing),
                backordered=(),
                resourced=carried.resourced,
                updated_at=w.now,
                version=existing.version + 1,
            )
            w.uow.update_order(record)
        w.emit(
            OrderHeld(
                at=w.now,
                order_id=order.id,
                channel=order.channel,
                reservation_ids=tuple(dict.fromkeys(s.reservation_id for s in sourcing)),
            )
        )
        return view(w.uow, record, w.now, returns=False)

    return work


def _release_holds(w: Work, record: OrderRecord, *, reason: str) -> None:
    """Release every live hold of ``record`` (a hold past its expiry is already gone)."""
    for reservation_id in dict.fromkeys(s.reservation_id for s in record.sourcing):
        reservation = w.reservation(reservation_id)
        if reservation.effective(w.now).state is not ReservationState.HELD:
            continue
        w.release(reservation, reason)


@attrs.frozen
class _Carried:
    """What an order already sold, carried over to a new version of its cart."""

    sourcing: tuple[Sourcing, ...] = ()
    """The sourcing of its reservations that sold units, moved to the new cart's line ids."""
    covered: Mapping[str, int] = attrs.field(factory=dict)
    """Units sold per line id of the new cart (committed or already delivered)."""
    resourced: tuple[LineQuantity, ...] = ()
    """The record's re-sourced units, per line id of the new cart."""


_SOLD = frozenset(
    {
        ReservationState.CONFIRMED,
        ReservationState.READY,
        ReservationState.IN_TRANSIT,
        ReservationState.FULFILLED,
    }
)
"""The states of a reservation whose units are sold: committed, or already delivered."""


def _sold_units(reservation: Reservation, sku: str) -> int:
    """Units of ``sku`` that ``reservation`` sold and still holds or delivered to the customer
    (a transfer's delivery to the store is not the customer's: its READY successor counts)."""
    if reservation.state not in _SOLD:
        return 0
    for line in reservation.lines:
        if line.sku == sku:
            delivered = 0 if reservation.mode is Mode.TRANSFER else line.fulfilled
            return line.open + delivered
    return 0


def _commitments(w: Work, record: OrderRecord, order: Order) -> _Carried:
    """What ``record`` already sold, carried over to ``order`` (the same order, its cart
    perhaps changed). Reads only.

    A reservation of the order that sold units (confirmed on its own, READY, in transit, or
    fulfilled) covers the line of ``order`` that takes the same sku to the same place (line
    ids may differ between carts). Its live holds carry nothing over: the caller confirms or
    releases them.

    Raises:
        InvalidInput: ``order`` asks for fewer units of a line than are sold for it, or drops
            a line that has sold units; every such line is named. Nothing is written: the
            caller releases those reservations first.
    """
    new_lines = {(line.sku, line.slot): line for line in order.lines}
    old_lines = {line.id: line for line in record.order.lines}
    moved: dict[str, str] = {}
    for line in record.order.lines:
        if (same_place := new_lines.get((line.sku, line.slot))) is not None:
            moved[line.id] = same_place.id
    found: dict[str, Reservation] = {}
    kept: list[Sourcing] = []
    covered: defaultdict[str, int] = defaultdict(int)
    dropped: defaultdict[str, int] = defaultdict(int)
    for s in record.sourcing:
        if s.reservation_id not in found:
            found[s.reservation_id] = w.reservation(s.reservation_id).effective(w.now)
        reservation = found[s.reservation_id]
        old = old_lines.get(s.line_id)
        if old is None or reservation.state not in _SOLD:
            continue
        units = _sold_units(reservation, old.sku)
        if old.id in moved:
            kept.append(attrs.evolve(s, line_id=moved[old.id]))
            covered[moved[old.id]] += units
        elif units:
            dropped[old.id] += units
    problems = [
        f"line {old_id!r} ({old_lines[old_id].sku}) is gone from the cart, but {units} of its "
        "units are already sold"
        for old_id, units in dropped.items()
    ] + [
        f"line {line.id!r} ({line.sku}) asks for {line.quantity} units, but {covered[line.id]} "
        "are already sold"
        for line in order.lines
        if covered[line.id] > line.quantity
    ]
    if problems:
        raise InvalidInput(
            f"order {order.id!r} cannot give back units it already sold: "
            + "; ".join(problems)
            + " (release those reservations first)",
            field="lines",
            value={**dropped, **{k: v for k, v in covered.items() if v}},
            problems=problems,
        )
    resourced: defaultdict[str, int] = defaultdict(int)
    for r in record.resourced:
        if r.line_id in moved:
            resourced[moved[r.line_id]] += r.quantity
    return _Carried(
        tuple(kept),
        dict(covered),
        tuple(LineQuantity(line_id, units) for line_id, units in resourced.items()),
    )


def _uncovered(order: Order, covered: Mapping[str, int]) -> list[OrderLine]:
    """The lines of ``order`` with only the units ``covered`` does not cover."""
    return [
        attrs.evolve(line, quantity=line.quantity - covered.get(line.id, 0))
        for line in order.lines
        if line.quantity > covered.get(line.id, 0)
    ]


@command(OrderView)
def place_order(
    ctx: Context, order: Order, *, key: str | None = None
) -> Callable[[Work], OrderView]:
    order = check_order(ctx, order)

    def work(w: Work) -> OrderView:
        existing = w.uow.order(order.id, for_update=True)
        status = order_status_after(
            None if existing is None else existing.status,
            OrderCommand.PLACE_ORDER,
            order_id=order.id,
        )
        same = existing is not None and existing.order == order
        carried = _Carried()
        if existing is not None:
            carried = _commitments(w, existing, order)  # refuses before anything is written
        kept: list[Sourcing] = []
        if existing is not None and same:
            kept = _confirm_holds(w, existing)
        elif existing is not None:  # the cart changed since it was held: hold nothing over
            _release_holds(w, existing, reason="order changed before placing")
        covered: defaultdict[str, int] = defaultdict(int, carried.covered)
        for s in kept:
            covered[s.line_id] += s.quantity
        missing = _uncovered(order, covered)
        placed: list[Sourcing] = []
        backordered: list[LineQuantity] = []
        if missing:
            rest = attrs.evolve(order, lines=missing)
            positions, supply = source.supply(ctx, w, rest)
            plan = source.plan(ctx, rest, supply)
            if plan.unallocated and not ctx.policy.backorders:
                raise InsufficientStock(source.shortfalls(rest, plan, supply))
            placed = source.write(ctx, w, rest, plan.assignments, positions, held_for=None)
            backordered = source.backorder(w, order, plan.unallocated)
        # A changed cart keeps what it sold; its released holds' history lives in the events.
        previous = existing.sourcing if existing is not None and same else ()
        sourcing = (previous if same else carried.sourcing) + tuple(placed)
        record = OrderRecord(
            order,
            status,
            sourcing,
            existing.created_at if existing is not None else w.now,
            w.now,
            backordered=tuple(backordered),
            resourced=carried.resourced,
            version=1 if existing is None else existing.version + 1,
        )
        if existing is None:
            w.uow.add_order(record)
        else:
            w.uow.update_order(record)
        committed: defaultdict[str, int] = defaultdict(int)
        for s in [*kept, *placed]:
            committed[order.line(s.line_id).sku] += s.quantity
        for line_id, units in carried.covered.items():
            committed[order.line(line_id).sku] += units
        missed: defaultdict[str, int] = defaultdict(int)
        for b in backordered:
            missed[order.line(b.line_id).sku] += b.quantity
        w.emit(
            OrderPlaced(
                at=w.now,
                order_id=order.id,
                channel=order.channel,
                reservation_ids=tuple(
                    dict.fromkeys(s.reservation_id for s in [*carried.sourcing, *kept, *placed])
                ),
                lines=lines_of(committed),
                backordered=lines_of(missed),
            )
        )
        return view(w.uow, record, w.now, returns=False)

    return work


def _confirm_holds(w: Work, record: OrderRecord) -> list[Sourcing]:
    """Confirm the order's live holds; return the sourcing they cover.

    A hold confirmed on its own since (a call-centre agent confirming one store's part) is not
    confirmed again: :func:`_commitments` counts it with everything else the order sold.
    """
    live = set()
    for reservation_id in dict.fromkeys(s.reservation_id for s in record.sourcing):
        reservation = w.reservation(reservation_id)
        state = reservation.effective(w.now).state
        if state is ReservationState.HELD:
            w.confirm(reservation)
            live.add(reservation_id)
    return [s for s in record.sourcing if s.reservation_id in live]


def order(ctx: Context, order_id: str) -> OrderView:
    checks.identifier(order_id, "order_id")
    return ctx.read(lambda uow, now: view(uow, stored_order(uow, order_id), now))


@command(Reservation)
def reject(
    ctx: Context,
    reservation_id: str,
    lines: Mapping[str, int],
    *,
    reason: str,
    key: str | None = None,
) -> Callable[[Work], Reservation]:
    checks.identifier(reservation_id, "reservation_id")
    wanted = checks.lines(lines, max_lines=ctx.policy.max_lines)
    checks.text(reason, "reason", required=True)

    def work(w: Work) -> Reservation:
        reservation = w.reservation(reservation_id)
        rejected, changes = reservation.reject(w.now, wanted)
        w.apply(rejected, changes)
        for sku, units in sorted(wanted.items()):
            after = w.uow.positions([(reservation.location, sku)])[0]
            w.emit(
                StockAdjusted(
                    at=w.now,
                    location=reservation.location,
                    sku=sku,
                    delta=-units,
                    on_hand=after.on_hand,
                    reason=f"short pick: {reason}",
                )
            )
        w.save(rejected)
        if not any(rejected.open_quantities.values()):  # nothing left to move
            rejected = w.release(rejected, f"rejected: {reason}", lines=wanted)
        if reservation.order_id is not None:
            record = w.uow.order(reservation.order_id, for_update=True)
            if record is not None:
                _resource(ctx, w, record, reservation, wanted, reason=reason)
        return rejected

    return work


def _resource(
    ctx: Context,
    w: Work,
    record: OrderRecord,
    reservation: Reservation,
    wanted: Mapping[str, int],
    *,
    reason: str,
) -> None:
    """Source the rejected units elsewhere (or backorder them); update the record."""
    order = record.order
    mine = {s.line_id for s in record.sourcing if s.reservation_id == reservation.id}
    lines = [
        attrs.evolve(line, quantity=wanted[line.sku])
        for line in order.lines
        if line.id in mine and line.sku in wanted
    ]
    rest = attrs.evolve(order, lines=lines)
    positions, supply = source.supply(ctx, w, rest, exclude=[reservation.location])
    plan = source.plan(ctx, rest, supply)
    placed = source.write(ctx, w, rest, plan.assignments, positions, held_for=None, resourced=True)
    backordered = list(record.backordered)
    resourced = list(record.resourced)
    for line in lines:
        to = tuple(LocationUnits(s.location, s.quantity) for s in placed if s.line_id == line.id)
        moved = sum(t.quantity for t in to)
        if moved:
            resourced.append(LineQuantity(line.id, moved))
        w.emit(
            LineResourced(
                at=w.now,
                order_id=order.id,
                line_id=line.id,
                sku=line.sku,
                quantity=line.quantity,
                from_location=reservation.location,
                to=to,
                reason=reason,
            )
        )
    backordered += source.backorder(w, order, plan.unallocated)
    updated = attrs.evolve(
        record,
        sourcing=record.sourcing + tuple(placed),
        backordered=tuple(backordered),
        resourced=tuple(resourced),
        updated_at=w.now,
        version=record.version + 1,
    )
    w.uow.update_order(updated)
