"""Sourcing an order: the stock each location can give its channel now, the solver's plan
(checked by :func:`~omniorder.allocation.validate`), what cannot be sourced, and the
reservations and backorders that carry the plan out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import timedelta

from omniorder.allocation.plan import AllocationPlan, Assignment, Unallocated
from omniorder.allocation.problem import AllocationProblem
from omniorder.allocation.validate import validate
from omniorder.model import checks
from omniorder.model.errors import InvalidPlan, Shortfall
from omniorder.model.events import LineBackordered
from omniorder.model.order import LineQuantity, Order, OrderLine, Ship, Sourcing, mode_of
from omniorder.model.position import Position
from omniorder.model.reservation import Reservation
from omniorder.model.values import Mode
from omniorder.service.context import Context
from omniorder.service.work import Work

__all__ = ["backorder", "plan", "shortfalls", "supply", "write"]

_ANYWHERE = "*"
"""The Shortfall location of a shipped line: it could come from anywhere that ships."""


def supply(
    ctx: Context, w: Work, order: Order, *, exclude: Iterable[str] = ()
) -> tuple[dict[tuple[str, str], Position], dict[tuple[str, str], int]]:
    """Lock every position of the order's skus; what each can give the order's channel."""
    skus = sorted({line.sku for line in order.lines})
    keys = [(loc.id, sku) for loc in ctx.network.locations for sku in skus]
    positions = w.positions(keys)
    skip = set(exclude)
    supply = {
        key: position.available(order.channel)
        for key, position in positions.items()
        if key[0] not in skip and position.available(order.channel) > 0
    }
    return positions, supply


def plan(ctx: Context, order: Order, supply: Mapping[tuple[str, str], int]) -> AllocationPlan:
    problem = AllocationProblem(ctx.network, [order], supply)
    solver = ctx.solver
    plan: object = solver.solve(problem)
    if problems := validate(problem, plan):
        raise InvalidPlan(solver.name, order.id, problems)
    assert isinstance(plan, AllocationPlan)  # validate said so
    return plan


def shortfalls(
    order: Order, plan: AllocationPlan, supply: Mapping[tuple[str, str], int]
) -> list[Shortfall]:
    found = []
    for u in plan.unallocated:
        line = order.line(u.line_id)
        fulfilment = line.fulfilment
        where = _ANYWHERE if isinstance(fulfilment, Ship) else fulfilment.at
        given = line.quantity - u.quantity
        if where == _ANYWHERE:
            available = sum(units for (_, sku), units in supply.items() if sku == line.sku)
        else:
            available = supply.get((where, line.sku), 0)
        found.append(Shortfall(line.sku, where, line.quantity, min(available, given)))
    return found


def _groups(
    order: Order, assignments: Iterable[Assignment]
) -> dict[tuple[str, str, str], dict[str, tuple[OrderLine, int]]]:
    """Assignments by (location, mode, destination): one reservation each, sku -> line."""
    groups: dict[tuple[str, str, str], dict[str, tuple[OrderLine, int]]] = defaultdict(dict)
    for a in assignments:
        line = order.line(a.line_id)
        mode, target = line.slot
        groups[(a.location, mode, target)][line.sku] = (line, a.quantity)
    return groups


def write(
    ctx: Context,
    w: Work,
    order: Order,
    assignments: Iterable[Assignment],
    positions: Mapping[tuple[str, str], Position],
    *,
    held_for: timedelta | None,
    resourced: bool = False,
) -> list[Sourcing]:
    """HELD (with ``held_for``) or CONFIRMED reservations for ``assignments``."""
    made = []
    for (location, _, target), lines in sorted(_groups(order, assignments).items()):
        any_line = next(iter(lines.values()))[0]
        mode = mode_of(any_line.fulfilment)
        destination = target if mode is Mode.TRANSFER else None
        quantities = {sku: units for sku, (_, units) in lines.items()}
        if held_for is None:
            reservation, changes = Reservation.place(
                id=ctx.new_id("res"),
                location=location,
                quantities=quantities,
                channel=order.channel,
                mode=mode,
                now=w.now,
                order_id=order.id,
                destination=destination,
            )
        else:
            reservation, changes = Reservation.hold(
                id=ctx.new_id("res"),
                location=location,
                quantities=quantities,
                channel=order.channel,
                mode=mode,
                now=w.now,
                expires_at=checks.later(w.now, held_for, "ttl"),
                order_id=order.id,
                destination=destination,
            )
        w.open(reservation, changes, positions)
        made += [
            Sourcing(line.id, reservation.id, location, units, resourced)
            for line, units in lines.values()
        ]
    return made


def backorder(w: Work, order: Order, unallocated: Iterable[Unallocated]) -> list[LineQuantity]:
    """Record the units nobody can give (LineBackordered each); return them per line."""
    backordered = []
    for u in unallocated:
        line = order.line(u.line_id)
        backordered.append(LineQuantity(line.id, u.quantity))
        w.emit(
            LineBackordered(
                at=w.now,
                order_id=order.id,
                line_id=line.id,
                sku=line.sku,
                quantity=u.quantity,
                reason=u.reason,
            )
        )
    return backordered
