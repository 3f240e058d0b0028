"""A solver's scratch pad: what is left, what is given, which shipments are open.

Every solver builds its plan through a :class:`Tracker`, so supply, capacity and split limits
are enforced in one place and every plan is finished (sorted, costed, unfilled lines explained)
the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from omniorder.allocation.plan import AllocationPlan, Assignment, Unallocated, evaluate
from omniorder.allocation.problem import AllocationProblem, StockKey
from omniorder.model.order import Order, OrderLine

__all__ = ["Tracker"]


class Tracker:
    """Supply left, units given, and the shipments each location and order has open."""

    def __init__(self, problem: AllocationProblem) -> None:
        self.problem = problem
        self.left: dict[StockKey, int] = dict(problem.supply)
        self.by_order: defaultdict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        self.holders: defaultdict[StockKey, Counter[str]] = defaultdict(Counter)
        self.given: Counter[tuple[str, str]] = Counter()
        self.load: Counter[str] = Counter()  # shipments open per origin
        self.carried: defaultdict[str, Counter[str]] = defaultdict(Counter)  # order -> key -> units
        self.origins: defaultdict[str, Counter[str]] = defaultdict(
            Counter
        )  # order -> origin -> units

    # -- questions ---------------------------------------------------------------------------

    def need(self, order: Order, line: OrderLine) -> int:
        """Units of ``line`` still to source."""
        return line.quantity - self.given[(order.id, line.id)]

    def available(self, location: str, sku: str) -> int:
        """Units of ``sku`` still free at ``location``."""
        return self.left.get((location, sku), 0)

    def opens_shipment(self, order: Order, line: OrderLine, location: str) -> bool:
        """Whether a unit of ``line`` from ``location`` would start a new shipment."""
        key = self.problem.shipment_key(order, line, location)
        return key is not None and self.carried[order.id][key] == 0

    def blocked(self, order: Order, line: OrderLine, location: str) -> str:
        """Why no unit of ``line`` may come from ``location`` now ("" if it may)."""
        refusal = self.problem.refusal(order, line, self.problem.location(location))
        if refusal:
            return refusal
        if not self.opens_shipment(order, line, location):
            return ""
        capacity = self.problem.location(location).capacity
        if capacity is not None and self.load[location] >= capacity:
            return f"capacity used up at {location} ({capacity} shipments)"
        limit = self.problem.max_splits
        origins = self.origins[order.id]
        if limit is not None and location not in origins and len(origins) >= limit:
            return f"the split limit of {limit} origins is reached"
        return ""

    # -- changes -----------------------------------------------------------------------------

    def take(self, order: Order, line: OrderLine, location: str, wanted: int) -> int:
        """Give up to ``wanted`` units of ``line`` from ``location``; return how many."""
        units = min(wanted, self.need(order, line), self.available(location, line.sku))
        if units <= 0 or self.blocked(order, line, location):
            return 0
        key = self.problem.shipment_key(order, line, location)
        if key is not None:
            if self.carried[order.id][key] == 0:
                self.load[location] += 1
            self.carried[order.id][key] += units
            self.origins[order.id][location] += units
        self.left[(location, line.sku)] -= units
        mine = self.by_order[order.id]
        mine[(line.id, location)] = mine.get((line.id, location), 0) + units
        self.holders[(location, line.sku)][order.id] += units
        self.given[(order.id, line.id)] += units
        return units

    def give_back(self, order: Order, line: OrderLine, location: str, units: int) -> None:
        """Undo ``units`` of a :meth:`take` (local search moves units around)."""
        mine = self.by_order[order.id]
        held = mine.get((line.id, location), 0)
        if not 0 < units <= held:
            raise ValueError(f"cannot give back {units} of {order.id}/{line.id}: {held} given")
        key = self.problem.shipment_key(order, line, location)
        if key is not None:
            self.carried[order.id][key] -= units
            self.origins[order.id][location] -= units
            if self.carried[order.id][key] == 0:
                self.load[location] -= 1
                del self.carried[order.id][key]
            if self.origins[order.id][location] == 0:
                del self.origins[order.id][location]
        self.left[(location, line.sku)] += units
        if held == units:
            del mine[(line.id, location)]
        else:
            mine[(line.id, location)] = held - units
        holders = self.holders[(location, line.sku)]
        holders[order.id] -= units
        if not holders[order.id]:
            del holders[order.id]
        self.given[(order.id, line.id)] -= units

    def take_order_lines(self, order: Order) -> list[tuple[OrderLine, str, int]]:
        """Everything given to ``order``: ``(line, location, units)``, by line id, location."""
        return [
            (order.line(line_id), location, units)
            for (line_id, location), units in sorted(self.by_order[order.id].items())
        ]

    # -- the result --------------------------------------------------------------------------

    def assignments(self) -> list[Assignment]:
        """The units given, in plan order (orders as in the problem, then lines, locations)."""
        found = []
        for order in self.problem.orders:
            mine = self.by_order.get(order.id, {})
            for line in order.lines:
                found += [
                    Assignment(order.id, line.id, location, mine[(line.id, location)])
                    for location in sorted(loc for line_id, loc in mine if line_id == line.id)
                ]
        return found

    def cost(self) -> Decimal:
        """What the plan so far costs."""
        return evaluate(self.problem, self.assignments())

    def why_unfilled(self, order: Order, line: OrderLine) -> str:
        """Why some units of ``line`` found no location."""
        problem = self.problem
        able = [
            loc.id for loc in problem.network.locations if not problem.refusal(order, line, loc)
        ]
        if not able:
            refusals = {problem.refusal(order, line, loc) for loc in problem.network.locations}
            return "no location can serve it (" + "; ".join(sorted(refusals)) + ")"
        total = sum(problem.units(loc, line.sku) for loc in able)
        if total == 0:
            return f"not stocked at any location that can serve it ({', '.join(able)})"
        with_stock = [loc for loc in able if self.available(loc, line.sku) > 0]
        if not with_stock:
            others = total - self.given[(order.id, line.id)]
            return (
                f"not enough stock: {total} where it can come from, "
                f"{others} of them given to other lines"
            )
        blocks = sorted({self.blocked(order, line, loc) for loc in with_stock} - {""})
        return "; ".join(blocks) if blocks else "left unfilled by the solver"

    def plan(
        self,
        solver: str,
        *,
        gap: float | None = None,
        stats: dict[str, float | int | str] | None = None,
    ) -> AllocationPlan:
        """The finished plan: sorted assignments, unfilled lines with reasons, the cost."""
        unallocated = [
            Unallocated(order.id, line.id, self.need(order, line), self.why_unfilled(order, line))
            for order in self.problem.orders
            for line in order.lines
            if self.need(order, line) > 0
        ]
        assignments = self.assignments()
        return AllocationPlan(
            assignments=tuple(assignments),
            unallocated=tuple(unallocated),
            cost=evaluate(self.problem, assignments),
            solver=solver,
            gap=gap,
            stats=stats or {},
            problem=self.problem,
        )
