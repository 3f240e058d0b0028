"""Sourcing: which locations give which order lines (DESIGN §3).

::

    problem = AllocationProblem(network=network, orders=[order, ...],
                                supply={(location_id, sku): units_free, ...},
                                cost=CostModel(), max_splits=None)
    plan = solver.solve(problem)      # any Solver: default_solver(), PrioritySolver(), ...
    validate(problem, plan)           # [] when the plan is legal
    plan.explain(order.id)            # every candidate location per line, and why

Solvers: :class:`PrioritySolver` (the classic rule engine), :class:`NearestSolver` (Shopify's
rule order), :class:`FlowSolver` (min-cost flow), :class:`OptimalSolver` (exact MIP on HiGHS,
extra ``optimal``), and :func:`default_solver` (:class:`LocalSearchSolver`: near-optimal and fast,
no extra dependency). All are deterministic.
"""

from omniorder.allocation.cost import DEFAULT_HANDLING, CostModel
from omniorder.allocation.explain import CandidateView, LineExplanation, Verdict
from omniorder.allocation.flow import FlowSolver
from omniorder.allocation.local import LocalSearchSolver, default_solver
from omniorder.allocation.nearest import NearestSolver
from omniorder.allocation.optimal import OptimalSolver
from omniorder.allocation.plan import AllocationPlan, Assignment, Unallocated, evaluate
from omniorder.allocation.priority import PrioritySolver
from omniorder.allocation.problem import AllocationProblem, Route
from omniorder.allocation.protocol import Solver
from omniorder.allocation.tracker import Tracker
from omniorder.allocation.validate import validate

__all__ = [
    "DEFAULT_HANDLING",
    "AllocationPlan",
    "AllocationProblem",
    "Assignment",
    "CandidateView",
    "CostModel",
    "FlowSolver",
    "LineExplanation",
    "LocalSearchSolver",
    "NearestSolver",
    "OptimalSolver",
    "PrioritySolver",
    "Route",
    "Solver",
    "Tracker",
    "Unallocated",
    "Verdict",
    "default_solver",
    "evaluate",
    "validate",
]
