"""PrioritySolver: the classic rule engine (what Magento MSI, Saleor and Solidus do by default)."""

from __future__ import annotations

import time

from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.problem import AllocationProblem
from omniorder.allocation.tracker import Tracker

__all__ = ["PrioritySolver"]


class PrioritySolver:
    """Serve orders as they came; take each line from locations in priority order.

    Locations are tried by ``priority`` (lower first), ties broken by location id; each gives
    what it can until the line is filled. Cost plays no part: this is the baseline that rules
    engines implement.
    """

    name = "priority"

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A plan that takes stock in priority order."""
        started = time.perf_counter()
        tracker = Tracker(problem)
        ranked = sorted(problem.network.locations, key=lambda loc: (loc.priority, loc.id))
        for order in problem.orders:
            for line in order.lines:
                for location in ranked:
                    if tracker.need(order, line) == 0:
                        break
                    if not problem.refusal(order, line, location):
                        tracker.take(order, line, location.id, tracker.need(order, line))
        ms = (time.perf_counter() - started) * 1000
        return tracker.plan(self.name, stats={"ms": round(ms, 3)})
