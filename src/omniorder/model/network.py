"""Locations, lanes and the network that holds them (a :mod:`networkx` graph)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import attrs
import networkx as nx

from omniorder.model import checks
from omniorder.model.errors import InvalidInput, MissingCapability, UnknownLocation
from omniorder.model.values import Capability, Geo, LocationKind, Mode

T = TypeVar("T")

__all__ = ["Lane", "Location", "Network"]

if TYPE_CHECKING:
    _Graph = nx.DiGraph[str]
else:  # networkx's graph classes are not subscriptable at run time (type hints get resolved)
    _Graph = nx.DiGraph


def _capabilities(value: Iterable[Capability | str]) -> frozenset[Capability]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput(
            "capabilities must be a collection of Capability values",
            field="capabilities",
            value=value,
        )
    return frozenset(checks.check_enum(Capability, c, "capabilities") for c in value)


def _check_id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    checks.identifier(value, attribute.name)


def _kind(value: LocationKind | str) -> LocationKind:
    return checks.check_enum(LocationKind, value, "kind")


def _check_kind(_: object, __: attrs.Attribute[LocationKind], value: LocationKind) -> None:
    checks.check_enum(LocationKind, value, "kind")


def _check_geo(_: object, __: attrs.Attribute[Geo], value: Geo) -> None:
    if not isinstance(value, Geo):
        raise InvalidInput("geo must be a Geo", field="geo", value=value)


def _check_priority(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("priority must be an int", field="priority", value=value)


def _check_capacity(_: object, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        checks.non_negative(value, "capacity")


def _check_handling(_: object, __: attrs.Attribute[Decimal | None], value: Decimal | None) -> None:
    if value is not None:
        checks.money(value, "handling")


def _check_name(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidInput("name must be a str", field="name", value=value)


@attrs.frozen
class Location:
    """A place that holds stock: a warehouse or a store.

    Attributes:
        id: unique id in the network.
        kind: :class:`LocationKind` (warehouse or store).
        geo: where it is; distances are great-circle kilometres.
        capabilities: what it can do (:class:`Capability`: SHIP, PICKUP, RETURNS, SELL).
        priority: lower is preferred by the priority solver; ties break on id.
        capacity: the most shipments it can take in one allocation run, or None for no limit.
        handling: per-unit handling cost overriding the cost model's per-kind value, or None.
        name: a human name for reports.
    """

    id: str = attrs.field(validator=_check_id)
    kind: LocationKind = attrs.field(converter=_kind, validator=_check_kind)
    geo: Geo = attrs.field(validator=_check_geo)
    capabilities: frozenset[Capability] = attrs.field(converter=_capabilities)
    priority: int = attrs.field(default=0, validator=_check_priority)
    capacity: int | None = attrs.field(default=None, validator=_check_capacity)
    handling: Decimal | None = attrs.field(default=None, validator=_check_handling)
    name: str = attrs.field(default="", validator=_check_name)

    def can(self, capability: Capability) -> bool:
        """Whether the location has ``capability``."""
        return capability in self.capabilities


def _check_transit(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    checks.positive_duration(value, "transit")


def _cost(value: Decimal | int) -> Decimal:
    return checks.money(value, "cost")


@attrs.frozen
class Lane:
    """A transfer route from one location to another (ship-to-store).

    Attributes:
        origin: the sending location id.
        destination: the receiving location id (never the origin).
        transit: how long a transfer takes.
        cost: what one transfer costs.
    """

    origin: str = attrs.field(validator=_check_id)
    destination: str = attrs.field(validator=_check_id)
    transit: timedelta = attrs.field(validator=_check_transit)
    cost: Decimal = attrs.field(converter=_cost)

    def __attrs_post_init__(self) -> None:
        if self.origin == self.destination:
            raise InvalidInput(
                f"a lane must join two locations; {self.origin!r} leads to itself",
                field="destination",
                value=self.destination,
            )


def _all_of(kind: type[T], value: object, field: str) -> tuple[T, ...]:
    """``value`` (a list, tuple or other collection) as a tuple of ``kind`` values."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(
            f"{field} must be a collection of {kind.__name__} values, not {type(value).__name__}",
            field=field,
            value=value,
        )
    found = tuple(value)
    for item in found:
        if not isinstance(item, kind):
            raise InvalidInput(f"{field} must be {kind.__name__} values", field=field, value=item)
    return found


def _locations(value: Iterable[Location]) -> tuple[Location, ...]:
    return _all_of(Location, value, "locations")


def _lanes(value: Iterable[Lane]) -> tuple[Lane, ...]:
    return _all_of(Lane, value, "lanes")


@attrs.frozen
class Network:
    """Every location and lane, held in a directed :mod:`networkx` graph.

    Attributes:
        locations: the locations, in the order given; ids are unique.
        lanes: the transfer routes; both ends must be locations of the network, and there is at
            most one lane per (origin, destination).

    Raises:
        InvalidInput: a duplicate location id or lane.
        UnknownLocation: a lane names a location that is not in the network.
    """

    locations: tuple[Location, ...] = attrs.field(converter=_locations)
    lanes: tuple[Lane, ...] = attrs.field(default=(), converter=_lanes)
    _graph: _Graph = attrs.field(init=False, eq=False, repr=False, hash=False)
    _by_id: dict[str, Location] = attrs.field(init=False, eq=False, repr=False, hash=False)
    """Every location by id: the graph's own node lookup costs several calls per command."""

    def __attrs_post_init__(self) -> None:
        graph: nx.DiGraph[str] = nx.DiGraph()
        for location in self.locations:
            if location.id in graph:
                raise InvalidInput(
                    f"duplicate location id {location.id!r}", field="locations", value=location.id
                )
            graph.add_node(location.id, location=location)
        for lane in self.lanes:
            for end in (lane.origin, lane.destination):
                if end not in graph:
                    raise UnknownLocation(end)
            if graph.has_edge(lane.origin, lane.destination):
                raise InvalidInput(
                    f"duplicate lane {lane.origin!r} -> {lane.destination!r}",
                    field="lanes",
                    value=lane,
                )
            graph.add_edge(lane.origin, lane.destination, lane=lane)
        object.__setattr__(self, "_graph", graph)
        object.__setattr__(self, "_by_id", {location.id: location for location in self.locations})

    def __contains__(self, location_id: object) -> bool:
        return isinstance(location_id, str) and location_id in self._graph

    def location(self, location_id: str) -> Location:
        """The location with this id.

        Raises:
            InvalidInput: a malformed id (not a printable, non-blank ``str``).
            UnknownLocation: no such location.
        """
        found = self._by_id.get(location_id) if isinstance(location_id, str) else None
        if found is None:
            checks.identifier(location_id, "location")
            raise UnknownLocation(location_id)
        return found

    def require(self, location_id: str, capability: Capability, command: str) -> Location:
        """The location with this id, which must have ``capability`` for ``command``.

        Raises:
            UnknownLocation: no such location.
            MissingCapability: the location lacks ``capability``.
        """
        location = self._by_id.get(location_id) if isinstance(location_id, str) else None
        if location is None:
            location = self.location(location_id)  # raises: no such location, or a bad id
        if capability not in location.capabilities:
            raise MissingCapability(location_id, capability.value, command)
        return location

    def lane(self, origin: str, destination: str) -> Lane | None:
        """The lane from ``origin`` to ``destination``, or None.

        Raises:
            UnknownLocation: either end is not in the network.
        """
        self.location(origin)
        self.location(destination)
        data = self._graph.get_edge_data(origin, destination)
        return None if data is None else data["lane"]  # type: ignore[no-any-return]

    def check_destination(self, origin: str, mode: Mode, destination: str | None) -> None:
        """A TRANSFER from ``origin`` needs a store to go to, over a lane; nothing else has one.

        Raises:
            InvalidInput: a destination for another mode, none for a TRANSFER, or no lane.
            UnknownLocation: the destination is not in the network.
        """
        if mode is not Mode.TRANSFER:
            if destination is not None:
                raise InvalidInput(
                    "only a TRANSFER reservation has a destination",
                    field="destination",
                    value=destination,
                )
            return
        if destination is None:
            raise InvalidInput(
                "a TRANSFER reservation needs a destination store", field="destination"
            )
        if self.lane(origin, destination) is None:
            raise InvalidInput(
                f"no lane from {origin!r} to {destination!r}",
                field="destination",
                value=destination,
            )

    def lanes_to(self, destination: str) -> tuple[Lane, ...]:
        """Every lane arriving at ``destination``, by origin id.

        Raises:
            UnknownLocation: ``destination`` is not in the network.
        """
        self.location(destination)
        return tuple(
            sorted(
                (data["lane"] for _, _, data in self._graph.in_edges(destination, data=True)),
                key=lambda lane: lane.origin,
            )
        )

    def nearest(
        self,
        geo: Geo,
        *,
        capability: Capability | None = None,
        kind: LocationKind | None = None,
        limit: int | None = None,
    ) -> list[Location]:
        """Locations ordered by great-circle distance from ``geo`` (ties on id).

        Args:
            geo: the point to measure from.
            capability: keep only locations with this capability.
            kind: keep only locations of this kind.
            limit: at most this many (``None``: all).

        Raises:
            InvalidInput: ``geo`` is not a :class:`Geo` or ``limit`` is not a positive int.
        """
        if not isinstance(geo, Geo):
            raise InvalidInput("near must be a Geo", field="geo", value=geo)
        if limit is not None:
            checks.positive(limit, "limit")
        candidates = [
            loc
            for loc in self.locations
            if (capability is None or capability in loc.capabilities)
            and (kind is None or loc.kind is kind)
        ]
        candidates.sort(key=lambda loc: (geo.km(loc.geo), loc.id))
        return candidates if limit is None else candidates[:limit]
