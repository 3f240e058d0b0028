"""What other systems' own tests expect of sourcing (../shared/PEER_SCENARIOS.md), as our tests.

Fractional peer quantities are doubled to whole units where the expectation still holds.
Scenarios that need holds or backorders (Saleor 11, Solidus 26) are engine tests in the
contract suite (omniorder.testing.contracts.orders).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from omniorder import Capability, Channel, Geo, Location, LocationKind, Network
from omniorder.allocation import (
    AllocationProblem,
    FlowSolver,
    LocalSearchSolver,
    NearestSolver,
    OptimalSolver,
    PrioritySolver,
    Solver,
    validate,
)
from omniorder.model.order import Order, OrderLine, Pickup, Ship

CUSTOMER = Geo(50.11, 8.68)  # Frankfurt
RHINE = Geo(50.0, 8.0)


def _place(place_id: str, priority: int, *, ships: bool = True, geo: Geo = RHINE) -> Location:
    caps = {Capability.SHIP} if ships else set()
    return Location(place_id, LocationKind.WAREHOUSE, geo, caps, priority=priority)


def _order(*lines: tuple[str, int]) -> Order:
    return Order(
        "o1",
        Channel.WEB,
        [
            OrderLine(str(n), sku, units, Decimal(1), Ship(CUSTOMER))
            for n, (sku, units) in enumerate(lines)
        ],
    )


def _given(problem: AllocationProblem, solver: Solver) -> dict[tuple[str, str], int]:
    plan = solver.solve(problem)
    assert validate(problem, plan) == []
    order = problem.orders[0]
    return {(a.location, order.line(a.line_id).sku): a.quantity for a in plan.assignments}


def test_peer_magento_1_priority_selection_skips_out_of_stock_and_disabled_sources() -> None:
    """eu-1 gives 5.5 of SKU-1, eu-2 gives 2.5 of SKU-1 and 4 of SKU-4 (doubled here); the
    out-of-stock row (no supply) and the disabled source (cannot ship) are never used."""
    network = Network(
        [
            _place("eu-1", 1),
            _place("eu-2", 2),
            _place("eu-3", 3),
            _place("eu-disabled", 4, ships=False),
        ]
    )
    supply = {
        ("eu-1", "SKU-1"): 11,
        ("eu-2", "SKU-1"): 6,
        ("eu-3", "SKU-1"): 0,
        ("eu-disabled", "SKU-1"): 20,
        ("eu-2", "SKU-4"): 12,
    }
    problem = AllocationProblem(network, [_order(("SKU-1", 16), ("SKU-4", 8))], supply)
    assert _given(problem, PrioritySolver()) == {
        ("eu-1", "SKU-1"): 11,
        ("eu-2", "SKU-1"): 5,
        ("eu-2", "SKU-4"): 8,
    }


@pytest.mark.parametrize(
    ("priorities", "expected"),
    [
        ({"W1": 1, "W2": 2}, {"W1": 4, "W2": 1}),  # high stock first: W1 holds more
        ({"W1": 2, "W2": 1}, {"W2": 3, "W1": 2}),
    ],  # the channel's sort order puts W2 first
)
def test_peer_saleor_9_the_warehouse_order_decides_the_split(
    priorities: dict[str, int], expected: dict[str, int]
) -> None:
    network = Network([_place(w, p) for w, p in priorities.items()])
    problem = AllocationProblem(network, [_order(("V", 5))], {("W1", "V"): 4, ("W2", "V"): 3})
    given = _given(problem, PrioritySolver())
    assert {loc: units for (loc, _), units in given.items()} == expected


@pytest.mark.parametrize(
    "solver",
    [
        PrioritySolver(),
        NearestSolver(),
        FlowSolver(),
        LocalSearchSolver(),
        OptimalSolver(time_limit=5),
    ],
    ids=lambda s: s.name,
)
def test_peer_saleor_10_a_click_and_collect_order_is_sourced_at_its_store_whatever_the_solver(
    solver: Solver,
) -> None:
    network = Network(
        [
            Location("cc", LocationKind.STORE, RHINE, {Capability.PICKUP}, priority=9),
            _place("big-dc", 1, geo=CUSTOMER),
        ]
    )
    order = Order("o1", Channel.WEB, [OrderLine("1", "V", 5, Decimal(1), Pickup("cc"))])
    problem = AllocationProblem(network, [order], {("cc", "V"): 5, ("big-dc", "V"): 50})
    assert _given(problem, solver) == {("cc", "V"): 5}


def test_peer_solidus_25_on_hand_first_then_the_drop_shipper() -> None:
    """Default location 10/10 of two variants, drop-shipper 20/0; desired 15/5 -> the default
    location gives 10 + 5, the drop-shipper 5 of the first variant."""
    network = Network([_place("default", 1), _place("drop-shipper", 2)])
    supply = {("default", "A"): 10, ("default", "B"): 10, ("drop-shipper", "A"): 20}
    problem = AllocationProblem(network, [_order(("A", 15), ("B", 5))], supply)
    assert _given(problem, PrioritySolver()) == {
        ("default", "A"): 10,
        ("default", "B"): 5,
        ("drop-shipper", "A"): 5,
    }


def test_peer_shopify_33_fewest_splits_first_then_the_closest_location() -> None:
    """Shopify's rule order: minimise split fulfilments, then the closest location."""
    near_a = _place("near-a", 0, geo=Geo(50.12, 8.69))
    near_b = _place("near-b", 0, geo=Geo(50.13, 8.70))
    far_whole = _place("far-whole", 0, geo=Geo(48.14, 11.58))  # Munich: has everything
    farther_whole = _place("farther-whole", 0, geo=Geo(52.52, 13.40))  # Berlin: too
    network = Network([near_a, near_b, far_whole, farther_whole])
    supply = {
        ("near-a", "X"): 1,
        ("near-b", "Y"): 1,
        ("far-whole", "X"): 1,
        ("far-whole", "Y"): 1,
        ("farther-whole", "X"): 1,
        ("farther-whole", "Y"): 1,
    }
    problem = AllocationProblem(network, [_order(("X", 1), ("Y", 1))], supply)
    assert _given(problem, NearestSolver()) == {("far-whole", "X"): 1, ("far-whole", "Y"): 1}


def test_peer_shopify_33_among_locations_that_ship_everything_the_closest_wins() -> None:
    network = Network(
        [_place("munich", 0, geo=Geo(48.14, 11.58)), _place("mainz", 0, geo=Geo(49.99, 8.25))]
    )
    supply = {("munich", "X"): 3, ("mainz", "X"): 3}
    problem = AllocationProblem(network, [_order(("X", 2))], supply)
    assert _given(problem, NearestSolver()) == {("mainz", "X"): 2}
