"""Returns in any channel: bought on the web, shipped from the warehouse, brought back to a store.

Tom orders two table lamps on the web; they are shipped to him from the Midlands warehouse. One
is the wrong colour, so he takes it to the Camden store on Saturday. In many shops a store cannot
accept a web return at all, or accepts it into a back-room pile that the web shop never sees
until it has been sent back to the warehouse: the lamp sits unsold for weeks.

Here the return is authorised at the Camden counter against the web order, received as sellable,
and restocked at Camden: it is on sale in every channel at once, and a walk-in customer buys it at
Camden's till the same afternoon. Tom's refund is the price he paid, issued once.

The second lamp comes back a week later with a cracked base. The default ``ReturnPolicy`` puts
damaged units in quarantine: counted at the store, never sellable, until someone inspects them and
``resolve_quarantine`` restocks or writes them off. This one is written off.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omniorder import (
    Capability,
    Channel,
    Condition,
    Disposition,
    Engine,
    Geo,
    InsufficientStock,
    Location,
    LocationKind,
    ManualClock,
    Network,
    Order,
    OrderLine,
    Ship,
)

LAMP = "table-lamp"
CAMDEN = "camden"
TOMS_HOME = Geo(51.552, -0.108)


def build_network() -> Network:
    """A warehouse that ships, and a London store with a till that takes returns."""
    return Network(
        [
            Location("midlands", LocationKind.WAREHOUSE, Geo(52.486, -1.890), {Capability.SHIP}),
            Location(
                CAMDEN,
                LocationKind.STORE,
                Geo(51.539, -0.143),
                {Capability.SELL, Capability.RETURNS},
            ),
        ]
    )


def at_camden(engine: Engine) -> str:
    """The lamp's position at Camden and what the web and the till may sell."""
    p = engine.position(CAMDEN, LAMP)
    web = engine.availability(LAMP, channel=Channel.WEB, location=CAMDEN)
    till = engine.availability(LAMP, channel=Channel.STORE, location=CAMDEN)
    return f"on hand {p.on_hand}, quarantine {p.quarantine}; on sale: web {web}, till {till}"


def main() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    numbers = itertools.count(1)
    engine = Engine(build_network(), clock=clock, ids=lambda p: f"{p}-{next(numbers)}")
    engine.receive("midlands", LAMP, 2)

    print("1. Tom orders two lamps on the web; the warehouse ships them.")
    lines = [OrderLine("1", LAMP, 2, Decimal("45.00"), Ship(TOMS_HOME))]
    view = engine.place_order(Order("o-3001", Channel.WEB, lines), key="checkout-3001")
    for reservation_id in view.reservation_ids:
        shipped = engine.ship(reservation_id)
        print(f"    {shipped.id} from {shipped.location} is {shipped.state}")

    print("2. Three days later Tom brings one lamp back to the Camden store.")
    clock.advance(timedelta(days=3))
    rma = engine.request_return("o-3001", {"1": 1}, at=CAMDEN, channel=Channel.STORE)
    print(f"    {rma.id}: ordered in {rma.ordered_in}, returned in {rma.channel}: {rma.state}")
    rma = engine.receive_return(rma.id, {"1": Condition.SELLABLE})
    print(f"    received as sellable and restocked: {at_camden(engine)}")

    print("3. That afternoon a walk-in customer buys it at Camden's till.")
    clock.advance(timedelta(hours=4))
    sale = engine.sell(CAMDEN, {LAMP: 1})
    print(f"    {sale.id}: sold {sale.lines[0].quantity} at {sale.location}; {at_camden(engine)}")
    closed = engine.refund_return(rma.id, key="payment-77")
    print(f"    Tom's refund: {closed.refund_total} ({closed.state})")

    print("4. A week later the second lamp comes back with a cracked base.")
    clock.advance(timedelta(days=7))
    rma = engine.request_return("o-3001", {"1": 1}, at=CAMDEN, channel=Channel.STORE)
    rma = engine.receive_return(rma.id, {"1": Condition.DAMAGED})
    print(f"    {rma.id} received damaged -> quarantine: {at_camden(engine)}")
    try:
        engine.sell(CAMDEN, {LAMP: 1})
    except InsufficientStock as refused:
        print(f"    the till cannot sell it: {refused}")

    print("5. The manager inspects it and writes it off; the refund is issued.")
    engine.resolve_quarantine(
        CAMDEN, LAMP, 1, disposition=Disposition.WRITE_OFF, reason="cracked base"
    )
    print(f"    after the write-off: {at_camden(engine)}")
    print(f"    refund: {engine.refund_return(rma.id).refund_total} (no fee in the default policy)")
    line = engine.order("o-3001").line("1")
    print(f"    order line 1: fulfilled {line.fulfilled}, returned {line.returned}")
    print(f"    ledger check: {engine.verify() or 'clean'}")


if __name__ == "__main__":
    main()
