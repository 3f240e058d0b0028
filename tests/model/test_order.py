"""Orders are checked when they are made: each refusal is InvalidInput naming the field at fault."""

from __future__ import annotations

from decimal import Decimal

import pytest

from omniorder import Channel, Geo, InvalidInput
from omniorder.model.order import (
    LineView,
    Order,
    OrderLine,
    OrderStatus,
    OrderView,
    Pickup,
    Ship,
    ShipToStore,
)

HOME = Geo(51.5, -0.12)
PRICE = Decimal("10.00")


def _line(line_id: str = "1", sku: str = "lamp", how: object = None) -> OrderLine:
    return OrderLine(line_id, sku, 1, PRICE, Ship(HOME) if how is None else how)  # type: ignore[arg-type]


def test_a_shipment_to_something_that_is_not_a_geo_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        Ship((51.5, -0.12))  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.value) == ("to", (51.5, -0.12))


@pytest.mark.parametrize("how", ["ship", HOME, {"kind": "ship"}, None])
def test_a_line_whose_fulfilment_is_not_ship_pickup_or_ship_to_store_is_refused(
    how: object,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        OrderLine("1", "lamp", 1, PRICE, how)  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.value) == ("fulfilment", how)


@pytest.mark.parametrize("lines", ["1", b"1", 7, None])
def test_order_lines_that_are_not_a_sequence_are_refused(lines: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        Order("o-1", Channel.WEB, lines)
    assert (refused.value.field, refused.value.value) == ("lines", lines)


def test_an_order_line_that_is_not_an_order_line_value_is_refused() -> None:
    stray = {"id": "2", "sku": "rug", "quantity": 1}
    with pytest.raises(InvalidInput) as refused:
        Order("o-1", Channel.WEB, [_line(), stray])
    assert (refused.value.field, refused.value.value) == ("lines", stray)


def test_an_order_names_its_customer_only_with_a_valid_identifier() -> None:
    assert Order("o-1", Channel.WEB, [_line()], customer="c-42").customer == "c-42"
    assert Order("o-1", Channel.WEB, [_line()]).customer is None
    with pytest.raises(InvalidInput) as refused:
        Order("o-1", Channel.WEB, [_line()], customer="")
    assert refused.value.field == "customer"


def test_an_order_without_lines_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one line") as refused:
        Order("o-1", Channel.WEB, [])
    assert refused.value.field == "lines"


def test_an_order_that_repeats_a_line_id_is_refused() -> None:
    with pytest.raises(InvalidInput, match="repeats a line id") as refused:
        Order("o-1", Channel.WEB, [_line("1", "lamp"), _line("1", "rug")])
    assert refused.value.value == ["1", "1"]


def test_an_order_with_the_same_sku_twice_for_one_destination_is_refused() -> None:
    with pytest.raises(InvalidInput, match="merge the lines"):
        Order("o-1", Channel.WEB, [_line("1", "lamp"), _line("2", "lamp")])
    with pytest.raises(InvalidInput, match="merge the lines"):
        Order(
            "o-1", Channel.WEB, [_line("1", "lamp", Pickup("s1")), _line("2", "lamp", Pickup("s1"))]
        )
    # the same sku for different destinations is two lines of one order
    order = Order(
        "o-1",
        Channel.WEB,
        [
            _line("1", "lamp"),
            _line("2", "lamp", Pickup("s1")),
            _line("3", "lamp", ShipToStore("s1")),
        ],
    )
    assert [line.slot for line in order.lines] == [
        ("ship", ""),
        ("pickup", "s1"),
        ("transfer", "s1"),
    ]


def test_an_order_that_ships_to_two_addresses_is_refused() -> None:
    elsewhere = Ship(Geo(53.8, -1.55))
    with pytest.raises(InvalidInput, match="several addresses") as refused:
        Order("o-1", Channel.WEB, [_line("1", "lamp"), _line("2", "rug", elsewhere)])
    assert refused.value.value == {HOME, elsewhere.to}


def test_asking_an_order_view_for_a_line_it_does_not_have_is_invalid_input() -> None:
    view = OrderView(
        "o-1",
        Channel.WEB,
        OrderStatus.PLACED,
        (LineView("1", "lamp", 1, {"s1": 1}),),
        ("res-1",),
    )
    assert view.line("1").sku == "lamp"
    with pytest.raises(InvalidInput, match="has no line '9'") as refused:
        view.line("9")
    assert (refused.value.field, refused.value.value) == ("line_id", "9")
    with pytest.raises(InvalidInput, match="has no line '9'"):
        Order("o-1", Channel.WEB, [_line()]).line("9")


def test_a_view_skips_sourcing_whose_reservation_does_not_hold_the_lines_sku() -> None:
    import attrs

    from omniorder import Engine, InMemoryStore
    from omniorder.model.order import order_view
    from omniorder.testing.network import WAREHOUSE, sample_network

    engine = Engine(sample_network(), store=InMemoryStore())
    engine.receive(WAREHOUSE, "lamp", 1)
    (lamp,) = engine.place_order(Order("o-1", Channel.WEB, [_line("1", "lamp")])).reservation_ids
    with engine.store.unit_of_work(read_only=True) as uow:
        record = uow.order("o-1")
    assert record is not None
    reservations = {lamp: engine.reservation(lamp)}
    assert order_view(record, reservations).line("1").sourced == {WAREHOUSE: 1}
    # the record of another version of the order, whose line 1 is a rug
    rug = attrs.evolve(record, order=Order("o-1", Channel.WEB, [_line("1", "rug")]))
    line = order_view(rug, reservations).line("1")
    assert (line.sku, line.sourced, line.reservations) == ("rug", {}, ())
