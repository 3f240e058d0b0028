"""Your own sourcing rule: a "stores first" solver, checked by ``validate`` and used by an Engine.

At the end of the season a homeware retailer wants web parcels of its summer range to leave from
the stores, nearest first, to clear the shop floor, even though a warehouse parcel is cheaper. In
a closed order system that rule is a change request to the vendor; in a home-grown one, an
if-chain that one day ships from a store with no parcel desk. Here a solver is any object with a
``name`` and ``solve(problem)`` (the ``Solver`` protocol); ``Tracker`` keeps it within supply,
capabilities, capacity and split limits, ``validate`` checks any plan, and an ``Engine`` given
``solver=`` refuses an invalid plan before it writes a single reservation.
"""

from __future__ import annotations

from decimal import Decimal

from omniorder import (
    Capability,
    Channel,
    Engine,
    Geo,
    InvalidPlan,
    Location,
    LocationKind,
    Network,
    Order,
    OrderLine,
    Ship,
)
from omniorder.allocation import (
    AllocationPlan,
    AllocationProblem,
    Assignment,
    Solver,
    Tracker,
    default_solver,
    evaluate,
    validate,
)

CUSTOMER = Geo(53.38, -1.47)  # Sheffield


class StoresFirstSolver:
    """Take each line from stores that can serve it, nearest first, then from warehouses."""

    name = "stores-first"

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A plan that empties the stores' shelves before the warehouses'."""
        tracker = Tracker(problem)
        for order in problem.orders:
            for line in order.lines:
                to = line.fulfilment.to if isinstance(line.fulfilment, Ship) else None

                def rank(loc: Location, to: Geo | None = to) -> tuple[bool, float, str]:
                    return (loc.kind is LocationKind.WAREHOUSE, loc.geo.km(to) if to else 0, loc.id)

                for location in sorted(problem.network.locations, key=rank):
                    if not problem.refusal(order, line, location):  # "" when it may serve
                        tracker.take(order, line, location.id, tracker.need(order, line))
        return tracker.plan(self.name)


class CarelessSolver:
    """A buggy rule written without a Tracker: every line from the store nearest the customer."""

    name = "careless"

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """Whole lines from the nearest location, whether it can ship them or not."""
        nearest = problem.network.nearest(CUSTOMER)[0].id
        given = tuple(
            Assignment(o.id, x.id, nearest, x.quantity) for o in problem.orders for x in o.lines
        )
        return AllocationPlan(given, (), evaluate(problem, given), self.name, problem=problem)


def build_network() -> Network:
    """A warehouse, two stores with a parcel desk, and a Sheffield store without one."""
    desk = {Capability.SHIP, Capability.SELL}
    return Network(
        [
            Location("midlands", LocationKind.WAREHOUSE, Geo(52.486, -1.890), {Capability.SHIP}),
            Location("leeds", LocationKind.STORE, Geo(53.800, -1.549), desk),
            Location("manchester", LocationKind.STORE, Geo(53.480, -2.240), desk),
            Location("sheffield", LocationKind.STORE, Geo(53.381, -1.470), {Capability.SELL}),
        ]
    )


def main() -> None:
    stock = {"midlands": 50, "leeds": 1, "manchester": 3, "sheffield": 4}
    line = OrderLine("1", "deckchair", 3, Decimal(25), Ship(CUSTOMER))
    order = Order("o-5001", Channel.WEB, [line])
    print("1. One web order for 3 deckchairs, sourced by the default solver and by two of ours.")
    supply = {(location, "deckchair"): units for location, units in stock.items()}
    problem = AllocationProblem(network=build_network(), orders=[order], supply=supply)
    solvers: tuple[Solver, ...] = (default_solver(), StoresFirstSolver(), CarelessSolver())
    for solver in solvers:
        plan = solver.solve(problem)
        taken = {a.location: a.quantity for a in plan.assignments}
        print(f"    {plan.solver:<13} cost {plan.cost:6.2f}, takes {taken}")
        print(f"        validate: {validate(problem, plan) or 'ok'}")

    for number, solver in enumerate(solvers[1:], start=2):
        print(f"{number}. An engine that sources every order with {solver.name}.")
        engine = Engine(build_network(), solver=solver)
        for location, units in stock.items():
            engine.receive(location, "deckchair", units)
        try:
            view = engine.place_order(order, key="checkout-5001")
            print(f"    {view.order_id} is {view.status}: {dict(view.lines[0].sourced)}")
        except InvalidPlan as refused:
            print(f"    refused, nothing written: {refused}")
        left, check = engine.availability_by_location("deckchair"), engine.verify() or "clean"
        print(f"    the web may sell {left}; ledger check: {check}")


if __name__ == "__main__":
    main()
