"""The Solver protocol: anything with a name and ``solve(problem) -> plan``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.problem import AllocationProblem

__all__ = ["Solver"]


@runtime_checkable
class Solver(Protocol):
    """Sources orders.

    A solver must be deterministic (the same problem gives the same plan) and should return a
    plan that passes :func:`~omniorder.allocation.validate`; the engine validates every plan
    before it writes a reservation and refuses an invalid one. Build plans with
    :class:`~omniorder.allocation.tracker.Tracker` to get supply, capacity and split limits
    enforced and the plan costed and explained for free.

    Attributes:
        name: shown in plans and benchmarks.
    """

    name: str

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A plan for ``problem``."""
        ...
