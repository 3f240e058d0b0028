"""Allocation plans: who gives what to whom, what it costs, and why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType

import attrs

from omniorder.allocation.assignment import Assignment, Unallocated
from omniorder.allocation.explain import LineExplanation, explain
from omniorder.allocation.problem import AllocationProblem
from omniorder.model.errors import InvalidInput

__all__ = ["AllocationPlan", "Assignment", "Unallocated", "evaluate", "shipments_of"]


def _stats(value: Mapping[str, float | int | str]) -> Mapping[str, float | int | str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class AllocationPlan:
    """A solver's answer to an :class:`~omniorder.allocation.AllocationProblem`.

    Attributes:
        assignments: who gives what, sorted by order (as in the problem), line, location.
        unallocated: what nobody gives, with the reason.
        cost: the plan's cost by the problem's :class:`~omniorder.allocation.CostModel`.
        solver: the name of the solver that made it.
        gap: the proven relative optimality gap (``OptimalSolver``), or None when the solver
            proves nothing.
        stats: solver facts (time in ms, nodes, iterations, ...).
        problem: the problem it answers (not serialised; needed by :meth:`explain`).
    """

    assignments: tuple[Assignment, ...]
    unallocated: tuple[Unallocated, ...]
    cost: Decimal
    solver: str
    gap: float | None = None
    stats: Mapping[str, float | int | str] = attrs.field(factory=dict, converter=_stats, hash=False)
    problem: AllocationProblem | None = attrs.field(default=None, eq=False, repr=False, hash=False)

    def for_order(self, order_id: str) -> tuple[Assignment, ...]:
        """The assignments of one order."""
        return tuple(a for a in self.assignments if a.order_id == order_id)

    def unfilled(self) -> int:
        """Units left unallocated, over every order."""
        return sum(u.quantity for u in self.unallocated)

    def explain(self, order_id: str) -> list[LineExplanation]:
        """For each line of the order, every candidate location and why it was taken or passed.

        Raises:
            InvalidInput: the plan was not made for a problem in this process (it was read from
                JSON), or the order is not in the problem.
        """
        if self.problem is None:
            raise InvalidInput(
                "this plan carries no problem to explain it against", field="problem"
            )
        return explain(self.problem, self, order_id)


def shipments_of(
    problem: AllocationProblem, assignments: Iterable[Assignment]
) -> dict[tuple[str, str], Decimal]:
    """Every shipment (or transfer) the assignments make: ``(order, key) -> cost``."""
    found: dict[tuple[str, str], Decimal] = {}
    for a in assignments:
        order = problem.order(a.order_id)
        line = order.line(a.line_id)
        key = problem.shipment_key(order, line, a.location)
        if key is not None:
            found[(a.order_id, key)] = problem.shipment(order, line, a.location)
    return found


def evaluate(problem: AllocationProblem, assignments: Iterable[Assignment]) -> Decimal:
    """The cost of ``assignments`` by the problem's cost model (unfilled units included)."""
    chosen = list(assignments)
    total = sum(shipments_of(problem, chosen).values(), Decimal(0))
    given: defaultdict[tuple[str, str], int] = defaultdict(int)
    for a in chosen:
        total += a.quantity * problem.cost.unit(problem.location(a.location))
        given[(a.order_id, a.line_id)] += a.quantity
    for order in problem.orders:
        for line in order.lines:
            missing = max(0, line.quantity - given[(order.id, line.id)])
            total += missing * problem.cost.unfilled_penalty
    return total
