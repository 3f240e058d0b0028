"""Click-and-collect: a web order picked up at the store the customer chose, and partly collected.

Sam, at work near King's Cross, wants two reading lamps and a rug and would rather fetch them on
the way home than wait for a parcel. Elsewhere the web page offers the nearest store that stocks
the lamp, and the store phones later to say the rug is missing. Here the page asks which stores
can hand over *everything* now, and a store that has only part of the order is never offered.

The stock is committed at Islington the moment Sam orders: no later web order and no walk-in at
Islington's till can take it. ``mark_ready`` emits ``ReservationReady`` with the pickup deadline,
the event a notification service turns into "your order is ready". At the counter Sam takes one
lamp, not two; the other is back on sale in every channel as the collection is recorded.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omniorder import (
    Capability,
    Channel,
    Engine,
    Geo,
    Location,
    LocationKind,
    ManualClock,
    Network,
    Order,
    OrderLine,
    Pickup,
)
from omniorder.model.events import ReservationReady

COUNTER = {Capability.SELL, Capability.PICKUP}
KINGS_CROSS = Geo(51.532, -0.127)


def build_network() -> Network:
    """Three London stores with a till and a pickup counter, and a warehouse."""
    return Network(
        [
            Location("camden", LocationKind.STORE, Geo(51.539, -0.143), COUNTER),
            Location("islington", LocationKind.STORE, Geo(51.536, -0.103), COUNTER),
            Location("croydon", LocationKind.STORE, Geo(51.372, -0.100), COUNTER),
            Location("midlands", LocationKind.WAREHOUSE, Geo(52.486, -1.890), {Capability.SHIP}),
        ]
    )


def show(engine: Engine, sku: str) -> None:
    """Print what every channel may sell of ``sku`` at Islington right now."""
    seen = ", ".join(
        f"{c.value} {engine.availability(sku, channel=c, location='islington')}" for c in Channel
    )
    print(f"    {sku} on sale at islington -> {seen}")


def main() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 12, 30, tzinfo=UTC))
    numbers = itertools.count(1)
    engine = Engine(build_network(), clock=clock, ids=lambda p: f"{p}-{next(numbers)}")
    for location, sku, units in [
        ("camden", "reading-lamp", 5),  # lamps, but no rug
        ("islington", "reading-lamp", 3),
        ("islington", "wool-rug", 1),
        ("croydon", "reading-lamp", 2),
        ("croydon", "wool-rug", 2),
        ("midlands", "wool-rug", 40),  # plenty in the warehouse, which has no counter
    ]:
        engine.receive(location, sku, units)

    print("1. Sam asks where two lamps and a rug can be collected today, nearest first.")
    wanted = {"reading-lamp": 2, "wool-rug": 1}
    options = engine.pickup_options(wanted, near=KINGS_CROSS, channel=Channel.WEB)
    print(f"    offered: {options}  (camden, the nearest, has no rug)")

    print("2. Sam orders on the web for pickup at Islington.")
    order = Order(
        "o-2001",
        Channel.WEB,
        [
            OrderLine("1", "reading-lamp", 2, Decimal("39.00"), Pickup("islington")),
            OrderLine("2", "wool-rug", 1, Decimal("120.00"), Pickup("islington")),
        ],
    )
    view = engine.place_order(order, key="checkout-2001")
    (pickup_id,) = view.reservation_ids
    print(f"    {view.order_id} is {view.status}; committed at islington as {pickup_id}")
    show(engine, "reading-lamp")

    print("3. Two hours later the store has picked the order and puts it on the counter.")
    clock.advance(timedelta(hours=2))
    engine.mark_ready(pickup_id, key="islington/picked/2001")
    ready = engine.events()[-1]
    assert isinstance(ready, ReservationReady)
    print(
        f"    ReservationReady -> notify the customer: order {ready.order_id} is ready at "
        f"{ready.location}, collect by {ready.pickup_deadline:%a %d %b %H:%M} UTC"
    )

    print("4. At the counter Sam takes one lamp and the rug, and leaves the second lamp.")
    clock.advance(timedelta(hours=4))
    done = engine.collect(
        pickup_id, {"reading-lamp": 1, "wool-rug": 1}, at="islington", key="counter-2001"
    )
    print(f"    {done.id} is {done.state}; the lamp Sam left is back on sale everywhere:")
    show(engine, "reading-lamp")

    print("5. The order as the web shop, the store and customer service all see it.")
    for line in engine.order("o-2001").lines:
        print(
            f"    line {line.line_id} {line.sku}: ordered {line.quantity}, collected "
            f"{line.fulfilled} in {line.fulfilled_in}, released {line.released}"
        )
    print(f"    ledger check: {engine.verify() or 'clean'}")


if __name__ == "__main__":
    main()
