"""Every public value and event round-trips through JSON; untrusted JSON is refused cleanly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import (
    Channel,
    Event,
    Geo,
    InvalidInput,
    Lane,
    Location,
    Mode,
    Movement,
    MovementKind,
    Network,
    Policy,
    Position,
    Reservation,
    Sale,
)
from omniorder.allocation import AllocationPlan, AllocationProblem, default_solver
from omniorder.model import EVENT_TYPES, Line, ReservationHeld
from omniorder.model.order import (
    LineQuantity,
    LineView,
    Order,
    OrderLine,
    OrderRecord,
    OrderStatus,
    OrderView,
    Pickup,
    ShipToStore,
    Sourcing,
)
from omniorder.serialization import converter, from_json, structure, to_json, unstructure
from omniorder.testing import strategies as ost


@given(ost.events())
def test_every_event_round_trips_through_json_as_a_tagged_union(event: Event) -> None:
    text = to_json(event)
    assert json.loads(text)["type"] == type(event).__name__
    assert from_json(text, Event) == event


def test_every_event_class_is_in_the_union() -> None:
    names = {cls.__name__ for cls in EVENT_TYPES}
    assert {"StockReceived", "StockSold", "ReservationHeld", "ReservationExpired"} <= names


@given(ost.reservations())
def test_reservations_round_trip(reservation: Reservation) -> None:
    assert from_json(to_json(reservation), Reservation) == reservation


@given(ost.positions())
def test_positions_round_trip(position: Position) -> None:
    assert from_json(to_json(position), Position) == position


@given(ost.networks())
def test_networks_with_their_locations_and_lanes_round_trip(network: Network) -> None:
    assert from_json(to_json(network), Network) == network


@given(
    st.builds(
        Movement,
        st.integers(min_value=1),
        ost.aware_datetimes(),
        ost.identifiers(),
        ost.skus(),
        st.sampled_from(MovementKind),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.text(max_size=20),
        st.none() | ost.identifiers(),
    )
)
def test_movements_round_trip(movement: Movement) -> None:
    assert from_json(to_json(movement), Movement) == movement


def test_policies_and_sales_round_trip() -> None:
    policy = Policy(hold_ttl={Channel.WEB: timedelta(minutes=7, seconds=30)})
    assert from_json(to_json(policy), Policy) == policy
    sale = Sale("sale-1", "s", Channel.STORE, (Line("a", 2),), datetime(2026, 1, 1, tzinfo=UTC))
    assert from_json(to_json(sale), Sale) == sale


def test_the_wire_format_is_the_documented_one() -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    event = ReservationHeld(
        seq=3,
        at=at,
        reservation_id="res-1",
        location="s",
        channel=Channel.CALL_CENTER,
        mode=Mode.PICKUP,
        lines=(Line("sofa", 1),),
        expires_at=at + timedelta(hours=48),
    )
    assert unstructure(event) == {
        "type": "ReservationHeld",
        "seq": 3,
        "at": "2026-11-25T09:00:00+00:00",
        "reservation_id": "res-1",
        "location": "s",
        "channel": "call_center",
        "order_id": None,
        "mode": "pickup",
        "lines": [{"sku": "sofa", "quantity": 1}],
        "expires_at": "2026-11-27T09:00:00+00:00",
    }
    lane = Lane("a", "b", timedelta(hours=36), Decimal("12.50"))
    assert unstructure(lane) == {
        "origin": "a",
        "destination": "b",
        "transit": 129600,
        "cost": "12.50",
    }


GOOD_POSITION: dict[str, Any] = {
    "location": "s",
    "sku": "x",
    "on_hand": 1,
    "reserved": 0,
    "committed": 0,
    "safety_stock": 0,
    "inbound": 0,
    "quarantine": 0,
}


@pytest.mark.parametrize(
    ("data", "cls", "needle"),
    [
        (GOOD_POSITION | {"extra": 1}, Position, "extra fields found (extra)"),
        (GOOD_POSITION | {"on_hand": "1"}, Position, "$.on_hand"),
        (GOOD_POSITION | {"on_hand": True}, Position, "$.on_hand"),
        (GOOD_POSITION | {"on_hand": 1.0}, Position, "$.on_hand"),
        (GOOD_POSITION | {"sku": 5}, Position, "$.sku"),
        ({"lat": "51", "lon": 0}, Geo, "$.lat"),
        ({"lat": 91, "lon": 0}, Geo, "lat"),
        ({"type": "StockTeleported", "seq": 1}, Event, "StockTeleported"),
        (
            {
                "type": "StockReceived",
                "seq": 1,
                "at": "2026-01-01T00:00:00",
                "location": "s",
                "sku": "x",
                "quantity": 1,
            },
            Event,
            "timezone-aware",
        ),
        ({"origin": "a", "destination": "b", "transit": 60, "cost": 1.5}, Lane, "$.cost"),
        ({"origin": "a", "destination": "b", "transit": 60, "cost": "NaN"}, Lane, "$.cost"),
        ({"origin": "a", "destination": "b", "transit": "1h", "cost": "1"}, Lane, "$.transit"),
        (
            {"origin": "a", "destination": "b", "transit": 60, "cost": "9E+999999"},
            Lane,
            "cost must",
        ),
        ({"origin": "a", "destination": "b", "transit": 60, "cost": "1E+30"}, Lane, "cost must"),
        (
            {"origin": "a", "destination": "b", "transit": 60, "cost": "1E-9"},
            Lane,
            "decimal places",
        ),
        (
            {"id": "s", "kind": "kiosk", "geo": {"lat": 0, "lon": 0}, "capabilities": []},
            Location,
            "$.kind",
        ),
        (
            {"id": "s", "kind": "store", "geo": {"lat": 0, "lon": 0}, "capabilities": ["fly"]},
            Location,
            "capabilities",
        ),
        ([1, 2], Position, "Position"),
        ("text", Geo, "Geo"),
        (
            {"id": "s", "kind": 3, "geo": {"lat": 0, "lon": 0}, "capabilities": []},
            Location,
            "$.kind",
        ),
        ({"origin": "a", "destination": "b", "transit": 60, "cost": "lots"}, Lane, "$.cost"),
        (
            {
                "type": "StockReceived",
                "seq": 1,
                "at": 1,
                "location": "s",
                "sku": "x",
                "quantity": 1,
            },
            Event,
            "$.at",
        ),
        ([], Network, "expected an object, got list"),
        ({"locations": [], "lanes": [], "depots": []}, Network, "extra fields found (depots)"),
    ],
)
def test_untrusted_json_is_refused_with_invalid_input(data: Any, cls: Any, needle: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        structure(data, cls)
    assert needle in str(raised.value) + " ".join(raised.value.problems)
    assert isinstance(raised.value, ValueError)


def test_a_converter_caller_gets_invalid_input_too() -> None:
    with pytest.raises(InvalidInput):
        converter.structure({"lat": None, "lon": 0}, Geo)
    with pytest.raises(InvalidInput, match="not valid JSON"):
        from_json("{", Geo)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_json_nested_a_hundred_thousand_deep_is_invalid_input(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    with pytest.raises(InvalidInput, match="nested too deeply"):
        from_json(opening * 100_000 + closing * 100_000, Position)


def test_values_nested_too_deeply_for_the_converter_are_invalid_input() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidInput):
        structure({"locations": deep, "lanes": []}, Network)


def test_every_problem_is_listed_not_only_the_first() -> None:
    with pytest.raises(InvalidInput) as raised:
        structure(GOOD_POSITION | {"on_hand": "1", "reserved": None}, Position)
    assert len(raised.value.problems) == 2


def test_naive_datetimes_are_never_written() -> None:
    with pytest.raises(InvalidInput):
        unstructure(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@given(ost.problems())
def test_orders_and_allocation_plans_round_trip(problem: AllocationProblem) -> None:
    for order in problem.orders:
        text = to_json(order)
        assert from_json(text, Order) == order
    plan = default_solver().solve(problem)
    back = from_json(to_json(plan), AllocationPlan)
    assert back == plan
    assert back.problem is None  # a plan's problem stays in the process that solved it


def test_a_fulfilment_is_tagged_by_kind() -> None:
    line = OrderLine("1", "sofa", 1, Decimal("499.00"), ShipToStore("camden"))
    assert unstructure(line)["fulfilment"] == {"at": "camden", "kind": "ship_to_store"}
    assert from_json(to_json(line), OrderLine) == line
    with pytest.raises(InvalidInput):
        structure(
            {
                "id": "1",
                "sku": "s",
                "quantity": 1,
                "unit_price": "1",
                "fulfilment": {"at": "camden"},
            },
            OrderLine,
        )


def test_order_records_and_views_round_trip() -> None:
    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    order = Order("o-1", Channel.APP, [OrderLine("1", "lamp", 2, Decimal(10), Pickup("s1"))])
    record = OrderRecord(
        order,
        OrderStatus.PLACED,
        (Sourcing("1", "res-1", "s1", 2),),
        at,
        at,
        backordered=(LineQuantity("1", 1),),
    )
    assert from_json(to_json(record), OrderRecord) == record
    view = OrderView(
        "o-1",
        Channel.APP,
        OrderStatus.PLACED,
        (LineView("1", "lamp", 2, {"s1": 2}, fulfilled=1),),
        ("res-1",),
    )
    assert from_json(to_json(view), OrderView) == view
