"""The sourcing problem: orders to fill from the stock each location can give."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

import attrs

from omniorder.allocation.cost import CostModel
from omniorder.model import checks
from omniorder.model.errors import InvalidInput, UnknownLocation
from omniorder.model.network import Lane, Location, Network
from omniorder.model.order import Order, OrderLine, Pickup, Ship
from omniorder.model.values import Capability

__all__ = ["AllocationProblem", "LineKey", "Route", "StockKey"]

StockKey = tuple[str, str]
"""``(location, sku)``."""
LineKey = tuple[str, str]
"""``(order_id, line_id)``."""

Kind = Literal["ship", "pickup", "transfer"]


@attrs.frozen
class Route:
    """One way to serve a line from one location.

    Attributes:
        location: the origin.
        unit: handling cost per unit there.
        shipment: the cost of the shipment (or transfer) from there for this order; zero for a
            pickup at the store itself.
    """

    location: str
    unit: Decimal
    shipment: Decimal


def _orders(value: Iterable[Order]) -> tuple[Order, ...]:
    found = tuple(value)
    for order in found:
        if not isinstance(order, Order):
            raise InvalidInput("orders must be Order values", field="orders", value=order)
    return found


def _supply(value: Mapping[StockKey, int]) -> Mapping[StockKey, int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("supply must map (location, sku) to units", field="supply", value=value)
    checked = {}
    for key, units in value.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise InvalidInput("supply keys are (location, sku) pairs", field="supply", value=key)
        checks.identifier(key[0], "supply location")
        checks.identifier(key[1], "supply sku")
        checked[key] = checks.non_negative(units, f"supply[{key!r}]")
    return MappingProxyType(checked)


def _splits(_: object, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        checks.positive(value, "max_splits")


def _cost(_: object, __: attrs.Attribute[CostModel], value: CostModel) -> None:
    if not isinstance(value, CostModel):
        raise InvalidInput("cost must be a CostModel", field="cost", value=value)


@attrs.frozen
class AllocationProblem:
    """Orders to source, the network, the stock each location can give, and the cost model.

    Attributes:
        network: the locations and lanes.
        orders: the orders, in the order they arrived (solvers that serve orders one by one
            serve them in this order).
        supply: units each ``(location, sku)`` can give to these orders (after other holds,
            commitments and the channel's safety stock); absent keys give nothing.
        cost: the :class:`CostModel` plans are judged by.
        max_splits: the most origins one order's shipped and transferred lines may come from
            (None: no limit).

    Raises:
        InvalidInput: duplicate order ids, a negative supply, a bad split limit.
        UnknownLocation: a supply key or a pickup store that is not in the network.
    """

    network: Network
    orders: tuple[Order, ...] = attrs.field(converter=_orders)
    supply: Mapping[StockKey, int] = attrs.field(converter=_supply, hash=False)
    cost: CostModel = attrs.field(factory=CostModel, validator=_cost)
    max_splits: int | None = attrs.field(default=None, validator=_splits)
    _by_id: Mapping[str, Order] = attrs.field(init=False, eq=False, repr=False, hash=False)
    _stocked: Mapping[str, tuple[str, ...]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _shipments: dict[tuple[str, str], Decimal] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _routes: dict[tuple[str, str], tuple[Route, ...]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _refusals: dict[tuple[str, str, str], str] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _locations: Mapping[str, Location] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        by_id = {order.id: order for order in self.orders}
        if len(by_id) != len(self.orders):
            raise InvalidInput("order ids must be unique", field="orders")
        for location, _ in self.supply:
            self.network.location(location)
        for order in self.orders:
            for line in order.lines:
                if not isinstance(line.fulfilment, Ship):
                    self.network.location(line.fulfilment.at)
        stocked: defaultdict[str, list[str]] = defaultdict(list)
        for (location, sku), units in sorted(self.supply.items()):
            if units > 0:
                stocked[sku].append(location)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_stocked", {k: tuple(v) for k, v in stocked.items()})
        object.__setattr__(self, "_shipments", {})
        object.__setattr__(self, "_routes", {})
        object.__setattr__(self, "_refusals", {})
        object.__setattr__(self, "_locations", {loc.id: loc for loc in self.network.locations})

    # -- lookups -----------------------------------------------------------------------------

    def order(self, order_id: str) -> Order:
        """The order with this id.

        Raises:
            InvalidInput: no such order in the problem.
        """
        try:
            return self._by_id[order_id]
        except KeyError:
            raise InvalidInput(
                f"no order {order_id!r} in the problem", field="order_id", value=order_id
            ) from None

    def location(self, location_id: str) -> Location:
        """The network's location with this id (a fast lookup for solvers).

        Raises:
            UnknownLocation: no such location.
        """
        try:
            return self._locations[location_id]
        except KeyError:
            raise UnknownLocation(str(location_id)) from None

    def stocked(self, sku: str) -> tuple[str, ...]:
        """The locations that have some ``sku`` to give, by id."""
        return self._stocked.get(sku, ())

    def units(self, location: str, sku: str) -> int:
        """What ``location`` can give of ``sku``."""
        return self.supply.get((location, sku), 0)

    @staticmethod
    def kind(line: OrderLine) -> Kind:
        """``"ship"``, ``"pickup"`` or ``"transfer"``."""
        if isinstance(line.fulfilment, Ship):
            return "ship"
        return "pickup" if isinstance(line.fulfilment, Pickup) else "transfer"

    def refusal(self, order: Order, line: OrderLine, location: Location) -> str:
        """Why ``location`` can never serve ``line`` (whatever its stock), or "" if it can."""
        fulfilment = line.fulfilment
        key = (self.kind(line), "" if isinstance(fulfilment, Ship) else fulfilment.at, location.id)
        found = self._refusals.get(key)
        if found is None:
            found = self._refusals[key] = self._refuse(line, location)
        return found

    def _refuse(self, line: OrderLine, location: Location) -> str:
        kind = self.kind(line)
        if kind == "ship":
            return "" if location.can(Capability.SHIP) else "lacks SHIP"
        store = line.fulfilment.at  # type: ignore[union-attr]
        if kind == "pickup":
            if location.id != store:
                return f"not the pickup store {store}"
            return "" if location.can(Capability.PICKUP) else "lacks PICKUP"
        if location.id == store:
            return "is the destination store"
        return "" if self.lane(location.id, store) else f"no lane to {store}"

    def lane(self, origin: str, store: str) -> Lane | None:
        """The lane from ``origin`` to ``store``, or None."""
        try:
            return self.network.lane(origin, store)
        except UnknownLocation:
            return None

    def shipment(self, order: Order, line: OrderLine, origin: str) -> Decimal:
        """The cost of the one shipment (or transfer) that carries ``line`` from ``origin``.

        Zero for a pickup at its own store. Shared by every line of the order that leaves
        ``origin`` the same way.
        """
        shipment = self.shipment_key(order, line, origin)
        if shipment is None:
            return Decimal(0)
        key = (order.id, shipment)
        found = self._shipments.get(key)
        if found is None:
            location = self.location(origin)
            if self.kind(line) == "ship":
                assert order.ship_to is not None
                found = self.cost.shipment(location, order.ship_to)
            else:
                lane = self.lane(origin, line.fulfilment.at)  # type: ignore[union-attr]
                assert lane is not None
                found = self.cost.transfer(lane)
            self._shipments[key] = found
        return found

    def routes(self, order: Order, line: OrderLine) -> tuple[Route, ...]:
        """Every location that can serve ``line`` and has stock of its sku, by location id."""
        key = (order.id, line.id)
        found = self._routes.get(key)
        if found is None:
            fulfilment = line.fulfilment
            stocked = self._stocked.get(line.sku, ())
            if isinstance(fulfilment, Pickup):  # only the store itself can serve a pickup
                stocked = tuple(loc for loc in stocked if loc == fulfilment.at)
            found = self._routes[key] = tuple(
                Route(
                    location_id,
                    self.cost.unit(self.location(location_id)),
                    self.shipment(order, line, location_id),
                )
                for location_id in stocked
                if not self.refusal(order, line, self.location(location_id))
            )
        return found

    def shipment_key(self, order: Order, line: OrderLine, origin: str) -> str | None:
        """What a unit of ``line`` from ``origin`` travels in (lines of one order that share
        it share one shipment): ``"ship:<origin>"``, ``"transfer:<origin>><store>"``, or None
        for a pickup (no shipment)."""
        kind = self.kind(line)
        if kind == "ship":
            return f"ship:{origin}"
        if kind == "transfer":
            return f"transfer:{origin}>{line.fulfilment.at}"  # type: ignore[union-attr]
        return None
