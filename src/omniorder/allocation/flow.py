"""FlowSolver: one min-cost flow over every order at once (:mod:`networkx`)."""

from __future__ import annotations

import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import networkx as nx

from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.problem import AllocationProblem, Route
from omniorder.allocation.tracker import Tracker
from omniorder.model.order import Order, OrderLine

__all__ = ["FlowSolver"]


class FlowSolver:
    """Min-cost flow from stock to order lines, shipment costs spread over the units they carry.

    Each unit's cost is its origin's handling plus its share of the shipment that would carry
    the whole line group (the order's shipped units, or one line's transfer): optimal when
    shipment fixed costs really are per unit, a good approximation otherwise. To keep the graph
    sparse only the ``k`` cheapest origins of each line become edges. Capacity and split limits
    are not flow constraints, so the flow is then applied order by order through the same
    bookkeeping as every solver, and what those limits refuse is re-sourced cheapest first.
    Integer costs come from :meth:`~omniorder.allocation.CostModel.to_minor`.

    Args:
        k: origins per line kept as edges.
    """

    name = "flow"

    def __init__(self, k: int = 5) -> None:
        self.k = k

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        """A plan from one min-cost flow, repaired for capacity and split limits."""
        started = time.perf_counter()
        graph, lines = self._graph(problem)
        flow: dict[Any, dict[Any, int]] = nx.min_cost_flow(graph) if lines else {}
        solved = time.perf_counter()
        tracker = Tracker(problem)
        for order in problem.orders:
            for line in order.lines:
                node = ("line", order.id, line.id)
                given = sorted(
                    (source[1], flow[source][node])
                    for source in (graph.predecessors(node) if lines else ())
                    if isinstance(source, tuple)  # a stock node, not "short"
                )
                for location, units in given:
                    if units:
                        tracker.take(order, line, location, units)
        for order in problem.orders:
            for line in order.lines:
                for route in self._ranked(problem, order, line):
                    if tracker.need(order, line) == 0:
                        break
                    tracker.take(order, line, route.location, tracker.need(order, line))
        done = time.perf_counter()
        return tracker.plan(
            self.name,
            stats={
                "ms": round((done - started) * 1000, 3),
                "flow_ms": round((solved - started) * 1000, 3),
                "edges": graph.number_of_edges(),
            },
        )

    @staticmethod
    def _group_units(problem: AllocationProblem, order: Order, line: OrderLine) -> int:
        kind = problem.kind(line)
        if kind == "ship":
            return sum(x.quantity for x in order.lines if problem.kind(x) == "ship")
        return line.quantity

    def _ranked(self, problem: AllocationProblem, order: Order, line: OrderLine) -> list[Route]:
        units = Decimal(self._group_units(problem, order, line))
        return sorted(
            problem.routes(order, line), key=lambda r: (r.unit + r.shipment / units, r.location)
        )

    def _graph(self, problem: AllocationProblem) -> tuple[nx.DiGraph[object], int]:
        graph: nx.DiGraph[object] = nx.DiGraph()
        to_minor = problem.cost.to_minor
        penalty = to_minor(problem.cost.unfilled_penalty)
        demand = 0
        stock_used: defaultdict[tuple[str, str], int] = defaultdict(int)
        for order in problem.orders:
            for line in order.lines:
                node = ("line", order.id, line.id)
                graph.add_node(node, demand=line.quantity)
                demand += line.quantity
                units = Decimal(self._group_units(problem, order, line))
                for route in self._ranked(problem, order, line)[: self.k]:
                    stock = ("stock", route.location, line.sku)
                    stock_used[(route.location, line.sku)] += 1
                    graph.add_edge(
                        stock,
                        node,
                        capacity=line.quantity,
                        weight=to_minor(route.unit + route.shipment / units),
                    )
                graph.add_edge("short", node, capacity=line.quantity, weight=penalty)
        if not demand:
            return graph, 0
        graph.add_node("source", demand=-demand)
        graph.add_edge("source", "short", capacity=demand, weight=0)
        for location, sku in stock_used:
            graph.add_edge(
                "source", ("stock", location, sku), capacity=problem.units(location, sku), weight=0
            )
        return graph, demand
