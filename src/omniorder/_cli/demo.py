"""The lost-sofa story, told step by step against a real engine (``python -m omniorder demo``).

A customer finds the last green velvet sofa through the web chat; the agent holds it at her local
store; a walk-in customer tries to buy it at the till and cannot; she collects it. A second
customer's hold on the matching armchair is never collected, and the armchair goes back on sale by
itself. After every step the story shows what each channel sees.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import attrs

from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.errors import InsufficientStock
from omniorder.model.network import Location, Network
from omniorder.model.values import Capability, Channel, Geo, LocationKind, Mode
from omniorder.stores.base import Store

__all__ = ["ARMCHAIR", "CHANNEL_NAMES", "SOFA", "Step", "demo_network", "run_demo"]

SOFA = "green-velvet-sofa"
ARMCHAIR = "green-velvet-armchair"
CAMDEN = "camden"
WAREHOUSE = "midlands-dc"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

CHANNEL_NAMES: dict[Channel, str] = {
    Channel.WEB: "web",
    Channel.APP: "app",
    Channel.CALL_CENTER: "chat/call centre",
    Channel.STORE: "store till",
    Channel.MARKETPLACE: "marketplace",
}


@attrs.frozen
class Step:
    """One step of the story.

    Attributes:
        at: the time on the story's clock.
        title: what happened, in one line.
        details: what the engine answered.
        seen: per sku, the units each channel may sell at that moment.
    """

    at: datetime
    title: str
    details: tuple[str, ...]
    seen: dict[str, dict[Channel, int]]


def demo_network() -> Network:
    """A London store with a till and a pickup counter, and a warehouse that ships."""
    return Network(
        [
            Location(
                CAMDEN,
                LocationKind.STORE,
                Geo(51.5390, -0.1426),
                {Capability.SELL, Capability.PICKUP, Capability.RETURNS},
                name="Camden store",
            ),
            Location(
                WAREHOUSE,
                LocationKind.WAREHOUSE,
                Geo(52.4862, -1.8904),
                {Capability.SHIP},
                name="Midlands warehouse",
            ),
        ]
    )


def run_demo(store: Store) -> Iterator[Step]:
    """Tell the story against ``store``, yielding each step as it happens."""
    clock = ManualClock(START)
    numbers = itertools.count(1001)
    engine = Engine(
        demo_network(), store=store, clock=clock, ids=lambda prefix: f"{prefix}-{next(numbers)}"
    )

    def step(title: str, *details: str) -> Step:
        seen = {
            sku: {channel: engine.availability(sku, channel=channel) for channel in CHANNEL_NAMES}
            for sku in (SOFA, ARMCHAIR)
        }
        return Step(clock.now(), title, details, seen)

    def attempt(action: Callable[[], object]) -> str:
        try:
            action()
        except InsufficientStock as refused:
            return f"refused: {refused}"
        return "accepted"

    engine.receive(CAMDEN, SOFA, 1, key="delivery-1041/sofa")
    engine.receive(CAMDEN, ARMCHAIR, 1, key="delivery-1041/armchair")
    yield step(
        "The last green velvet sofa and its armchair arrive at the Camden store",
        "every channel reads the same ledger: one sofa, one armchair, on sale everywhere",
    )

    clock.advance(timedelta(minutes=5))
    hold = engine.reserve(
        CAMDEN, {SOFA: 1}, channel=Channel.CALL_CENTER, mode=Mode.PICKUP, key="chat-8812/hold"
    )
    assert hold.expires_at is not None
    yield step(
        "Maya asks the web chat; the agent holds the sofa for her at Camden",
        f"reservation {hold.id} is {hold.state}, until {hold.expires_at:%a %d %b %H:%M} UTC "
        "(a chat hold lasts 48 hours)",
        "web, app and marketplace stop offering it at once",
    )

    clock.advance(timedelta(hours=2))
    outcome = attempt(lambda: engine.sell(CAMDEN, {SOFA: 1}))
    yield step(
        "A walk-in customer at Camden asks to buy the sofa at the till",
        f"the till: {outcome}",
        "the held unit is not free stock, so the till cannot sell it",
    )

    clock.advance(timedelta(minutes=30))
    engine.confirm(hold.id, key="chat-8812/paid")
    ready = engine.mark_ready(hold.id, key="camden/picked/8812")
    assert ready.expires_at is not None
    yield step(
        "Maya pays by link; the store picks the sofa and puts it at the pickup counter",
        f"reservation {ready.id} is {ready.state}; ReservationReady tells Maya to collect by "
        f"{ready.expires_at:%a %d %b %H:%M} UTC",
    )

    clock.advance(timedelta(minutes=10))
    armchair = engine.reserve(CAMDEN, {ARMCHAIR: 1}, channel=Channel.CALL_CENTER, key="call-77")
    yield step(
        "Another customer phones the call centre and has the armchair held for her",
        f"reservation {armchair.id} is {armchair.state} for 48 hours",
    )

    clock.advance(timedelta(days=1))
    collected = engine.collect(hold.id, key="camden/counter/8812")
    yield step(
        "Maya arrives at Camden and collects her sofa",
        f"reservation {collected.id} is {collected.state}; on hand at Camden: "
        f"{engine.position(CAMDEN, SOFA).on_hand}",
    )

    clock.advance(timedelta(days=1))
    yield step(
        "Nobody confirms the armchair; its 48-hour hold runs out",
        f"the hold is {engine.reservation(armchair.id).state} the moment it expires, "
        "before any sweep runs: it is back on sale in every channel by itself",
    )

    expired = engine.expire_due(key="sweep-1")
    problems = engine.verify()
    yield step(
        "The expiry sweep records it, and the ledger is audited",
        f"expired: {', '.join(r.id for r in expired) or 'none'}; "
        f"events written: {len(engine.events())}; "
        f"ledger check: {problems if problems else 'clean'}",
    )
