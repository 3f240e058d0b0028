"""LocalSearchSolver, the engine's default: a cheapest construction, then local improvement.

No extra dependency, near-optimal on realistic instances and fast (see
``benchmarks/allocation.py`` and the table in the documentation).

Construction: orders are served as they came; each takes its cheapest *option*: every single
origin, every pair of its ``candidates`` cheapest origins (each line from the origin with the
lower handling cost first), and a greedy cover that keeps adding the origin with the lowest cost
per unit it gives. Pickup lines come from their store; ship-to-store lines from their cheapest
origins.

Improvement, in passes over the orders as they came:

1. each order alone is taken out and put back in its cheapest option (this merges splits when
   stock allows);
2. neighbourhoods of orders that compete for the same stock are solved exactly over their
   ``options`` cheapest options each: an order that is short, split, or not at its ideal origin,
   together with the orders holding the stock it would rather have; and the orders sharing a
   location's last units of a sku. A depth-first search (at most ``nodes`` nodes) picks one
   option per order, feasible for supply and shipment capacity, at the lowest total cost.

A move is kept only if the cost of the orders it touches falls. The passes stop when one changes
nothing, after ``passes``, or at ``time_limit`` seconds. Costs are compared in integer
millionths (:data:`~omniorder.allocation.cost.SEARCH_SCALE`). Ties break on cost, then
location id, then the order's place in the problem: the same problem always gives the same
plan.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterator

from omniorder.allocation.cost import SEARCH_SCALE
from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.problem import AllocationProblem
from omniorder.allocation.tracker import Tracker
from omniorder.model.order import Order, OrderLine
from omniorder.model.values import Capability, Geo

__all__ = ["LocalSearchSolver", "default_solver"]

Move = tuple[OrderLine, str, int]
"""``(line, location, units)``."""


class _Option:
    """One way to serve a whole order: its moves, cost, stock used and shipments opened."""

    __slots__ = ("cost", "moves", "opens", "uses")

    def __init__(self, cost: int, moves: list[Move], opens: set[str]) -> None:
        self.cost = cost
        self.moves = moves
        self.opens = opens
        self.uses: dict[tuple[str, str], int] = {}
        for line, location, units in moves:
            key = (location, line.sku)
            self.uses[key] = self.uses.get(key, 0) + units


class LocalSearchSolver:
    """Cheapest single or paired origins per order, improved by exact neighbourhood search.

    Args:
        candidates: how many of an order's cheapest origins the pair search considers.
        reach: how many of the nearest stocked origins a shipped line considers at all.
        options: how many options per order the neighbourhood search chooses among.
        group: the most orders in one neighbourhood.
        holders_at: how many of an order's ideal origins are searched for rival orders.
        nodes: the search budget of one neighbourhood.
        passes: the most improvement passes.
        time_limit: stop improving after this many seconds (None: no limit).
    """

    name = "local-search"

    def __init__(
        self,
        *,
        candidates: int = 6,
        reach: int = 16,
        options: int = 5,
        group: int = 8,
        holders_at: int = 3,
        nodes: int = 20_000,
        passes: int = 2,
        time_limit: float | None = None,
    ) -> None:
        self.candidates = candidates
        self.reach = reach
        self.options = options
        self.group = group
        self.holders_at = holders_at
        self.nodes = nodes
        self.passes = passes
        self.time_limit = time_limit

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A cheap plan, improved until no move helps."""
        started = time.perf_counter()
        search = _Search(self, Tracker(problem))
        for order in search.most_constrained_first():
            search.apply(order, search.options(order)[0].moves)
        built = time.perf_counter()
        deadline = None if self.time_limit is None else started + self.time_limit
        moves = passes = 0

        def late() -> bool:
            return deadline is not None and time.perf_counter() > deadline

        for passes in range(1, self.passes + 1):  # noqa: B007 - reported in stats
            changed = search.begin_pass()
            improved = 0
            # Each order alone first, then the neighbourhoods of the plan that leaves.
            for groups in ([[order] for order in problem.orders], None):
                for group in groups if groups is not None else search.neighbourhoods():
                    if late():
                        break
                    if changed is None or search.affected(group, changed):
                        improved += search.rebuild(group)
            moves += improved
            if not improved or late():
                break
        done = time.perf_counter()
        return search.tracker.plan(
            self.name,
            stats={
                "ms": round((done - started) * 1000, 3),
                "construction_ms": round((built - started) * 1000, 3),
                "passes": passes,
                "moves": moves,
            },
        )


class _Search:
    """The search state of one solve: the tracker and integer costs."""

    def __init__(self, settings: LocalSearchSolver, tracker: Tracker) -> None:
        self.s = settings
        self.tracker = tracker
        self.problem = tracker.problem
        cost = self.problem.cost
        self.penalty = cost.to_minor(cost.unfilled_penalty, scale=SEARCH_SCALE)
        self._unit: dict[str, int] = {}
        self._cells: dict[tuple[int, int], dict[str, int]] = {}
        self._near: dict[tuple[str, str], list[str]] = {}
        self._ship: dict[tuple[str, str], int] = {}
        self._fixed = float(cost.shipment_fixed)
        self._per_km = float(cost.per_km)
        self._routes: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        self._keys: dict[str, frozenset[str]] = {}
        self._touched: set[str] | None = None  # locations whose stock moved in this pass
        self._last: set[str] | None = None

    def most_constrained_first(self) -> list[Order]:
        """The orders by how few origins their most constrained line has, then as they came.

        A pickup can only come from its store; serving it first keeps its stock from going
        to a parcel that had other choices.
        """

        def choices(order: Order) -> int:
            return min(
                len(self.nearest_stocked(order, line))
                if order.ship_to is not None and self.problem.kind(line) == "ship"
                else len(self.problem.routes(order, line))
                for line in order.lines
            )

        return [
            o for _, _, o in sorted((choices(o), n, o) for n, o in enumerate(self.problem.orders))
        ]

    # -- what changed --------------------------------------------------------------------------

    def begin_pass(self) -> set[str] | None:
        """Start a pass; return the locations whose stock moved in the last (None: first)."""
        self._last, self._touched = self._touched, set()
        return self._last

    def affected(self, group: list[Order], changed: set[str]) -> bool:
        """Whether stock (or shipments) moved in the last pass where ``group`` could source."""
        return any(not self.keys(order).isdisjoint(changed) for order in group)

    def keys(self, order: Order) -> frozenset[str]:
        """Every location the order could take from."""
        found = self._keys.get(order.id)
        if found is None:
            found = self._keys[order.id] = frozenset(
                location for line in order.lines for location, _, _ in self.routes(order, line)
            )
        return found

    # -- integer costs -------------------------------------------------------------------------

    def unit(self, location: str) -> int:
        found = self._unit.get(location)
        if found is None:
            amount = self.problem.cost.unit(self.problem.location(location))
            found = self._unit[location] = self.problem.cost.to_minor(amount, scale=SEARCH_SCALE)
        return found

    def routes(self, order: Order, line: OrderLine) -> list[tuple[str, int, int]]:
        """``(location, unit cost, shipment cost)`` of the line's routes, cheapest first.

        A shipped line lists its ``reach`` nearest stocked origins (what it would ideally use);
        :meth:`_origins` looks further when those run out. Other lines list every route.
        """
        key = (order.id, line.id)
        found = self._routes.get(key)
        if found is None:
            to_minor = self.problem.cost.to_minor
            if order.ship_to is not None and self.problem.kind(line) == "ship":
                found = [
                    (loc, self.unit(loc), self.shipment(order, loc))
                    for loc in self.nearest_stocked(order, line)[: self.s.reach]
                ]
            else:
                found = [
                    (
                        r.location,
                        to_minor(r.unit, scale=SEARCH_SCALE),
                        to_minor(r.shipment, scale=SEARCH_SCALE),
                    )
                    for r in self.problem.routes(order, line)
                ]
            found.sort(key=lambda r: (r[2] + r[1] * line.quantity, r[0]))
            self._routes[key] = found
        return found

    def nearest_stocked(self, order: Order, line: OrderLine) -> list[str]:
        """Every origin that ships and stocks the line's sku, nearest to the customer first.

        Distances are ranked from the customer's half-degree grid cell (computed once per
        cell), so no customer is measured against every location.
        """
        key = (order.id, line.id)
        found = self._near.get(key)
        if found is None:
            assert order.ship_to is not None
            to = order.ship_to
            cell = (round(to.lat * 2), round(to.lon * 2))
            rank = self._cells.get(cell)
            if rank is None:
                centre = Geo(
                    max(-90.0, min(90.0, cell[0] / 2)), max(-180.0, min(180.0, cell[1] / 2))
                )
                shipping = [
                    loc for loc in self.problem.network.locations if loc.can(Capability.SHIP)
                ]
                shipping.sort(key=lambda loc: (loc.geo.km(centre), loc.id))
                rank = self._cells[cell] = {loc.id: n for n, loc in enumerate(shipping)}
            found = self._near[key] = [
                loc
                for _, loc in sorted(
                    (rank[loc], loc) for loc in self.problem.stocked(line.sku) if loc in rank
                )
            ]
        return found

    def shipment(self, order: Order, location: str) -> int:
        """The cost of shipping ``order``'s parcel from ``location``."""
        key = (order.id, location)
        found = self._ship.get(key)
        if found is None:
            assert order.ship_to is not None
            km = round(self.problem.location(location).geo.km(order.ship_to), 3)
            found = self._ship[key] = round((self._fixed + self._per_km * km) * SEARCH_SCALE)
        return found

    def order_cost(self, order: Order) -> int:
        problem, tracker = self.problem, self.tracker
        cost = 0
        seen: set[str] = set()
        for line, location, units in tracker.take_order_lines(order):
            cost += units * self.unit(location)
            key = problem.shipment_key(order, line, location)
            if key is not None and key not in seen:
                seen.add(key)
                cost += problem.cost.to_minor(
                    problem.shipment(order, line, location), scale=SEARCH_SCALE
                )
        return cost + sum(tracker.need(order, line) for line in order.lines) * self.penalty

    # -- taking out, putting back ----------------------------------------------------------------

    def remove(self, order: Order) -> list[Move]:
        taken = self.tracker.take_order_lines(order)
        for line, location, units in taken:
            self.tracker.give_back(order, line, location, units)
        return taken

    def apply(self, order: Order, moves: list[Move]) -> bool:
        """Take ``moves`` for ``order``; False if any was cut short (supply or capacity)."""
        whole = True
        for line, location, units in moves:
            whole &= self.tracker.take(order, line, location, units) == units
        return whole

    # -- options -------------------------------------------------------------------------------

    def options(self, order: Order, count: int = 1) -> list[_Option]:
        """The ``count`` cheapest ways to serve ``order`` (which holds nothing) now.

        Pickup and ship-to-store lines are served the same way in every option; the options
        differ in how the shipped lines are sourced.
        """
        return self._compute_options(order, count)

    def _compute_options(self, order: Order, count: int) -> list[_Option]:
        problem, tracker = self.problem, self.tracker
        fixed: list[Move] = []
        fixed_cost = 0
        opens: set[str] = set()
        for line in order.lines:
            if problem.kind(line) == "ship":
                continue
            need = line.quantity
            for location, unit, ship in sorted(
                self.routes(order, line), key=lambda r: (r[2] + r[1] * line.quantity, r[0])
            ):
                units = min(need, tracker.available(location, line.sku))
                if units and not tracker.blocked(order, line, location):
                    fixed.append((line, location, units))
                    fixed_cost += ship + units * unit
                    if ship:
                        opens.add(location)
                    need -= units
                if not need:
                    break
            fixed_cost += need * self.penalty
        shipped = [line for line in order.lines if problem.kind(line) == "ship"]
        if not shipped:
            return [_Option(fixed_cost, fixed, opens)]
        return [
            _Option(fixed_cost + cost, fixed + moves, opens | used)
            for cost, moves, used in self._shipping(order, shipped, count)
        ]

    def _shipping(
        self, order: Order, lines: list[OrderLine], count: int
    ) -> list[tuple[int, list[Move], set[str]]]:
        """The ``count`` cheapest ways to source the shipped lines, with their moves."""
        units = sum(line.quantity for line in lines)
        origins = self._origins(order, lines)
        ranked = sorted(origins, key=lambda loc: (origins[loc][0] + origins[loc][1] * units, loc))
        scored: list[tuple[int, tuple[str, ...]]] = []
        costs: list[int] = []  # the costs in scored, kept sorted
        seen: set[frozenset[str]] = set()

        def bar() -> int | None:
            """The cost an option must beat to be among the ``count`` cheapest so far."""
            return costs[count - 1] if len(costs) >= count else None

        def score(combo: tuple[str, ...], floor: int) -> None:
            worst = bar()
            if worst is not None and floor >= worst:
                return  # it cannot be among the cheapest: skip the work
            cost, used = self._fill_cost(lines, combo, origins)
            if used not in seen:  # a pair that needs only one of its origins is that single
                seen.add(used)
                scored.append((cost, combo))
                bisect.insort(costs, cost)

        for loc in ranked:  # by shipment + handling of every unit: the least any single costs
            worst = bar()
            if worst is not None and origins[loc][0] + origins[loc][1] * units >= worst:
                break
            score((loc,), 0)
        limit = self.problem.max_splits
        if limit is None or limit >= 2:
            for a, b in itertools.combinations(ranked[: self.s.candidates], 2):
                floor = origins[a][0] + origins[b][0] + units * min(origins[a][1], origins[b][1])
                score((a, b), floor)
        scored.sort()
        found = [self._fill(lines, combo, origins) for _, combo in scored[:count]]
        found.append(self._greedy_cover(lines, ranked, origins))
        found.sort(key=lambda option: option[0])
        return found[:count] if len(found) > count else found

    def _origins(self, order: Order, lines: list[OrderLine]) -> dict[str, tuple[int, int]]:
        """Up to ``reach`` origins per line that can give it something now, nearest first:
        ``location -> (shipment cost, unit cost)``."""
        tracker = self.tracker
        origins: dict[str, tuple[int, int]] = {}
        for line in lines:
            found = 0
            for location in self.nearest_stocked(order, line):
                # The order holds nothing while its options are made, so only capacity can
                # bar an origin (nearest_stocked lists only locations that ship).
                capacity = self.problem.location(location).capacity
                if tracker.available(location, line.sku) and (
                    capacity is None or tracker.load[location] < capacity
                ):
                    if location not in origins:
                        origins[location] = (self.shipment(order, location), self.unit(location))
                    found += 1
                    if found == self.s.reach:
                        break
        return origins

    def _fill_cost(
        self, lines: list[OrderLine], combo: tuple[str, ...], origins: dict[str, tuple[int, int]]
    ) -> tuple[int, frozenset[str]]:
        """What :meth:`_fill` would cost and which origins it would use, without its moves."""
        left = self.tracker.left
        ordered = sorted(combo, key=lambda loc: (origins[loc][1], origins[loc][0], loc))
        cost = 0
        used = set()
        for line in lines:
            need = line.quantity
            for loc in ordered:
                units = min(need, left.get((loc, line.sku), 0))
                if units:
                    used.add(loc)
                    cost += units * origins[loc][1]
                    need -= units
                    if not need:
                        break
            cost += need * self.penalty
        return cost + sum(origins[loc][0] for loc in used), frozenset(used)

    def _fill(
        self, lines: list[OrderLine], combo: tuple[str, ...], origins: dict[str, tuple[int, int]]
    ) -> tuple[int, list[Move], set[str]]:
        """Serve ``lines`` from ``combo``, lower handling first."""
        available = self.tracker.available
        moves: list[Move] = []
        used: set[str] = set()
        cost = 0
        ordered = sorted(combo, key=lambda loc: (origins[loc][1], origins[loc][0], loc))
        for line in lines:
            need = line.quantity
            for loc in ordered:
                units = min(need, available(loc, line.sku))
                if units:
                    moves.append((line, loc, units))
                    used.add(loc)
                    cost += units * origins[loc][1]
                    need -= units
            cost += need * self.penalty
        return cost + sum(origins[loc][0] for loc in used), moves, used

    def _greedy_cover(
        self, lines: list[OrderLine], ranked: list[str], origins: dict[str, tuple[int, int]]
    ) -> tuple[int, list[Move], set[str]]:
        """Keep adding the origin with the lowest cost per unit it gives."""
        available = self.tracker.available
        limit = self.problem.max_splits
        need = {line.id: line.quantity for line in lines}
        moves: list[Move] = []
        used: set[str] = set()
        cost = 0
        pool = list(ranked)
        while pool and any(need.values()) and (limit is None or len(used) < limit):
            best: tuple[float, str] | None = None
            for loc in pool:
                gives = sum(min(need[line.id], available(loc, line.sku)) for line in lines)
                if gives:
                    rate = (origins[loc][0] + gives * origins[loc][1]) / gives
                    if best is None or (rate, loc) < best:
                        best = (rate, loc)
            if best is None:
                break
            pick = best[1]
            pool.remove(pick)
            used.add(pick)
            cost += origins[pick][0]
            for line in lines:
                units = min(need[line.id], available(pick, line.sku))
                if units:
                    moves.append((line, pick, units))
                    need[line.id] -= units
                    cost += units * origins[pick][1]
        return cost + sum(need.values()) * self.penalty, moves, used

    # -- improvement ----------------------------------------------------------------------------

    def rebuild(self, group: list[Order]) -> int:
        """Re-serve ``group`` at the lowest total cost found; 1 if that improved it, else 0."""
        before = sum(self.order_cost(o) for o in group)
        taken = {o.id: self.remove(o) for o in group}
        choice = self._best_combination(group)
        if choice is not None:
            whole = True
            for order, option in zip(group, choice, strict=True):
                whole &= self.apply(order, option.moves)  # every order, even after a miss
            if whole and sum(self.order_cost(o) for o in group) < before:
                if self._touched is not None:
                    for moves in taken.values():
                        self._touched.update(location for _, location, _ in moves)
                    for option in choice:
                        self._touched.update(location for location, _ in option.uses)
                return 1
            for order in group:
                self.remove(order)
        for order in group:
            self.apply(order, taken[order.id])
        return 0

    def _best_combination(self, group: list[Order]) -> list[_Option] | None:
        """One option per order, within supply and capacity, at the lowest total cost."""
        menus: list[list[_Option]] = []
        for order in group:
            menu: list[_Option] = []
            seen: set[tuple[tuple[str, str, int], ...]] = set()
            for option in self.options(order, self.s.options + 2):
                signature = tuple(sorted((ln.id, loc, u) for ln, loc, u in option.moves))
                if signature not in seen:
                    seen.add(signature)
                    menu.append(option)
                if len(menu) == self.s.options:
                    break
            units = sum(line.quantity for line in order.lines)
            menu.append(_Option(units * self.penalty, [], set()))  # serve nothing: always fits
            menus.append(menu)
        if len(group) == 1:
            return [menus[0][0]]
        return _Combinations(self, menus).best()

    def neighbourhoods(self) -> Iterator[list[Order]]:
        """Groups of orders competing for the same stock, in a fixed order, made as they are
        asked for (so each reflects the moves made before it)."""
        seen: set[frozenset[str]] = set()
        for group in itertools.chain(self._unhappy_groups(), self._sold_out_groups()):
            members = frozenset(order.id for order in group)
            if members not in seen:
                seen.add(members)
                yield group

    def _unhappy_groups(self) -> Iterator[list[Order]]:
        """Each order short, split or away from its ideal origin, with the orders holding the
        stock it would rather have."""
        problem, tracker = self.problem, self.tracker
        for order in problem.orders:
            ideal = self._ideal_origins(order)
            if not ideal:
                continue
            unhappy = (
                any(tracker.need(order, line) for line in order.lines)
                or len(tracker.origins[order.id]) > 1
                or self.order_cost(order) > ideal[0][1]
            )
            if not unhappy:
                continue
            group = [order]
            for location, _ in ideal[: self.s.holders_at]:
                for line in order.lines:
                    for holder in sorted(tracker.holders[(location, line.sku)]):
                        other = problem.order(holder)
                        if other not in group and len(group) < self.s.group:
                            group.append(other)
            if len(group) > 1:
                yield group

    def _sold_out_groups(self) -> Iterator[list[Order]]:
        """The orders sharing a location's last units of a sku."""
        tracker = self.tracker
        for (location, sku), holders in sorted(tracker.holders.items()):
            if len(holders) > 1 and tracker.available(location, sku) == 0:
                yield [self.problem.order(o) for o in sorted(holders)][: self.s.group]

    def _ideal_origins(self, order: Order) -> list[tuple[str, int]]:
        """Origins by what serving the whole order from them alone would cost, stock aside."""
        units = sum(line.quantity for line in order.lines)
        cost: dict[str, int] = {}
        for line in order.lines:
            for location, unit, ship in self.routes(order, line):
                cost.setdefault(location, ship + unit * units)
        return sorted(cost.items(), key=lambda item: (item[1], item[0]))


class _Combinations:
    """Depth-first search for the cheapest feasible choice of one option per order."""

    def __init__(self, search: _Search, menus: list[list[_Option]]) -> None:
        self.search = search
        self.menus = menus
        regret = [(m[1].cost - m[0].cost if len(m) > 1 else 0) for m in menus]
        self.order = sorted(range(len(menus)), key=lambda i: (-regret[i], i))
        floor = [min(o.cost for o in menus[i]) for i in self.order]
        self.rest = [sum(floor[k:]) for k in range(len(floor) + 1)]
        self.used: dict[tuple[str, str], int] = {}
        self.opened: dict[str, int] = {}
        self.picked: list[_Option | None] = [None] * len(menus)
        self.best_cost: int | None = None
        self.best_pick: list[_Option] | None = None
        self.nodes = 0

    def best(self) -> list[_Option] | None:
        self._visit(0, 0)
        return self.best_pick

    def _fits(self, option: _Option) -> bool:
        tracker = self.search.tracker
        used, opened = self.used, self.opened
        for key, units in option.uses.items():
            if used.get(key, 0) + units > tracker.left.get(key, 0):
                return False
        for location in option.opens:
            capacity = self.search.problem.location(location).capacity
            if (
                capacity is not None
                and tracker.load[location] + opened.get(location, 0) >= capacity
            ):
                return False
        return True

    def _visit(self, depth: int, cost: int) -> None:
        self.nodes += 1
        if self.nodes > self.search.s.nodes:
            return
        if self.best_cost is not None and cost + self.rest[depth] >= self.best_cost:
            return
        if depth == len(self.order):
            self.best_cost = cost
            self.best_pick = [o for o in self.picked if o is not None]
            return
        index = self.order[depth]
        for option in self.menus[index]:
            if not self._fits(option):
                continue
            used, opened = self.used, self.opened
            for key, units in option.uses.items():
                used[key] = used.get(key, 0) + units
            for location in option.opens:
                opened[location] = opened.get(location, 0) + 1
            self.picked[index] = option
            self._visit(depth + 1, cost + option.cost)
            for key, units in option.uses.items():
                used[key] -= units
            for location in option.opens:
                opened[location] -= 1
        self.picked[index] = None


def default_solver() -> LocalSearchSolver:
    """The solver the engine uses when none is given: :class:`LocalSearchSolver`."""
    return LocalSearchSolver()
