"""Comparing solvers: one batch of web orders, several ways to source it, one yardstick.

A furniture retailer with two warehouses and five stores that ship parcels sources each morning's
web orders. The classic rule engine takes stock in a fixed priority order: it splits orders over
several parcels and uses up the stores' few parcel slots, so later orders go unfilled. Swap it for
"nearest first" and nobody can say which is better: each rule is judged by itself.

Here every solver gets the same ``AllocationProblem`` and is judged by the same ``CostModel``
(shipments, handling, a penalty per unfilled unit); ``validate`` checks every plan (supply,
capabilities, capacity, split limits), and ``plan.explain`` says why each location was taken or
passed over. ``OptimalSolver`` (extra ``optimal``) joins in when ``highspy`` is installed.
"""

from __future__ import annotations

import contextlib
import random
import textwrap
from decimal import Decimal

from omniorder import (
    Capability,
    Channel,
    Geo,
    Location,
    LocationKind,
    Network,
    Order,
    OrderLine,
    Pickup,
    Ship,
)
from omniorder.allocation import (
    AllocationPlan,
    AllocationProblem,
    FlowSolver,
    NearestSolver,
    OptimalSolver,
    PrioritySolver,
    Solver,
    default_solver,
    validate,
)

SHIPS, STORE = {Capability.SHIP}, {Capability.SHIP, Capability.PICKUP, Capability.SELL}
SITES = {  # id: (kind, where, capabilities, priority, shipments it can take per run)
    "wh-midlands": (LocationKind.WAREHOUSE, Geo(52.49, -1.89), SHIPS, 1, None),
    "wh-scotland": (LocationKind.WAREHOUSE, Geo(55.90, -3.52), SHIPS, 2, None),
    "london": (LocationKind.STORE, Geo(51.51, -0.13), STORE, 3, 6),
    "manchester": (LocationKind.STORE, Geo(53.48, -2.24), STORE, 3, 5),
    "bristol": (LocationKind.STORE, Geo(51.45, -2.59), STORE, 3, 5),
    "leeds": (LocationKind.STORE, Geo(53.80, -1.55), STORE, 3, 5),
    "glasgow": (LocationKind.STORE, Geo(55.86, -4.25), STORE, 3, 5),
}
SKUS = ("lamp", "rug", "vase", "mirror", "chair", "cushion")


def build_problem(seed: int = 7, orders: int = 30) -> AllocationProblem:
    """A seeded batch: customers near the stores' cities, a few pickups, busy store parcels."""
    rng = random.Random(seed)
    network = Network([Location(i, *spec) for i, spec in SITES.items()])
    stores = [i for i, (kind, *_) in SITES.items() if kind is LocationKind.STORE]
    batch = []
    for n in range(orders):
        city = rng.choice(stores)
        near = SITES[city][1]
        home = Geo(near.lat + rng.uniform(-0.3, 0.3), near.lon + rng.uniform(-0.3, 0.3))
        how = Pickup(city) if rng.random() < 0.15 else Ship(home)
        skus = rng.sample(SKUS, rng.randint(1, 3))
        lines = [
            OrderLine(str(k), s, rng.randint(1, 2), Decimal(30), how) for k, s in enumerate(skus, 1)
        ]
        batch.append(Order(f"o-{n + 1:03d}", Channel.WEB, lines))
    supply = {(loc, sku): rng.randint(0, 9) for loc in SITES for sku in SKUS}
    return AllocationProblem(network=network, orders=batch, supply=supply, max_splits=2)


def solvers() -> list[Solver]:
    """Every solver that ships with omniorder; the exact one only with the ``optimal`` extra."""
    found: list[Solver] = [PrioritySolver(), NearestSolver(), FlowSolver(), default_solver()]
    with contextlib.suppress(ImportError):  # OptimalSolver() needs highspy (extra optimal)
        found.append(OptimalSolver(time_limit=30.0, threads=1))
    return found


def split_orders(plan: AllocationPlan) -> int:
    """Orders sourced from more than one location."""
    origins: dict[str, set[str]] = {}
    for a in plan.assignments:
        origins.setdefault(a.order_id, set()).add(a.location)
    return sum(len(where) > 1 for where in origins.values())


def main() -> None:
    problem = build_problem()
    units = sum(line.quantity for order in problem.orders for line in order.lines)
    print(f"1. {len(problem.orders)} orders, {units} units, {len(SITES)} locations, max 2 origins.")
    print(f"   {'solver':<13} {'cost':>8} {'split orders':>13} {'unfilled':>9}  validate")
    plans: dict[str, AllocationPlan] = {}
    for solver in solvers():
        plan = plans[solver.name] = solver.solve(problem)
        cost, problems = plan.cost.quantize(Decimal("0.01")), validate(problem, plan)
        print(
            f"   {plan.solver:<13} {cost:>8} {split_orders(plan):>13} {plan.unfilled():>9}  "
            f"{problems or 'ok'}"
        )
    best = min(plans.values(), key=lambda p: p.cost)
    extra = plans["priority"].cost - best.cost
    print(f"2. The cheapest plan is {best.solver}'s; the rule engine's costs {extra:.2f} more.")
    shipped = next(o for o in problem.orders if {type(x.fulfilment) for x in o.lines} == {Ship})
    print(f"3. Why the default solver sourced {shipped.id} as it did:")
    for line in plans[default_solver().name].explain(shipped.id):
        print(textwrap.indent(str(line), "   "))


if __name__ == "__main__":
    main()
