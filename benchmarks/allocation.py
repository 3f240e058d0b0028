"""Allocation benchmark: every solver on realistic, seeded instances of four sizes.

    python benchmarks/allocation.py [--sizes S,M,L,XL] [--seed 7] [--optimal-seconds 60]

The generator places stores in metro areas (weighted by population), spreads warehouses over
the country, puts customers near metros, draws skus by Zipf popularity, stocks 1.1-1.5x the
demand of each sku (warehouses get more of it than stores), makes a share of the orders pickups
at the customer's nearest store, and caps the shipments of ship-from-store stores.

For each solver it prints cost / best-known (the cheapest plan any solver found; OptimalSolver
gets ``--optimal-seconds`` where the instance fits), the split rate (orders shipped from more
than one origin), unfilled units and milliseconds per order, and each plan's distance to a
proven lower bound: the LP relaxation of the model over every route, or, for batches too big
for that LP, its Lagrangian bound (:func:`lagrangian_bound`).
PrioritySolver is the classic greedy-by-priority baseline (what Magento, Saleor and Solidus do).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from omniorder import Capability, Channel, Geo, Location, LocationKind, Network
from omniorder.allocation import (
    AllocationPlan,
    AllocationProblem,
    FlowSolver,
    LocalSearchSolver,
    NearestSolver,
    OptimalSolver,
    PrioritySolver,
    Solver,
    validate,
)
from omniorder.allocation.problem import Route
from omniorder.model.order import Order, OrderLine, Pickup, Ship

METROS = [  # name, lat, lon, population (millions)
    ("New York", 40.71, -74.01, 19.6),
    ("Los Angeles", 34.05, -118.24, 12.8),
    ("Chicago", 41.88, -87.63, 9.4),
    ("Dallas", 32.78, -96.80, 7.6),
    ("Houston", 29.76, -95.37, 7.1),
    ("Washington", 38.91, -77.04, 6.3),
    ("Philadelphia", 39.95, -75.17, 6.2),
    ("Miami", 25.76, -80.19, 6.1),
    ("Atlanta", 33.75, -84.39, 6.1),
    ("Boston", 42.36, -71.06, 4.9),
    ("Phoenix", 33.45, -112.07, 4.9),
    ("San Francisco", 37.77, -122.42, 4.7),
    ("Seattle", 47.61, -122.33, 4.0),
    ("Minneapolis", 44.98, -93.27, 3.7),
    ("Denver", 39.74, -104.99, 3.0),
    ("St. Louis", 38.63, -90.20, 2.8),
]


@dataclass(frozen=True)
class Size:
    name: str
    orders: int
    locations: int
    skus: int


SIZES = {
    "S": Size("S", 50, 10, 40),
    "M": Size("M", 200, 20, 120),
    "L": Size("L", 1_000, 50, 400),
    "XL": Size("XL", 50_000, 200, 3_000),
}


def _near(rng: random.Random, lat: float, lon: float, km: float) -> Geo:
    distance = abs(rng.gauss(0, km))
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance / 111.0 * math.cos(bearing)
    dlon = distance / (111.0 * max(0.2, math.cos(math.radians(lat)))) * math.sin(bearing)
    return Geo(max(-90.0, min(90.0, lat + dlat)), max(-180.0, min(180.0, lon + dlon)))


def generate(size: Size, seed: int) -> AllocationProblem:
    """A realistic instance of ``size``, the same for the same seed."""
    rng = random.Random(f"{size.name}/{seed}")
    weights = [m[3] for m in METROS]
    warehouses = max(1, size.locations // 8)
    stores = size.locations - warehouses
    per_store_capacity = max(2, size.orders // max(1, stores))
    locations = []
    for i in range(warehouses):
        metro = METROS[(i * 5) % len(METROS)]
        locations.append(
            Location(
                f"dc-{i:03d}",
                LocationKind.WAREHOUSE,
                _near(rng, metro[1], metro[2], 80),
                {Capability.SHIP},
                priority=i,
            )
        )
    for i in range(stores):
        metro = rng.choices(METROS, weights)[0]
        caps = {Capability.SELL, Capability.PICKUP, Capability.RETURNS}
        ships = rng.random() < 0.5
        if ships:
            caps.add(Capability.SHIP)
        locations.append(
            Location(
                f"st-{i:03d}",
                LocationKind.STORE,
                _near(rng, metro[1], metro[2], 15),
                caps,
                priority=100 + i,
                capacity=per_store_capacity if ships else None,
            )
        )
    network = Network(locations)
    pickup_stores = [loc for loc in locations if loc.can(Capability.PICKUP)]
    zipf = [1 / (rank + 1) ** 1.1 for rank in range(size.skus)]
    orders = []
    demand: Counter[str] = Counter()
    pickups: Counter[tuple[str, str]] = Counter()
    for n in range(size.orders):
        metro = rng.choices(METROS, weights)[0]
        home = _near(rng, metro[1], metro[2], 30)
        pickup = rng.random() < 0.15 and pickup_stores
        store = min(pickup_stores, key=lambda loc: (loc.geo.km(home), loc.id)) if pickup else None
        count = 1 + min(3, int(rng.expovariate(1.4)))
        skus = sorted({f"sku-{rng.choices(range(size.skus), zipf)[0]:04d}" for _ in range(count)})
        lines = []
        for j, sku in enumerate(skus):
            units = 1 if rng.random() < 0.75 else 2
            demand[sku] += units
            if store is not None:
                pickups[(store.id, sku)] += units
            lines.append(
                OrderLine(
                    str(j),
                    sku,
                    units,
                    Decimal("49.00"),
                    Pickup(store.id) if store is not None else Ship(home),
                )
            )
        orders.append(Order(f"o{n:05d}", Channel.WEB, lines))
    supply: Counter[tuple[str, str]] = Counter()
    dcs = [loc for loc in locations if loc.kind is LocationKind.WAREHOUSE]
    shops = [loc for loc in locations if loc.kind is LocationKind.STORE]
    for sku, units in demand.items():
        stock = math.ceil(units * rng.uniform(1.1, 1.5))
        for (store_id, wanted), picked in pickups.items():
            if wanted == sku and rng.random() < 0.8:  # most pickup stores carry what is asked
                supply[(store_id, sku)] += picked
                stock -= picked
        for _ in range(max(0, stock)):
            where = rng.choice(dcs) if rng.random() < 0.6 or not shops else rng.choice(shops)
            supply[(where.id, sku)] += 1
    return AllocationProblem(network, orders, dict(supply))


def split_rate(problem: AllocationProblem, plan: AllocationPlan) -> float:
    origins: dict[str, set[str]] = {}
    for a in plan.assignments:
        order = problem.order(a.order_id)
        if problem.shipment_key(order, order.line(a.line_id), a.location) is not None:
            origins.setdefault(a.order_id, set()).add(a.location)
    shipped = sum(1 for o in problem.orders if o.ship_to is not None)
    return sum(1 for locs in origins.values() if len(locs) > 1) / max(1, shipped)


@dataclass
class _Model:
    """An LP of the sourcing MIP (shipments continuous), with the rows a bound needs to read."""

    lp: Any
    supply_row: dict[tuple[str, str], int]
    load_row: dict[str, int]


Prices = tuple[dict[tuple[str, str], float], dict[str, float]]


def _cheapest(
    problem: AllocationProblem,
    order: Order,
    line: OrderLine,
    keep: int | None,
    used: frozenset[str] = frozenset(),
) -> list[Route]:
    routes = list(problem.routes(order, line))
    if keep is None or len(routes) <= keep:
        return routes

    def per_unit(route: Route) -> Decimal:
        most = min(line.quantity, problem.units(route.location, line.sku))
        return route.unit + route.shipment / most

    ranked = sorted(routes, key=lambda r: (per_unit(r), r.location))
    return ranked[:keep] + [r for r in ranked[keep:] if r.location in used]


def _model(  # noqa: PLR0915 - one model, top to bottom
    problem: AllocationProblem,
    orders: list[Order],
    *,
    keep: int | None = None,
    prices: Prices | None = None,
    used: Mapping[tuple[str, str], frozenset[str]] | None = None,
) -> _Model:
    """The LP relaxation of OptimalSolver's model (units x, shipments y with x <= M y, capacity,
    unfilled units) over ``orders``, with y continuous.

    Args:
        keep: only the ``keep`` cheapest routes of each line (a restricted LP: not a bound),
            and the routes ``used`` names for it (``{(order id, line id): locations}``).
        prices: Lagrange multipliers for the supply and capacity rows; when given, those rows
            are left out and their prices added to the costs (one order's Lagrangian problem).
    """
    import highspy
    import numpy as np

    to_minor = problem.cost.to_minor
    lam, nu = prices if prices is not None else ({}, {})
    cost: list[float] = []
    upper: list[float] = []
    rows_i: list[int] = []
    cols_j: list[int] = []
    vals: list[float] = []
    low: list[float] = []
    high: list[float] = []
    inf = highspy.kHighsInf

    def row(lo: float, hi: float) -> int:
        low.append(lo)
        high.append(hi)
        return len(low) - 1

    def col(c: float, up: float) -> int:
        cost.append(c)
        upper.append(up)
        return len(cost) - 1

    def entry(i: int, j: int, v: float) -> None:
        rows_i.append(i)
        cols_j.append(j)
        vals.append(v)

    supply_row: dict[tuple[str, str], int] = {}
    load_row: dict[str, int] = {}
    for order in orders:
        shipments: dict[str, int] = {}
        for line in order.lines:
            demand = row(line.quantity, line.quantity)
            kept = (used or {}).get((order.id, line.id), frozenset())
            for route in _cheapest(problem, order, line, keep, kept):
                stock = (route.location, line.sku)
                most = min(line.quantity, problem.units(*stock))
                x = col(to_minor(route.unit) + lam.get(stock, 0.0), most)
                entry(demand, x, 1.0)
                if prices is None:
                    if stock not in supply_row:
                        supply_row[stock] = row(-inf, problem.units(*stock))
                    entry(supply_row[stock], x, 1.0)
                key = problem.shipment_key(order, line, route.location)
                if key is not None:
                    if key not in shipments:
                        price = to_minor(route.shipment) + nu.get(route.location, 0.0)
                        shipments[key] = col(price, 1.0)
                        capacity = problem.network.location(route.location).capacity
                        if capacity is not None and prices is None:
                            if route.location not in load_row:
                                load_row[route.location] = row(-inf, capacity)
                            entry(load_row[route.location], shipments[key], 1.0)
                    link = row(-inf, 0.0)
                    entry(link, x, 1.0)
                    entry(link, shipments[key], -float(most))
            entry(demand, col(to_minor(problem.cost.unfilled_penalty), line.quantity), 1.0)
    order_rows = np.argsort(np.array(rows_i), kind="stable")
    starts = np.zeros(len(low) + 1, dtype=np.int64)
    np.add.at(starts, np.array(rows_i) + 1, 1)
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = len(low)
    lp.col_cost_ = np.array(cost)
    lp.col_lower_ = np.zeros(len(cost))
    lp.col_upper_ = np.array(upper, dtype=float)
    lp.row_lower_ = np.array(low, dtype=float)
    lp.row_upper_ = np.array(high, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.cumsum(starts)
    lp.a_matrix_.index_ = np.array(cols_j)[order_rows]
    lp.a_matrix_.value_ = np.array(vals)[order_rows]
    return _Model(lp, supply_row, load_row)


def _solve(model: _Model) -> Any:
    import highspy

    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.passModel(model.lp)
    if model.lp.num_col_ > 200_000:  # interior point, no crossover, loose: any prices >= 0 give
        h.setOptionValue("solver", "ipm")  # a valid Lagrangian bound, near-optimal ones a tight one
        h.setOptionValue("run_crossover", "off")
        h.setOptionValue("ipm_optimality_tolerance", 1e-5)
    h.run()
    return h


def lp_bound(problem: AllocationProblem) -> float:
    """The LP relaxation of the sourcing MIP over every route, in money: a proven lower bound."""
    h = _solve(_model(problem, list(problem.orders)))
    return float(h.getInfo().objective_function_value) / problem.cost.minor_units


def _single_line(problem: AllocationProblem, order: Order, prices: Prices) -> float:
    """The exact LP value of a one-line order's Lagrangian problem: a fractional knapsack."""
    (line,) = order.lines
    lam, nu = prices
    to_minor = problem.cost.to_minor
    offers = [(float(to_minor(problem.cost.unfilled_penalty)), line.quantity)]
    for route in problem.routes(order, line):
        stock = (route.location, line.sku)
        most = min(line.quantity, problem.units(*stock))
        per_unit = to_minor(route.unit) + lam.get(stock, 0.0)
        if problem.shipment_key(order, line, route.location) is not None:
            per_unit += (to_minor(route.shipment) + nu.get(route.location, 0.0)) / most
        offers.append((per_unit, most))
    left, total = line.quantity, 0.0
    for per_unit, most in sorted(offers):
        take = min(left, most)
        total += take * per_unit
        left -= take
        if not left:
            break
    return total


def _lagrangian(problem: AllocationProblem, prices: Prices) -> float:
    """The Lagrangian dual function at ``prices``: a lower bound for any prices >= 0."""
    lam, nu = prices
    total: float = -sum(price * problem.units(*stock) for stock, price in lam.items())
    for loc, price in nu.items():
        total -= price * (problem.network.location(loc).capacity or 0)
    for order in problem.orders:
        if len(order.lines) == 1:
            total += _single_line(problem, order, prices)
        else:
            h = _solve(_model(problem, [order], prices=prices))
            total += float(h.getInfo().objective_function_value)
    return total / problem.cost.minor_units


def lagrangian_bound(
    problem: AllocationProblem,
    *,
    keep: int = 16,
    plan: AllocationPlan | None = None,
    scales: tuple[float, ...] = (1.0,),
) -> float:
    """A proven lower bound for batches too big for the LP over every route.

    Solve the LP restricted to each line's ``keep`` cheapest routes, take its duals as prices
    of stock and of shipment capacity, and relax those rows: for any non-negative prices,
    ``sum over orders of (each order's LP at those prices) - prices x (stock, capacity)`` is a
    lower bound on the LP over every route (Lagrangian duality), and each order's problem is
    tiny. When the restricted LP holds the routes that matter, the bound meets its value. The
    routes a good ``plan`` uses are added, so the restricted LP can fill what the plan fills
    (else lines left short inside it price their stock like the unfilled penalty, and the
    bound is poor); the best over multiples ``scales`` of the prices is returned.
    """
    used: dict[tuple[str, str], frozenset[str]] = {}
    if plan is not None:
        found: dict[tuple[str, str], set[str]] = {}
        for a in plan.assignments:
            found.setdefault((a.order_id, a.line_id), set()).add(a.location)
        used = {k: frozenset(v) for k, v in found.items()}
    model = _model(problem, list(problem.orders), keep=keep, used=used)
    duals = _solve(model).getSolution().row_dual
    lam = {stock: max(0.0, -duals[i]) for stock, i in model.supply_row.items()}
    nu = {loc: max(0.0, -duals[i]) for loc, i in model.load_row.items()}
    return max(
        _lagrangian(
            problem,
            ({k: v * scale for k, v in lam.items()}, {k: v * scale for k, v in nu.items()}),
        )
        for scale in scales
    )


def _solvers(size: Size, args: argparse.Namespace) -> list[Solver]:
    solvers: list[Solver] = [PrioritySolver(), NearestSolver()]
    if size.orders <= 5_000:  # networkx's network simplex is pure Python: not for batches
        solvers += [FlowSolver(), LocalSearchSolver()]
    else:  # a batch: the default solver, told to be done within about 10 s all told
        solvers.append(LocalSearchSolver(time_limit=args.batch_seconds))
    if size.orders <= 1_000:
        solvers.append(OptimalSolver(time_limit=args.optimal_seconds))
    return solvers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L,XL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--optimal-seconds", type=float, default=60.0)
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=8.5,
        help="the local search's time limit on batches (XL)",
    )
    args = parser.parse_args()
    for name in args.sizes.split(","):
        size = SIZES[name]
        started = time.perf_counter()
        problem = generate(size, args.seed)
        lines = sum(len(o.lines) for o in problem.orders)
        print(
            f"\n{name}: {size.orders} orders ({lines} lines) x {size.locations} locations, "
            f"{size.skus} skus (generated in {time.perf_counter() - started:.1f} s)"
        )
        plans: dict[str, tuple[AllocationPlan, float]] = {}
        for solver in _solvers(size, args):
            began = time.perf_counter()
            plan = solver.solve(problem)
            seconds = time.perf_counter() - began
            problems = validate(problem, plan)
            assert not problems, (solver.name, problems[:3])
            plans[solver.name] = (plan, seconds)
        best = min(plan.cost for plan, _ in plans.values())
        if size.orders <= 5_000:
            bound, how = lp_bound(problem), "LP bound over every route"
        else:  # the LP over every route is too big: its Lagrangian bound, priced by a smaller LP
            best_plan = min((plan for plan, _ in plans.values()), key=lambda plan: plan.cost)
            began = time.perf_counter()
            bound = lagrangian_bound(problem, keep=16, plan=best_plan, scales=(0.75, 1.0))
            how = f"Lagrangian bound of that LP ({time.perf_counter() - began:.0f} s to prove)"
        header = f"{'solver':<14}{'cost/best':>10}{'splits':>9}{'unfilled':>10}{'ms/order':>10}"
        header += f"{'seconds':>9}{'gap':>9}" + (f"{'vs LP':>9}" if bound else "")
        print(header)
        for solver_name, (plan, seconds) in plans.items():
            row = (
                f"{solver_name:<14}{float(plan.cost / best):>10.4f}"
                f"{split_rate(problem, plan):>9.1%}{plan.unfilled():>10}"
                f"{seconds * 1000 / size.orders:>10.3f}{seconds:>9.2f}"
                f"{'' if plan.gap is None else f'{plan.gap:.2%}':>9}"
            )
            if bound:
                row += f"{float(plan.cost) / bound - 1:>9.2%}"
            print(row)
        if bound:
            print(f"{how}: {bound:.2f}; best plan: {best}")


if __name__ == "__main__":
    main()
