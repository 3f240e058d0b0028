"""``validate(problem, plan)``: every rule a plan must keep, as a list of problems."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from omniorder.allocation.plan import (
    AllocationPlan,
    Assignment,
    Unallocated,
    evaluate,
    shipments_of,
)
from omniorder.allocation.problem import AllocationProblem
from omniorder.model.errors import InvalidInput, UnknownLocation

__all__ = ["validate"]


def _shape(plan: object) -> list[str]:
    """What keeps ``plan`` from being read at all: not a plan, or fields of the wrong type."""
    if not isinstance(plan, AllocationPlan):
        return [f"the solver returned {type(plan).__name__}, not an AllocationPlan"]
    found = []
    for name, kind in (("assignments", Assignment), ("unallocated", Unallocated)):
        entries = getattr(plan, name)
        if not isinstance(entries, tuple | list):
            found.append(f"{name} is a {type(entries).__name__}, not a tuple")
            continue
        for entry in entries:
            if not isinstance(entry, kind):
                found.append(f"{name} holds a {type(entry).__name__}, not a {kind.__name__}")
                continue
            ids = (entry.order_id, entry.line_id, getattr(entry, "location", ""))
            if not all(isinstance(i, str) for i in ids):
                found.append(f"{name} entry {entry!r} has an id that is not a str")
            if isinstance(entry.quantity, bool) or not isinstance(entry.quantity, int):
                found.append(
                    f"{entry.order_id}/{entry.line_id}: quantity {entry.quantity!r} is not an int"
                )
    if not isinstance(plan.cost, Decimal) or not plan.cost.is_finite():
        found.append(f"cost {plan.cost!r} is not a finite Decimal")
    return found


def _known(problem: AllocationProblem, plan: AllocationPlan) -> list[str]:
    found = []
    for a in plan.assignments:
        try:
            order = problem.order(a.order_id)
            order.line(a.line_id)
        except InvalidInput:
            found.append(f"{a.order_id}/{a.line_id}: no such order line")
            continue
        try:
            problem.network.location(a.location)
        except UnknownLocation:
            found.append(f"{a.order_id}/{a.line_id}: unknown location {a.location}")
    return found


def _placement(problem: AllocationProblem, plan: AllocationPlan) -> list[str]:
    """Quantities, capabilities, supply, and every line fully accounted for."""
    found = []
    taken: defaultdict[tuple[str, str], int] = defaultdict(int)
    given: defaultdict[tuple[str, str], int] = defaultdict(int)
    for a in plan.assignments:
        order = problem.order(a.order_id)
        line = order.line(a.line_id)
        if a.quantity < 1:
            found.append(f"{a.order_id}/{a.line_id} from {a.location}: quantity {a.quantity}")
        refusal = problem.refusal(order, line, problem.network.location(a.location))
        if refusal:
            found.append(f"{a.order_id}/{a.line_id} cannot come from {a.location}: {refusal}")
        taken[(a.location, line.sku)] += a.quantity
        given[(a.order_id, a.line_id)] += a.quantity
    for (location, sku), units in sorted(taken.items()):
        if units > problem.units(location, sku):
            found.append(
                f"{location} gives {units} of {sku} but has {problem.units(location, sku)}"
            )
    for u in plan.unallocated:
        given[(u.order_id, u.line_id)] += u.quantity
        if u.quantity < 1:
            found.append(f"{u.order_id}/{u.line_id}: unallocated quantity {u.quantity}")
    for order in problem.orders:
        for line in order.lines:
            accounted = given[(order.id, line.id)]
            if accounted != line.quantity:
                found.append(f"{order.id}/{line.id}: {accounted} of {line.quantity} accounted for")
    return found


def _shipping(problem: AllocationProblem, plan: AllocationPlan) -> list[str]:
    """Capacity in shipments and the split limit."""
    found = []
    load: Counter[str] = Counter()
    origins: defaultdict[str, set[str]] = defaultdict(set)
    for order_id, key in shipments_of(problem, plan.assignments):
        origin = key.split(":", 1)[1].split(">")[0]
        load[origin] += 1
        origins[order_id].add(origin)
    for location_id, shipments in sorted(load.items()):
        capacity = problem.network.location(location_id).capacity
        if capacity is not None and shipments > capacity:
            found.append(f"{location_id} takes {shipments} shipments; its capacity is {capacity}")
    limit = problem.max_splits
    if limit is not None:
        found += [
            f"{o} comes from {len(locs)} origins; the limit is {limit}"
            for o, locs in sorted(origins.items())
            if len(locs) > limit
        ]
    return found


def validate(problem: AllocationProblem, plan: AllocationPlan | object) -> list[str]:
    """Every way ``plan`` breaks the rules of ``problem``.

    The rules: assignments name real order lines and locations, with positive quantities and
    no repeats; no location gives more of a sku than its supply; each line is served only where
    it may be (shipped lines from a location with SHIP, pickup lines at their own store with
    PICKUP, ship-to-store lines over a lane to the store); assigned plus unallocated is exactly
    the quantity ordered (no over-fill); no location takes more shipments than its capacity; no
    order has more origins than ``max_splits``; the stated cost is the cost model's.

    Any object is accepted, so that a solver's wrong answer (None, a float quantity) is
    reported as problems rather than raised.

    Returns:
        One sentence per problem found; empty when the plan is legal.
    """
    if shape := _shape(plan):
        return shape
    assert isinstance(plan, AllocationPlan)  # _shape said so
    found = _known(problem, plan)
    if found:
        return found
    seen = Counter((a.order_id, a.line_id, a.location) for a in plan.assignments)
    found += [
        f"{o}/{line} from {loc} is listed {n} times" for (o, line, loc), n in seen.items() if n > 1
    ]
    found += _placement(problem, plan)
    found += _shipping(problem, plan)
    cost = evaluate(problem, plan.assignments)
    if cost != plan.cost:
        found.append(f"the plan says it costs {plan.cost}; the cost model says {cost}")
    return found
