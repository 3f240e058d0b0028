"""OptimalSolver: the exact mixed-integer model on HiGHS (extra ``optimal``: ``highspy``).

The model: integer units ``x`` per (line, origin); a binary ``y`` per shipment (order, origin
and how: ship or transfer) that every unit riding in it needs (``x <= M * y``); integer
unfilled units ``u`` per line. Minimise handling + shipment costs + the unfilled penalty
subject to: every line exactly served or unfilled, no origin giving more than its supply, no
location over its shipment capacity, and (with ``max_splits``) no order from more origins
than allowed. Costs are integer minor units (:meth:`CostModel.to_minor`).

The search starts from the best heuristic plan (``LocalSearchSolver`` and the cheaper
heuristics), so it is never worse than them; it stops at ``time_limit`` seconds or when the
proven relative gap is below ``gap``, and the plan reports the gap it proved.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from omniorder.allocation.flow import FlowSolver
from omniorder.allocation.local import LocalSearchSolver
from omniorder.allocation.nearest import NearestSolver
from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.priority import PrioritySolver
from omniorder.allocation.problem import AllocationProblem
from omniorder.allocation.tracker import Tracker
from omniorder.model.errors import InvalidInput

__all__ = ["OptimalSolver"]

_MISSING = 'OptimalSolver needs the "optimal" extra: pip install "omniorder[optimal]"'
_banner_shown = False


def _highspy() -> Any:
    try:
        import highspy  # noqa: PLC0415 - the optional back end loads only when used
    except ImportError as missing:
        raise ImportError(_MISSING) from missing
    return highspy


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the banner HiGHS prints on stdout the first time it starts in a process."""
    global _banner_shown  # noqa: PLW0603 - once per process, by design
    if _banner_shown:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        _banner_shown = True


class _Model:
    """Columns and rows of the MIP, built column by column."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[float, float, list[tuple[int, float]]]] = []

    def column(self, cost: int, upper: float, *, integer: bool = True) -> int:
        self.cost.append(float(cost))
        self.upper.append(float(upper))
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, low: float, high: float, terms: Sequence[tuple[int, float]]) -> None:
        self.rows.append((low, high, list(terms)))


class OptimalSolver:
    """Exact mixed-integer sourcing on HiGHS, warm-started from the heuristics.

    Args:
        time_limit: seconds HiGHS may search.
        gap: stop once the proven relative optimality gap is at most this.
        threads: HiGHS threads (None: its default).

    Raises:
        ImportError: ``highspy`` is missing (``pip install "omniorder[optimal]"``).
    """

    name = "optimal"

    def __init__(
        self, time_limit: float = 10.0, gap: float = 1e-4, threads: int | None = None
    ) -> None:
        if (
            isinstance(time_limit, bool)
            or not isinstance(time_limit, int | float)
            or not (time_limit > 0)
        ):
            raise InvalidInput(
                "time_limit must be a positive number of seconds",
                field="time_limit",
                value=time_limit,
            )
        if isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 <= gap < 1:
            raise InvalidInput("gap must be between 0 and 1", field="gap", value=gap)
        self.time_limit = float(time_limit)
        self.gap = float(gap)
        self.threads = threads
        _highspy()  # fail now, with the message naming the extra

    def _incumbent(self, problem: AllocationProblem) -> AllocationPlan:
        plans = [
            s.solve(problem)
            for s in (LocalSearchSolver(), NearestSolver(), PrioritySolver(), FlowSolver())
        ]
        return min(plans, key=lambda p: p.cost)

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """The optimal plan, or the best found within the time limit, with its proven gap."""
        started = time.perf_counter()
        incumbent = self._incumbent(problem)
        if not any(order.lines for order in problem.orders):
            return incumbent
        model, units, shipments = self._build(problem)
        start = self._start(problem, incumbent, model, units, shipments)
        highspy = _highspy()
        with _quiet():
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", self.time_limit)
        h.setOptionValue("mip_rel_gap", self.gap)
        h.setOptionValue("random_seed", 0)
        if self.threads is not None:
            h.setOptionValue("threads", self.threads)
        h.passModel(self._lp(highspy, model))
        solution = highspy.HighsSolution()
        solution.col_value = start
        solution.value_valid = True
        h.setSolution(solution)
        h.run()
        info = h.getInfo()
        values = list(h.getSolution().col_value) if info.primal_solution_status == 2 else None
        bound = float(info.mip_dual_bound)
        plan = incumbent
        if values is not None:
            tracker = Tracker(problem)
            for (order_id, line_id, location), column in units.items():
                amount = round(values[column])
                if amount > 0:
                    order = problem.order(order_id)
                    tracker.take(order, order.line(line_id), location, amount)
            candidate = tracker.plan(self.name)
            if candidate.cost <= incumbent.cost and not candidate.unfilled() > incumbent.unfilled():
                plan = candidate
        cost_minor = problem.cost.to_minor(plan.cost)
        gap = 0.0 if cost_minor <= 0 else max(0.0, (cost_minor - bound) / cost_minor)
        ms = (time.perf_counter() - started) * 1000
        return AllocationPlan(
            assignments=plan.assignments,
            unallocated=plan.unallocated,
            cost=plan.cost,
            solver=self.name,
            gap=round(gap, 9),
            stats={
                "ms": round(ms, 3),
                "status": h.modelStatusToString(h.getModelStatus()),
                "nodes": int(info.mip_node_count),
                "columns": len(model.cost),
                "rows": len(model.rows),
                "warm_start": incumbent.solver,
                "warm_start_cost": str(incumbent.cost),
            },
            problem=problem,
        )

    # -- the model -------------------------------------------------------------------------------

    def _build(
        self, problem: AllocationProblem
    ) -> tuple[_Model, dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
        model = _Model()
        to_minor = problem.cost.to_minor
        units: dict[tuple[str, str, str], int] = {}
        shipments: dict[tuple[str, str], int] = {}
        supply_terms: defaultdict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        load_terms: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        origin_of: dict[int, tuple[str, str]] = {}
        for order in problem.orders:
            for line in order.lines:
                demand: list[tuple[int, float]] = []
                for route in problem.routes(order, line):
                    most = min(line.quantity, problem.units(route.location, line.sku))
                    x = model.column(to_minor(route.unit), most)
                    units[(order.id, line.id, route.location)] = x
                    demand.append((x, 1.0))
                    supply_terms[(route.location, line.sku)].append((x, 1.0))
                    key = problem.shipment_key(order, line, route.location)
                    if key is not None:
                        if (order.id, key) not in shipments:
                            y = model.column(to_minor(route.shipment), 1)
                            shipments[(order.id, key)] = y
                            load_terms[route.location].append((y, 1.0))
                            origin_of[y] = (order.id, route.location)
                        model.row(
                            -float("inf"),
                            0.0,
                            [(x, 1.0), (shipments[(order.id, key)], -float(most))],
                        )
                u = model.column(to_minor(problem.cost.unfilled_penalty), line.quantity)
                model.row(line.quantity, line.quantity, [*demand, (u, 1.0)])
        for (location, sku), terms in supply_terms.items():
            model.row(-float("inf"), problem.units(location, sku), terms)
        for location, terms in load_terms.items():
            capacity = problem.location(location).capacity
            if capacity is not None:
                model.row(-float("inf"), capacity, terms)
        if problem.max_splits is not None:
            self._split_rows(problem.max_splits, model, origin_of)
        return model, units, shipments

    @staticmethod
    def _split_rows(limit: int, model: _Model, origin_of: dict[int, tuple[str, str]]) -> None:
        origins: defaultdict[str, dict[str, int]] = defaultdict(dict)
        for y, (order_id, location) in origin_of.items():
            z = origins[order_id].get(location)
            if z is None:
                z = origins[order_id][location] = model.column(0, 1)
            model.row(-float("inf"), 0.0, [(y, 1.0), (z, -1.0)])
        for per_order in origins.values():
            model.row(-float("inf"), limit, [(z, 1.0) for z in per_order.values()])

    @staticmethod
    def _start(
        problem: AllocationProblem,
        plan: AllocationPlan,
        model: _Model,
        units: dict[tuple[str, str, str], int],
        shipments: dict[tuple[str, str], int],
    ) -> list[float]:
        """The incumbent plan as column values (shipments, origins and unfilled implied)."""
        start = [0.0] * len(model.cost)
        for a in plan.assignments:
            order = problem.order(a.order_id)
            line = order.line(a.line_id)
            start[units[(a.order_id, a.line_id, a.location)]] = float(a.quantity)
            key = problem.shipment_key(order, line, a.location)
            if key is not None:
                start[shipments[(order.id, key)]] = 1.0
        return start

    @staticmethod
    def _lp(highspy: Any, model: _Model) -> Any:
        import numpy as np  # noqa: PLC0415 - installed with highspy, needed only here

        lp = highspy.HighsLp()
        columns = len(model.cost)
        lp.num_col_ = columns
        lp.num_row_ = len(model.rows)
        lp.col_cost_ = np.array(model.cost)
        lp.col_lower_ = np.zeros(columns)
        lp.col_upper_ = np.array(model.upper)
        inf = highspy.kHighsInf
        lp.row_lower_ = np.array([max(low, -inf) for low, _, _ in model.rows])
        lp.row_upper_ = np.array([min(high, inf) for _, high, _ in model.rows])
        starts, indices, values = [0], [], []
        for _, _, terms in model.rows:
            for column, value in terms:
                indices.append(column)
                values.append(value)
            starts.append(len(indices))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts)
        lp.a_matrix_.index_ = np.array(indices)
        lp.a_matrix_.value_ = np.array(values)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in model.integer
        ]
        return lp
