"""NearestSolver: Shopify's built-in routing rule order, order by order."""

from __future__ import annotations

import itertools
import time

from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.problem import AllocationProblem
from omniorder.allocation.tracker import Tracker
from omniorder.model.order import Order, OrderLine, Ship

__all__ = ["NearestSolver"]


class NearestSolver:
    """Fewest shipments first, then the closest locations (great-circle distance).

    Per order, as it came: the nearest location that can ship every shipped line whole; else
    the combination of the fewest locations that can (up to ``search`` of the nearest stocked
    locations, combinations of at most three), nearest in total first; else the nearest
    locations one after another. Pickup lines come from their store; ship-to-store lines from
    the origins nearest to the store. Distance ties break on location id.

    Args:
        search: how many of the nearest stocked locations the combination search looks at.
    """

    name = "nearest"

    def __init__(self, search: int = 8) -> None:
        self.search = search

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A plan with the fewest splits, nearest first."""
        started = time.perf_counter()
        tracker = Tracker(problem)
        for order in problem.orders:
            shipped = [line for line in order.lines if problem.kind(line) == "ship"]
            if shipped:
                self._ship(tracker, order, shipped)
            for line in order.lines:
                if problem.kind(line) != "ship":
                    self._nearest_first(tracker, order, line)
        ms = (time.perf_counter() - started) * 1000
        return tracker.plan(self.name, stats={"ms": round(ms, 3)})

    @staticmethod
    def _nearest_first(tracker: Tracker, order: Order, line: OrderLine) -> None:
        problem = tracker.problem
        fulfilment = line.fulfilment
        target = (
            order.ship_to if isinstance(fulfilment, Ship) else problem.location(fulfilment.at).geo
        )
        assert target is not None
        for location in problem.network.nearest(target):
            if tracker.need(order, line) == 0:
                return
            if not problem.refusal(order, line, location):
                tracker.take(order, line, location.id, tracker.need(order, line))

    def _ship(self, tracker: Tracker, order: Order, lines: list[OrderLine]) -> None:
        problem = tracker.problem
        assert order.ship_to is not None
        stocked = [
            loc.id
            for loc in problem.network.nearest(order.ship_to)
            if not problem.refusal(order, lines[0], loc)
            and not tracker.blocked(order, lines[0], loc.id)
            and any(tracker.available(loc.id, line.sku) for line in lines)
        ][: self.search]
        km = {loc: problem.location(loc).geo.km(order.ship_to) for loc in stocked}
        limit = problem.max_splits or 3
        for size in range(1, min(3, limit) + 1):
            combos = sorted(
                itertools.combinations(stocked, size),
                key=lambda combo: (sum(km[loc] for loc in combo), combo),
            )
            for combo in combos:  # the nearest in total first
                if all(
                    sum(tracker.available(loc, line.sku) for loc in combo) >= line.quantity
                    for line in lines
                ):
                    for line in lines:
                        for loc in combo:
                            tracker.take(order, line, loc, tracker.need(order, line))
                    return
        for line in lines:
            self._nearest_first(tracker, order, line)
