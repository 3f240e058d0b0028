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
    OrderRecord,
    OrderView,
    Ship,
    Sourcing,
    order_view,
)
from omniorder.model.order_table import OrderCommand, order_status_after
from omniorder.model.reservation import OPEN_STATES, Reservation, ReservationState
from omniorder.model.values import lines_of
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
        if existing is not None:
            _release_holds(w, existing, reason="held again")
        positions, supply = source.supply(ctx, w, order)
        plan = source.plan(ctx, order, supply)
        if plan.unallocated:
            raise InsufficientStock(source.shortfalls(order, plan, supply))
        sourcing = source.write(ctx, w, order, plan.assignments, positions, held_for=lifetime)
        if existing is None:
            record = OrderRecord(order, status, tuple(sourcing), w.now, w.now)
            w.uow.add_order(record)
        else:
            record = attrs.evolve(
                existing,
                order=order,
                status=status,
                sourcing=tuple(sourcing),  # the new holds replace the old ones
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
        kept: list[Sourcing] = []
        if existing is not None and existing.order == order:
            kept = _confirm_holds(w, existing)
        elif existing is not None:  # the cart changed since it was held: start afresh
            _release_holds(w, existing, reason="order changed before placing")
        covered: defaultdict[str, int] = defaultdict(int)
        for s in kept:
            covered[s.line_id] += s.quantity
        missing = [
            attrs.evolve(line, quantity=line.quantity - covered[line.id])
            for line in order.lines
            if line.quantity > covered[line.id]
        ]
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
        # A changed cart's old holds are released; its history lives in the events.
        same = existing is not None and existing.order == order
        previous = existing.sourcing if existing is not None and same else ()
        sourcing = previous + tuple(placed)
        record = OrderRecord(
            order,
            status,
            sourcing,
            existing.created_at if existing is not None else w.now,
            w.now,
            backordered=tuple(backordered),
            version=1 if existing is None else existing.version + 1,
        )
        if existing is None:
            w.uow.add_order(record)
        else:
            w.uow.update_order(record)
        committed: defaultdict[str, int] = defaultdict(int)
        for s in [*kept, *placed]:
            committed[order.line(s.line_id).sku] += s.quantity
        missed: defaultdict[str, int] = defaultdict(int)
        for b in backordered:
            missed[order.line(b.line_id).sku] += b.quantity
        w.emit(
            OrderPlaced(
                at=w.now,
                order_id=order.id,
                channel=order.channel,
                reservation_ids=tuple(dict.fromkeys(s.reservation_id for s in [*kept, *placed])),
                lines=lines_of(committed),
                backordered=lines_of(missed),
            )
        )
        return view(w.uow, record, w.now, returns=False)

    return work


def _confirm_holds(w: Work, record: OrderRecord) -> list[Sourcing]:
    """Confirm the order's live holds; return the sourcing its open reservations cover.

    A hold confirmed on its own since (a call-centre agent confirming one store's part) already
    commits its units: it covers its lines as it is, so placing never commits them twice.
    """
    covering = set()
    for reservation_id in dict.fromkeys(s.reservation_id for s in record.sourcing):
        reservation = w.reservation(reservation_id)
        state = reservation.effective(w.now).state
        if state is ReservationState.HELD:
            w.confirm(reservation)
        if state in OPEN_STATES:
            covering.add(reservation_id)
    return [s for s in record.sourcing if s.reservation_id in covering]


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
