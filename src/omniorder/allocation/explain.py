"""Why a plan sourced each line where it did: every candidate, taken or passed over, and why."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import attrs

from omniorder.allocation.assignment import Assignment, Unallocated
from omniorder.model.order import Order, OrderLine

if TYPE_CHECKING:
    from omniorder.allocation.problem import AllocationProblem

__all__ = ["CandidateView", "LineExplanation", "Verdict", "explain"]


class PlanLike(Protocol):
    """What explaining needs of a plan (an :class:`~omniorder.allocation.AllocationPlan`)."""

    @property
    def assignments(self) -> tuple[Assignment, ...]:
        """Who gives what."""

    @property
    def unallocated(self) -> tuple[Unallocated, ...]:
        """What nobody gives."""

    def for_order(self, order_id: str) -> tuple[Assignment, ...]:
        """The assignments of one order."""


_CENT = Decimal("0.01")


class Verdict(StrEnum):
    """What happened to one candidate location for one line."""

    TAKEN = "taken"
    NOT_STOCKED = "not stocked"
    NOT_ENOUGH = "not enough"
    LACKS_CAPABILITY = "lacks capability"
    CAPACITY_USED = "capacity used up"
    SPLIT_LIMIT = "split limit"
    COSTLIER = "costlier"
    MISSED = "cheaper, missed"
    """It would have served the line for less: the heuristic missed it (``extra_cost`` < 0)."""


@attrs.frozen
class CandidateView:
    """One location considered for one line.

    Attributes:
        location: the candidate.
        verdict: taken, or why it was passed over.
        units: units taken (TAKEN), or units it could still have given (COSTLIER, MISSED).
        detail: the reason in words (amounts rounded to the cent).
        extra_cost: for COSTLIER, how much more serving the line from here would cost; for
            MISSED, a negative amount: it would have been cheaper and the solver missed it.
    """

    location: str
    verdict: Verdict
    units: int
    detail: str
    extra_cost: Decimal | None = None


@attrs.frozen
class LineExplanation:
    """Every candidate for one order line, nearest first for shipped lines.

    Attributes:
        order_id: the order.
        line_id: the line.
        sku: its sku.
        quantity: units ordered.
        unallocated: units nobody gives.
        candidates: one :class:`CandidateView` per location of the network.
    """

    order_id: str
    line_id: str
    sku: str
    quantity: int
    unallocated: int
    candidates: tuple[CandidateView, ...]

    def __str__(self) -> str:
        rows = [
            f"{self.order_id}/{self.line_id}: {self.quantity} x {self.sku}"
            + (f" ({self.unallocated} unallocated)" if self.unallocated else "")
        ]
        rows += [f"  {c.location}: {c.verdict.value} - {c.detail}" for c in self.candidates]
        return "\n".join(rows)


def _line_cost(
    problem: AllocationProblem, plan: PlanLike, order: Order, line: OrderLine
) -> Decimal:
    """What the line costs now: its units' handling plus the shipments only it rides in."""
    mine = [a for a in plan.for_order(order.id) if a.line_id == line.id]
    riders = Counter(
        problem.shipment_key(order, order.line(a.line_id), a.location)
        for a in plan.for_order(order.id)
    )
    cost = Decimal(0)
    for a in mine:
        cost += a.quantity * problem.cost.unit(problem.network.location(a.location))
        key = problem.shipment_key(order, line, a.location)
        if key is not None and riders[key] == 1:
            cost += problem.shipment(order, line, a.location)
    return cost


def explain(problem: AllocationProblem, plan: PlanLike, order_id: str) -> list[LineExplanation]:
    """Every line of ``order_id`` with every candidate location and its verdict."""
    order = problem.order(order_id)
    taken_total: Counter[tuple[str, str]] = Counter()
    loads: Counter[str] = Counter()
    keys_by_order: dict[str, set[str]] = {}
    for a in plan.assignments:
        a_order = problem.order(a.order_id)
        a_line = a_order.line(a.line_id)
        taken_total[(a.location, a_line.sku)] += a.quantity
        key = problem.shipment_key(a_order, a_line, a.location)
        if key is not None and key not in keys_by_order.setdefault(a.order_id, set()):
            keys_by_order[a.order_id].add(key)
            loads[a.location] += 1
    origins = {
        a.location
        for a in plan.for_order(order_id)
        if problem.shipment_key(order, order.line(a.line_id), a.location)
    }
    unfilled = {(u.order_id, u.line_id): u.quantity for u in plan.unallocated}
    found = []
    for line in order.lines:
        here = {a.location: a.quantity for a in plan.for_order(order_id) if a.line_id == line.id}
        current = _line_cost(problem, plan, order, line)
        locations = list(problem.network.locations)
        if order.ship_to is not None and problem.kind(line) == "ship":
            locations = problem.network.nearest(order.ship_to)
        context = _Context(problem, plan, order, taken_total, loads, origins)
        views = [_verdict(context, line, loc.id, here, current) for loc in locations]
        found.append(
            LineExplanation(
                order.id,
                line.id,
                line.sku,
                line.quantity,
                unfilled.get((order.id, line.id), 0),
                tuple(views),
            )
        )
    return found


@attrs.frozen
class _Context:
    """What the verdicts of one order's candidates depend on."""

    problem: AllocationProblem
    plan: PlanLike
    order: Order
    taken_total: Counter[tuple[str, str]]
    loads: Counter[str]
    origins: set[str]


def _verdict(
    ctx: _Context, line: OrderLine, location_id: str, here: dict[str, int], current: Decimal
) -> CandidateView:
    problem, plan, order = ctx.problem, ctx.plan, ctx.order
    taken_total, loads, origins = ctx.taken_total, ctx.loads, ctx.origins
    location = problem.network.location(location_id)
    refusal = problem.refusal(order, line, location)
    if refusal:
        return CandidateView(location_id, Verdict.LACKS_CAPABILITY, 0, refusal)
    if location_id in here:
        return CandidateView(
            location_id, Verdict.TAKEN, here[location_id], f"gives {here[location_id]}"
        )
    stock = problem.units(location_id, line.sku)
    if stock == 0:
        return CandidateView(location_id, Verdict.NOT_STOCKED, 0, f"has no {line.sku} to give")
    left = stock - taken_total[(location_id, line.sku)]
    if left <= 0:
        return CandidateView(location_id, Verdict.NOT_ENOUGH, 0, f"its {stock} went to other lines")
    key = problem.shipment_key(order, line, location_id)
    new_shipment = key is not None and location_id not in origins
    if new_shipment and location.capacity is not None and loads[location_id] >= location.capacity:
        return CandidateView(
            location_id,
            Verdict.CAPACITY_USED,
            left,
            f"all {location.capacity} of its shipments are taken",
        )
    if new_shipment and problem.max_splits is not None and len(origins) >= problem.max_splits:
        return CandidateView(
            location_id,
            Verdict.SPLIT_LIMIT,
            left,
            f"the order already comes from {len(origins)} origins",
        )
    units = min(line.quantity, left)
    alternative = units * problem.cost.unit(location)
    if new_shipment:
        alternative += problem.shipment(order, line, location_id)
    if units < line.quantity:
        alternative += (line.quantity - units) * problem.cost.unfilled_penalty
    short = next(
        (u.quantity for u in plan.unallocated if (u.order_id, u.line_id) == (order.id, line.id)), 0
    )
    extra = alternative - current - short * problem.cost.unfilled_penalty
    verdict = Verdict.COSTLIER if extra >= 0 else Verdict.MISSED
    word = "costlier" if extra >= 0 else "cheaper"
    detail = f"{word} by {abs(extra).quantize(_CENT)} for {units} of {line.quantity}"
    if short and extra < 0:
        detail += " (the solver left the line short)"
    return CandidateView(location_id, verdict, units, detail, extra)
