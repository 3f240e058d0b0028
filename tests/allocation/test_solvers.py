"""Promise 9: every solver's plan is valid; OptimalSolver's is never costlier than another's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from omniorder.allocation import (
    AllocationProblem,
    FlowSolver,
    LocalSearchSolver,
    NearestSolver,
    OptimalSolver,
    PrioritySolver,
    Solver,
    Verdict,
    default_solver,
    validate,
)
from omniorder.testing import strategies as ost

HEURISTICS: list[Solver] = [PrioritySolver(), NearestSolver(), FlowSolver(), LocalSearchSolver()]


@given(ost.problems())
def test_promise_9_every_heuristic_plan_passes_validate(problem: AllocationProblem) -> None:
    for solver in HEURISTICS:
        plan = solver.solve(problem)
        assert validate(problem, plan) == [], solver.name
        assert plan.solver == solver.name


@settings(max_examples=40)
@given(ost.problems(max_orders=4, max_locations=4))
def test_promise_9_optimal_is_valid_and_never_costlier_than_any_other_solver(
    problem: AllocationProblem,
) -> None:
    optimal = OptimalSolver(time_limit=5).solve(problem)
    assert validate(problem, optimal) == []
    assert optimal.gap is not None
    for solver in HEURISTICS:
        assert optimal.cost <= solver.solve(problem).cost, solver.name


@given(ost.problems())
def test_the_same_problem_always_gives_the_same_plan(problem: AllocationProblem) -> None:
    for solver in HEURISTICS:
        first, second = solver.solve(problem), solver.solve(problem)
        assert (first.assignments, first.unallocated, first.cost) == (
            second.assignments,
            second.unallocated,
            second.cost,
        )


@given(ost.problems())
def test_explain_gives_every_location_a_verdict_for_every_line(
    problem: AllocationProblem,
) -> None:
    plan = default_solver().solve(problem)
    for order in problem.orders:
        lines = plan.explain(order.id)
        assert [e.line_id for e in lines] == [line.id for line in order.lines]
        for explanation in lines:
            assert {c.location for c in explanation.candidates} == {
                loc.id for loc in problem.network.locations
            }
            taken = sum(c.units for c in explanation.candidates if c.verdict is Verdict.TAKEN)
            assert taken + explanation.unallocated == explanation.quantity
            assert str(explanation).startswith(f"{order.id}/{explanation.line_id}")


def test_default_solver_is_the_local_search() -> None:
    assert isinstance(default_solver(), LocalSearchSolver)


@pytest.mark.parametrize("kwargs", [{"time_limit": 0}, {"time_limit": True}, {"gap": 1.5}])
def test_optimal_solver_refuses_bad_settings(kwargs: dict[str, object]) -> None:
    from omniorder import InvalidInput

    with pytest.raises(InvalidInput):
        OptimalSolver(**kwargs)  # type: ignore[arg-type]


def test_optimal_solver_without_highspy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "highspy", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "omniorder\[optimal\]"'):
        OptimalSolver()


@given(ost.problems())
def test_explain_calls_a_cheaper_source_a_heuristic_passed_over_missed_never_costlier(
    problem: AllocationProblem,
) -> None:
    plan = PrioritySolver().solve(problem)  # by priority, not cost: it misses cheaper sources
    for order in problem.orders:
        for explanation in plan.explain(order.id):
            for c in explanation.candidates:
                if c.verdict is Verdict.COSTLIER:
                    assert c.extra_cost is not None
                    assert c.extra_cost >= 0
                    assert c.detail.startswith("costlier by ")
                elif c.verdict is Verdict.MISSED:
                    assert c.extra_cost is not None
                    assert c.extra_cost < 0
                    assert c.detail.startswith("cheaper by ")
