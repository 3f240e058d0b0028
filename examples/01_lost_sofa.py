"""The lost sofa: a chat agent's hold that the store's till cannot sell from under the customer.

Maya sees a green velvet sofa on the web shop and asks the web chat whether she can see it in her
local branch. The agent finds the last one at the Camden store and "reserves" it. In most shops
that reservation is a note in the customer-service tool: nobody tells the store, a walk-in
customer buys the sofa at the till, and Maya arrives to find it gone.

Here the chat agent's hold (a ``Channel.CALL_CENTER`` reservation), the web shop's availability,
the store's till and the pickup counter all read and change one ledger, so the till refuses to
sell the held sofa and Maya collects it. A second hold, on the matching armchair, is never taken
up: when it runs out the armchair is back on sale in every channel by itself.

The engine keeps its ledger in SQLite (``SQLiteStore``, the embedded default) on a temporary
file. Run it with ``python examples/01_lost_sofa.py``.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omniorder import (
    Capability,
    Channel,
    Engine,
    Geo,
    InsufficientStock,
    Location,
    LocationKind,
    ManualClock,
    Network,
    SQLiteStore,
)

SOFA = "green-velvet-sofa"
ARMCHAIR = "green-velvet-armchair"
CAMDEN = "camden"


def build_network() -> Network:
    """One London store with a till and a pickup counter."""
    camden = Location(
        CAMDEN, LocationKind.STORE, Geo(51.539, -0.143), {Capability.SELL, Capability.PICKUP}
    )
    return Network([camden])


def show(engine: Engine, sku: str) -> None:
    """Print what every channel may sell of ``sku`` right now."""
    seen = ", ".join(f"{c.value} {engine.availability(sku, channel=c)}" for c in Channel)
    print(f"    {sku} on sale -> {seen}")


def main() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    numbers = itertools.count(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.sqlite3"
        store = SQLiteStore(path)
        engine = Engine(
            build_network(), store=store, clock=clock, ids=lambda p: f"{p}-{next(numbers)}"
        )
        print(f"1. The ledger lives in SQLite ({path.name}); the last sofa and armchair arrive.")
        engine.receive(CAMDEN, SOFA, 1, key="delivery-1041/sofa")
        engine.receive(CAMDEN, ARMCHAIR, 1, key="delivery-1041/armchair")
        show(engine, SOFA)

        print("2. Maya asks the web chat; the agent holds the sofa for her at Camden.")
        hold = engine.reserve(CAMDEN, {SOFA: 1}, channel=Channel.CALL_CENTER, key="chat-8812")
        print(f"    {hold.id} is {hold.state} until {hold.expires_at:%a %d %b %H:%M} UTC")
        show(engine, SOFA)

        print("3. A walk-in customer asks to buy the same sofa at Camden's till.")
        clock.advance(timedelta(hours=2))
        try:
            engine.sell(CAMDEN, {SOFA: 1})
        except InsufficientStock as refused:
            print(f"    the till refuses: {refused}")

        print("4. Maya pays by link; the store puts the sofa at the pickup counter.")
        engine.confirm(hold.id, key="chat-8812/paid")
        ready = engine.mark_ready(hold.id)
        print(f"    {ready.id} is {ready.state}; collect by {ready.expires_at:%a %d %b %H:%M} UTC")

        print("5. Another caller has the armchair held by phone, then never calls back.")
        armchair = engine.reserve(CAMDEN, {ARMCHAIR: 1}, channel=Channel.CALL_CENTER)
        show(engine, ARMCHAIR)

        print("6. The next day Maya collects her sofa.")
        clock.advance(timedelta(days=1))
        collected = engine.collect(hold.id, at=CAMDEN)
        print(f"    {collected.id} is {collected.state}; Maya takes the sofa home")
        print(f"    sofas on hand at Camden: {engine.position(CAMDEN, SOFA).on_hand}")

        print("7. Two days on, the armchair's 48-hour hold has run out: no sweep needed.")
        clock.advance(timedelta(days=1))
        print(f"    {armchair.id} is {engine.reservation(armchair.id).state}")
        show(engine, ARMCHAIR)
        swept = engine.expire_due()
        print(f"    the sweep records the expiry of {[r.id for r in swept]}")

        print("8. A new connection to the file, as another process would open, sees the same.")
        store.close()
        again = SQLiteStore(path)
        reopened = Engine(build_network(), store=again, clock=clock)
        print(f"    events in the outbox: {len(reopened.events())}")
        print(f"    ledger check: {reopened.verify() or 'clean'}")
        again.close()


if __name__ == "__main__":
    main()
