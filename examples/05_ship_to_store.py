"""Ship-to-store: an armchair sent from the warehouse to the store where the customer collects it.

Lena orders a reading armchair in the app for collection at the Bristol store, which has none.
The warehouse sends one on the next van. In many shops the store's system counts the van's load
as its own stock the moment the transfer is booked, so the till sells "the armchair in the
stockroom" before it has even arrived; or the armchair arrives and is put on the shop floor,
where a walk-in buys it while Lena is on her way.

Here the order is sourced over a ``Lane`` from the warehouse to Bristol. Once the van leaves,
the armchair is in Bristol's ``inbound``: counted, but never sellable there. When it arrives it
goes on hand at Bristol under a READY reservation with a pickup deadline (``ReservationReady``
tells Lena), so the till still cannot sell it; Lena collects it at the counter.
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
    InsufficientStock,
    Lane,
    Location,
    LocationKind,
    ManualClock,
    Network,
    Order,
    OrderLine,
    ShipToStore,
)

CHAIR = "reading-armchair"
BRISTOL = "bristol"
VAN = Lane("midlands", BRISTOL, timedelta(days=1), Decimal("6.00"))


def build_network() -> Network:
    """A warehouse, a Bristol store with a till and a counter, and a daily van between them."""
    counter = {Capability.SELL, Capability.PICKUP}
    return Network(
        [
            Location("midlands", LocationKind.WAREHOUSE, Geo(52.486, -1.890), {Capability.SHIP}),
            Location(BRISTOL, LocationKind.STORE, Geo(51.455, -2.588), counter),
        ],
        [VAN],
    )


def at_bristol(engine: Engine) -> str:
    """The armchair's position at Bristol and what its till may sell."""
    p = engine.position(BRISTOL, CHAIR)
    till = engine.availability(CHAIR, channel=Channel.STORE, location=BRISTOL)
    return (
        f"inbound {p.inbound}, on hand {p.on_hand}, committed {p.committed}; till may sell {till}"
    )


def try_the_till(engine: Engine) -> None:
    """A walk-in customer at Bristol asks for the armchair."""
    try:
        engine.sell(BRISTOL, {CHAIR: 1})
    except InsufficientStock as refused:
        print(f"    a walk-in asks at the till -> refused: {refused}")


def main() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 18, 0, tzinfo=UTC))
    numbers = itertools.count(1)
    engine = Engine(build_network(), clock=clock, ids=lambda p: f"{p}-{next(numbers)}")
    engine.receive("midlands", CHAIR, 3)

    print("1. Lena orders an armchair in the app, to collect at Bristol (which has none).")
    line = OrderLine("1", CHAIR, 1, Decimal("349.00"), ShipToStore(BRISTOL))
    view = engine.place_order(Order("o-4001", Channel.APP, [line]), key="app-4001")
    (transfer_id,) = view.reservation_ids
    transfer = engine.reservation(transfer_id)
    print(f"    {transfer.id}: {transfer.mode} from {transfer.location} to {transfer.destination}")
    print(f"    the warehouse may still sell {engine.availability(CHAIR, location='midlands')}")

    print("2. The van leaves the warehouse.")
    clock.advance(timedelta(hours=14))
    print(f"    {transfer.id} is {engine.ship(transfer_id).state}")
    print(f"    at Bristol: {at_bristol(engine)}")
    try_the_till(engine)

    print("3. The van arrives the next day; the armchair waits at the counter.")
    clock.advance(VAN.transit)
    ready = engine.arrive(transfer_id)
    print(f"    {transfer.id} is {engine.reservation(transfer_id).state}")
    print(f"    {ready.id} is {ready.state}: tell Lena to collect by {ready.expires_at:%a %d %b}")
    print(f"    at Bristol: {at_bristol(engine)}")
    try_the_till(engine)

    print("4. Lena collects the armchair at the Bristol counter.")
    clock.advance(timedelta(hours=3))
    print(f"    {ready.id} is {engine.collect(ready.id, at=BRISTOL).state}")
    print(f"    at Bristol: {at_bristol(engine)}")
    line_view = engine.order("o-4001").line("1")
    trail = [f"{r.location} {r.mode} {r.state}" for r in line_view.reservations]
    print(f"    order line 1: collected {line_view.fulfilled} in {line_view.fulfilled_in}; {trail}")
    print(f"    ledger check: {engine.verify() or 'clean'}")


if __name__ == "__main__":
    main()
