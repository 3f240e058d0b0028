"""A call-centre hold that nobody takes up goes back on sale by itself, to the minute.

Priya phones the call centre about an oak writing desk; the agent finds the last one at the Leeds
store and holds it for her while she thinks it over. She never calls back. In many shops such a
hold is a flag that someone must remember to clear, so the desk stays off sale for days, or a
nightly job frees it, or the hold silently stops counting while the agent still promises it.

Here the hold gets the policy's lifetime for the channel (``Policy.hold_ttl``: 48 hours for
``Channel.CALL_CENTER``), every channel stops offering the desk at once, and at the exact moment
the hold runs out the desk is on sale again in every channel, before any sweep has run. A late
attempt to confirm the hold is refused rather than selling a desk that is no longer held.
``expire_due()`` then records the expiry (``ReservationExpired``) for reports and notifications.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from omniorder import (
    Capability,
    Channel,
    Engine,
    Geo,
    InvalidTransition,
    Location,
    LocationKind,
    ManualClock,
    Network,
)
from omniorder.model.events import ReservationExpired

DESK = "oak-writing-desk"
LEEDS = "leeds"


def build_network() -> Network:
    """A Leeds store with a till and a pickup counter."""
    leeds = Location(
        LEEDS, LocationKind.STORE, Geo(53.800, -1.549), {Capability.SELL, Capability.PICKUP}
    )
    return Network([leeds])


def show(engine: Engine, clock: ManualClock, when: str) -> None:
    """Print the time and what every channel may sell of the desk."""
    seen = ", ".join(f"{c.value} {engine.availability(DESK, channel=c)}" for c in Channel)
    print(f"    [{clock.now():%a %H:%M}] {when}: desk on sale -> {seen}")


def main() -> None:
    clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    numbers = itertools.count(1)
    engine = Engine(build_network(), clock=clock, ids=lambda p: f"{p}-{next(numbers)}")
    engine.receive(LEEDS, DESK, 1)

    print("1. The last oak desk is at Leeds.")
    show(engine, clock, "before the call")

    print("2. Priya phones; the agent holds the desk without choosing a lifetime.")
    ttl = engine.policy.ttl_for(Channel.CALL_CENTER)
    hold = engine.reserve(LEEDS, {DESK: 1}, channel=Channel.CALL_CENTER, key="call-5521")
    print(f"    the policy gives call-centre holds {ttl.total_seconds() / 3600:.0f} hours")
    print(f"    {hold.id} is {hold.state} until {hold.expires_at:%a %H:%M} UTC")
    show(engine, clock, "held")

    print("3. A minute before the end, the desk is still held for Priya.")
    clock.advance(ttl - timedelta(minutes=1))
    print(f"    {hold.id} is {engine.reservation(hold.id).state}")
    show(engine, clock, "still held")

    print("4. At the exact expiry it is back on sale, before any sweep has run.")
    clock.advance(timedelta(minutes=1))
    print(f"    {hold.id} is {engine.reservation(hold.id).state}")
    show(engine, clock, "expired")
    recorded = [e for e in engine.events() if isinstance(e, ReservationExpired)]
    print(f"    (no sweep has run: {len(recorded)} ReservationExpired events so far)")

    print("5. Priya calls back an hour later and the agent tries to confirm the old hold.")
    clock.advance(timedelta(hours=1))
    try:
        engine.confirm(hold.id)
    except InvalidTransition as refused:
        print(f"    refused: {refused}")

    print("6. The sweep records the expiry; every channel agrees, and the ledger checks.")
    swept = engine.expire_due(key="sweep-1")
    expired = [e for e in engine.events() if isinstance(e, ReservationExpired)]
    print(f"    swept {[r.id for r in swept]}; ReservationExpired for {expired[0].reservation_id}")
    show(engine, clock, "after the sweep")
    print(f"    ledger check: {engine.verify() or 'clean'}")


if __name__ == "__main__":
    main()
