"""Promise 9: every solver's plan is valid; OptimalSolver's is never costlier than another's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from omniorder.allocation import (
    AllocationProblem,
    Assignment,
    FlowSolver,
    LocalSearchSolver,
    NearestSolver,
    OptimalSolver,
    PrioritySolver,
    Solver,
    Tracker,
    Verdict,
    default_solver,
    evaluate,
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


def _small_problem(**kwargs: object) -> AllocationProblem:
    """Two ship orders of 2 lamps each; the warehouse and the shop each hold 2."""
    from decimal import Decimal

    from omniorder import Capability, Channel, Geo, Location, LocationKind, Network
    from omniorder.model.order import Order, OrderLine, Ship

    network = Network(
        [
            Location("wh", LocationKind.WAREHOUSE, Geo(52.0, -1.0), {Capability.SHIP}),
            Location("shop", LocationKind.STORE, Geo(51.5, -0.1), {Capability.PICKUP}),
            Location("depot", LocationKind.WAREHOUSE, Geo(51.0, -1.0), {Capability.SHIP}),
        ]
    )
    home = Ship(Geo(51.5, -0.12))
    orders = [
        Order(f"o{n}", Channel.WEB, [OrderLine("1", "lamp", 2, Decimal(10), home)]) for n in (1, 2)
    ]
    fields: dict[str, object] = {"supply": {("wh", "lamp"): 1, ("depot", "lamp"): 3}}
    return AllocationProblem(network, orders, **(fields | kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"orders": ["o1"]}, "orders"),
        ({"supply": [("wh", "lamp", 1)]}, "supply"),
        ({"supply": {"wh/lamp": 1}}, "supply"),
        ({"supply": {("wh", "lamp", "x"): 1}}, "supply"),
        ({"cost": "cheapest"}, "cost"),
    ],
)
def test_a_problem_given_the_wrong_kind_of_value_is_refused_with_invalid_input(
    kwargs: dict[str, object], field: str
) -> None:
    from omniorder import InvalidInput

    if "orders" in kwargs:
        base = _small_problem()
        with pytest.raises(InvalidInput) as refused:
            AllocationProblem(base.network, kwargs["orders"], base.supply)  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidInput) as refused:
            _small_problem(**kwargs)
    assert refused.value.field == field


def test_a_problem_with_two_orders_of_one_id_is_refused() -> None:
    from omniorder import InvalidInput

    base = _small_problem()
    with pytest.raises(InvalidInput, match="order ids must be unique"):
        AllocationProblem(base.network, [base.orders[0], base.orders[0]], base.supply)


def test_a_problem_has_no_lane_from_or_to_a_location_the_network_does_not_know() -> None:
    problem = _small_problem()
    assert problem.lane("nowhere", "shop") is None
    assert problem.lane("wh", "nowhere") is None
    assert problem.lane("wh", "shop") is None  # known, but no lane between them


def test_a_tracker_blocks_a_location_that_cannot_serve_the_line_or_would_pass_the_split_limit() -> (
    None
):
    problem = _small_problem(max_splits=1)
    tracker = Tracker(problem)
    o1, o2 = problem.orders
    (line,) = o1.lines
    assert tracker.blocked(o1, line, "shop") == "lacks SHIP"
    assert tracker.take(o1, line, "shop", 2) == 0
    assert tracker.take(o1, line, "wh", 2) == 1  # all the warehouse has
    assert tracker.blocked(o1, line, "depot") == "the split limit of 1 origins is reached"
    assert tracker.take(o1, line, "depot", 1) == 0
    assert tracker.blocked(o1, line, "wh") == ""  # the open shipment may carry more
    assert tracker.blocked(o2, o2.lines[0], "depot") == ""  # another order has its own limit
    plan = tracker.plan("test")
    assert validate(problem, plan) == []
    assert [(u.order_id, u.quantity) for u in plan.unallocated] == [("o1", 1), ("o2", 2)]


def test_a_tracker_gives_back_part_or_all_of_a_take_and_refuses_to_give_back_more() -> None:
    problem = _small_problem()
    tracker = Tracker(problem)
    o1 = problem.orders[0]
    (line,) = o1.lines
    assert tracker.take(o1, line, "depot", 2) == 2
    tracker.give_back(o1, line, "depot", 1)  # part: the shipment stays open
    assert (tracker.available("depot", "lamp"), tracker.need(o1, line)) == (2, 1)
    assert tracker.take_order_lines(o1) == [(line, "depot", 1)]
    assert tracker.load["depot"] == 1
    assert tracker.assignments() == [Assignment("o1", "1", "depot", 1)]
    assert tracker.cost() == evaluate(problem, tracker.assignments())
    with pytest.raises(ValueError, match="cannot give back 2 of o1/1: 1 given"):
        tracker.give_back(o1, line, "depot", 2)
    with pytest.raises(ValueError, match="cannot give back 0"):
        tracker.give_back(o1, line, "depot", 0)
    tracker.give_back(o1, line, "depot", 1)  # all: nothing left open
    assert (tracker.available("depot", "lamp"), tracker.need(o1, line)) == (3, 2)
    assert tracker.take_order_lines(o1) == []
    assert tracker.load["depot"] == 0
    assert tracker.cost() == evaluate(problem, [])
