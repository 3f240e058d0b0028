"""validate(problem, plan) finds every broken rule, and only broken rules."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from omniorder import Capability, Channel, Geo, Location, LocationKind, Network, OmniOrderError
from omniorder.allocation import (
    AllocationPlan,
    AllocationProblem,
    Assignment,
    LocalSearchSolver,
    Unallocated,
    evaluate,
    validate,
)
from omniorder.model.order import Order, OrderLine, Pickup, Ship

HOME = Geo(51.5, -0.12)


def _network() -> Network:
    return Network(
        [
            Location("wh", LocationKind.WAREHOUSE, Geo(52.0, -1.0), {Capability.SHIP}, capacity=1),
            Location(
                "shop", LocationKind.STORE, Geo(51.5, -0.1), {Capability.SHIP, Capability.PICKUP}
            ),
            Location("kiosk", LocationKind.STORE, Geo(51.4, -0.2), set()),
        ]
    )


def _problem(**kwargs: object) -> AllocationProblem:
    orders = [
        Order("o1", Channel.WEB, [OrderLine("1", "a", 2, Decimal(10), Ship(HOME))]),
        Order("o2", Channel.APP, [OrderLine("1", "a", 1, Decimal(10), Pickup("shop"))]),
    ]
    fields: dict[str, object] = {"supply": {("wh", "a"): 2, ("shop", "a"): 2, ("kiosk", "a"): 5}}
    fields |= kwargs
    return AllocationProblem(_network(), orders, **fields)  # type: ignore[arg-type]


def _plan(
    problem: AllocationProblem,
    assignments: list[Assignment],
    unallocated: tuple[Unallocated, ...] = (),
) -> AllocationPlan:
    try:
        cost = evaluate(problem, assignments)
    except OmniOrderError:  # assignments naming things that do not exist cannot be costed
        cost = Decimal(0)
    return AllocationPlan(tuple(assignments), unallocated, cost, "test")


def test_a_solver_plan_is_valid() -> None:
    problem = _problem()
    assert validate(problem, LocalSearchSolver().solve(problem)) == []


@pytest.mark.parametrize(
    ("assignments", "needle"),
    [
        ([Assignment("o1", "1", "wh", 3), Assignment("o2", "1", "shop", 1)], "has 2"),
        ([Assignment("o1", "1", "kiosk", 2), Assignment("o2", "1", "shop", 1)], "lacks SHIP"),
        ([Assignment("o1", "1", "wh", 2), Assignment("o2", "1", "wh", 1)], "pickup store"),
        ([Assignment("o1", "1", "wh", 2)], "0 of 1 accounted"),
        (
            [
                Assignment("o1", "1", "wh", 1),
                Assignment("o1", "1", "shop", 2),
                Assignment("o2", "1", "shop", 1),
            ],
            "3 of 2",
        ),
        (
            [
                Assignment("o1", "1", "wh", 2),
                Assignment("o1", "1", "wh", 1),
                Assignment("o2", "1", "shop", 1),
            ],
            "listed 2 times",
        ),
        ([Assignment("o9", "1", "wh", 2)], "no such order line"),
        ([Assignment("o1", "1", "mars", 2)], "unknown location"),
        (
            [
                Assignment("o1", "1", "wh", 0),
                Assignment("o1", "1", "shop", 2),
                Assignment("o2", "1", "shop", 1),
            ],
            "quantity 0",
        ),
    ],
)
def test_each_broken_rule_is_reported(assignments: list[Assignment], needle: str) -> None:
    problem = _problem()
    found = validate(problem, _plan(problem, assignments))
    assert any(needle in problem_text for problem_text in found), found


def test_a_location_over_its_shipment_capacity_is_reported() -> None:
    orders = [
        Order(f"o{i}", Channel.WEB, [OrderLine("1", "a", 1, Decimal(1), Ship(HOME))])
        for i in range(2)
    ]
    problem = AllocationProblem(_network(), orders, {("wh", "a"): 5})
    plan = _plan(problem, [Assignment("o0", "1", "wh", 1), Assignment("o1", "1", "wh", 1)])
    assert validate(problem, plan) == ["wh takes 2 shipments; its capacity is 1"]


def test_an_order_from_more_origins_than_the_split_limit_is_reported() -> None:
    problem = _problem(max_splits=1)
    plan = _plan(
        problem,
        [
            Assignment("o1", "1", "wh", 1),
            Assignment("o1", "1", "shop", 1),
            Assignment("o2", "1", "shop", 1),
        ],
    )
    assert validate(problem, plan) == ["o1 comes from 2 origins; the limit is 1"]


def test_a_cost_that_is_not_the_cost_models_is_reported() -> None:
    problem = _problem()
    plan = LocalSearchSolver().solve(problem)
    wrong = attrs.evolve(plan, cost=plan.cost - 1)
    assert validate(problem, wrong) == [
        f"the plan says it costs {wrong.cost}; the cost model says {plan.cost}"
    ]


def test_unfilled_units_are_accounted_for_with_a_reason() -> None:
    problem = _problem(supply={("shop", "a"): 1})
    plan = LocalSearchSolver().solve(problem)
    assert validate(problem, plan) == []
    # One unit for two orders: the pickup takes it (cheaper than shipping it and leaving
    # the pickup short), and the shipped order is told why it gets nothing.
    assert [(u.order_id, u.quantity, u.reason) for u in plan.unallocated] == [
        ("o1", 2, "not enough stock: 1 where it can come from, 1 of them given to other lines")
    ]


@pytest.mark.parametrize(
    ("answer", "needle"),
    [
        (None, "returned NoneType, not an AllocationPlan"),
        ("a plan", "returned str"),
        (AllocationPlan((Assignment("o1", "1", "wh", 2.0),), (), Decimal(0), "t"), "not an int"),  # type: ignore[arg-type]
        (AllocationPlan((Assignment("o1", "1", "wh", True),), (), Decimal(0), "t"), "not an int"),
        (AllocationPlan([("o1", "1", "wh", 2)], (), Decimal(0), "t"), "not a Assignment"),  # type: ignore[arg-type]
        (AllocationPlan((), (), 1.5, "t"), "not a finite Decimal"),  # type: ignore[arg-type]
    ],
)
def test_an_answer_that_is_not_a_plan_is_reported_not_raised(answer: object, needle: str) -> None:
    problems = validate(_problem(), answer)
    assert any(needle in p for p in problems), problems


def test_the_engine_turns_any_broken_answer_into_invalid_plan() -> None:
    from datetime import UTC, datetime

    from omniorder import Engine, InvalidPlan, ManualClock
    from omniorder.testing import take_snapshot

    class Broken:
        name = "broken"

        def __init__(self, answer: object) -> None:
            self.answer = answer

        def solve(self, problem: AllocationProblem) -> AllocationPlan:
            return self.answer  # type: ignore[return-value]

    for answer in (None, AllocationPlan((Assignment("o1", "1", "wh", 1.0),), (), Decimal(0), "x")):  # type: ignore[arg-type]
        engine = Engine(
            _network(),
            solver=Broken(answer),
            clock=ManualClock(datetime(2026, 11, 25, tzinfo=UTC)),
        )
        engine.receive("wh", "a", 5)
        before = take_snapshot(engine.store)
        order = Order("o1", Channel.WEB, [OrderLine("1", "a", 1, Decimal(10), Ship(HOME))])
        with pytest.raises(InvalidPlan, match="broken"):
            engine.place_order(order)
        assert take_snapshot(engine.store) == before
