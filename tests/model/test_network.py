"""Geo distances, locations, lanes and the network (DESIGN §2.1)."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given

from omniorder import (
    Capability,
    Geo,
    InvalidInput,
    Lane,
    Location,
    LocationKind,
    MissingCapability,
    Network,
    UnknownLocation,
)
from omniorder.testing import strategies as ost
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE, sample_network

LONDON = Geo(51.5074, -0.1278)
PARIS = Geo(48.8566, 2.3522)
NEW_YORK = Geo(40.7128, -74.0060)


def test_great_circle_distances_match_known_city_pairs() -> None:
    assert LONDON.km(PARIS) == pytest.approx(343.5, abs=1)
    assert LONDON.km(NEW_YORK) == pytest.approx(5570, abs=5)
    assert LONDON.km(LONDON) == 0


@given(ost.geos(), ost.geos())
def test_distance_is_symmetric_and_bounded_by_half_the_circumference(a: Geo, b: Geo) -> None:
    assert a.km(b) == pytest.approx(b.km(a))
    assert 0 <= a.km(b) <= math.pi * 6371.0088 + 1e-6


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91, 0), (-90.5, 0), (0, 181), (math.nan, 0), (0, math.inf), (True, 0), ("1", 0)],
)
def test_a_point_off_the_globe_is_refused(lat: object, lon: object) -> None:
    with pytest.raises(InvalidInput):
        Geo(lat, lon)  # type: ignore[arg-type]


def test_a_location_takes_capabilities_from_any_collection() -> None:
    loc = Location("s", "store", LONDON, ["sell", Capability.PICKUP])
    assert loc.kind is LocationKind.STORE
    assert loc.capabilities == {Capability.SELL, Capability.PICKUP}
    assert loc.can(Capability.SELL)
    assert not loc.can(Capability.SHIP)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": ""},
        {"id": " padded"},
        {"kind": "kiosk"},
        {"capabilities": "ship"},
        {"capabilities": ["teleport"]},
        {"geo": (1, 2)},
        {"priority": 1.5},
        {"capacity": -1},
        {"handling": -1},
        {"handling": 0.5},
        {"name": None},
    ],
)
def test_a_malformed_location_is_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "id": "s",
        "kind": LocationKind.STORE,
        "geo": LONDON,
        "capabilities": (),
    }
    with pytest.raises(InvalidInput):
        Location(**(fields | kwargs))  # type: ignore[arg-type]


def test_a_lane_joins_two_distinct_locations_with_a_positive_transit() -> None:
    lane = Lane(WAREHOUSE, STORE_1, timedelta(days=1), Decimal("4.50"))
    assert lane.cost == Decimal("4.50")
    with pytest.raises(InvalidInput):
        Lane(STORE_1, STORE_1, timedelta(days=1), Decimal(1))
    with pytest.raises(InvalidInput):
        Lane(WAREHOUSE, STORE_1, timedelta(0), Decimal(1))
    with pytest.raises(InvalidInput):
        Lane(WAREHOUSE, STORE_1, timedelta(hours=1), Decimal(-1))


def test_the_network_finds_locations_and_refuses_unknown_ids() -> None:
    net = sample_network()
    assert net.location(STORE_1).name == "Camden"
    assert STORE_1 in net
    assert "elsewhere" not in net
    with pytest.raises(UnknownLocation) as raised:
        net.location("elsewhere")
    assert raised.value.location == "elsewhere"
    assert isinstance(raised.value, LookupError)


def test_the_network_lists_locations_nearest_first() -> None:
    net = sample_network()
    camden_area = Geo(51.55, -0.15)
    assert [loc.id for loc in net.nearest(camden_area)] == [STORE_1, WAREHOUSE, STORE_2]
    assert [loc.id for loc in net.nearest(camden_area, capability=Capability.SHIP)] == [
        WAREHOUSE,
        STORE_2,
    ]
    assert [loc.id for loc in net.nearest(camden_area, kind=LocationKind.STORE, limit=1)] == [
        STORE_1
    ]
    with pytest.raises(InvalidInput):
        net.nearest(camden_area, limit=0)


def test_nearest_breaks_distance_ties_on_id() -> None:
    here = Geo(10, 10)
    net = Network([Location(i, LocationKind.STORE, here, ()) for i in ("b", "a", "c")])
    assert [loc.id for loc in net.nearest(here)] == ["a", "b", "c"]


def test_require_names_the_missing_capability() -> None:
    net = sample_network()
    with pytest.raises(MissingCapability) as raised:
        net.require(WAREHOUSE, Capability.SELL, "sell")
    assert (raised.value.location, raised.value.capability) == (WAREHOUSE, "sell")
    assert isinstance(raised.value, InvalidInput)


def test_lanes_are_held_in_the_graph() -> None:
    base = sample_network()
    lane = Lane(WAREHOUSE, STORE_1, timedelta(days=1), Decimal(3))
    net = Network(base.locations, [lane])
    assert net.lane(WAREHOUSE, STORE_1) == lane
    assert net.lane(STORE_1, WAREHOUSE) is None
    assert net.lanes_to(STORE_1) == (lane,)
    with pytest.raises(UnknownLocation):
        Network(base.locations, [Lane("ghost", STORE_1, timedelta(days=1), Decimal(3))])
    with pytest.raises(InvalidInput):
        Network(base.locations, [lane, lane])


def test_duplicate_location_ids_are_refused() -> None:
    loc = Location("s", LocationKind.STORE, LONDON, ())
    with pytest.raises(InvalidInput):
        Network([loc, loc])


@given(ost.networks())
def test_every_generated_network_is_consistent(net: Network) -> None:
    for loc in net.locations:
        assert net.location(loc.id) == loc
    assert len(net.nearest(Geo(0, 0))) == len(net.locations)
