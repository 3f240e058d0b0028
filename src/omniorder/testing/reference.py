"""A small reference model of positions and reservations, written independently of the engine.

The stateful machine drives the engine and this model side by side and compares them after every
step. The model only uses the reservation *table* (the specification itself); quantities, expiry
and availability are computed here from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omniorder import Channel, Mode, ReservationState
from omniorder.model import REMOTE_CHANNELS, RESERVATION_TABLE, ReservationCommand

S = ReservationState
C = ReservationCommand

Key = tuple[str, str]


@dataclass
class ModelReservation:
    """What the model knows of one reservation."""

    id: str
    location: str
    channel: Channel
    mode: Mode
    state: ReservationState
    expires_at: datetime | None
    lines: dict[str, int]
    open: dict[str, int]
    destination: str | None = None


@dataclass
class Model:
    """Expected stock and reservations."""

    now: datetime
    on_hand: dict[Key, int] = field(default_factory=dict)
    safety: dict[Key, int] = field(default_factory=dict)
    inbound: dict[Key, int] = field(default_factory=dict)
    quarantine: dict[Key, int] = field(default_factory=dict)
    reservations: dict[str, ModelReservation] = field(default_factory=dict)

    # -- views ---------------------------------------------------------------------------------

    def state(self, r: ModelReservation) -> ReservationState:
        """The state every reader must see now (a hold past its expiry is EXPIRED)."""
        if r.state is S.HELD and r.expires_at is not None and self.now >= r.expires_at:
            return S.EXPIRED
        return r.state

    def open_units(self, r: ModelReservation) -> dict[str, int]:
        """Units still held or committed, as readers see them now."""
        if self.state(r) is not r.state:
            return dict.fromkeys(r.open, 0)
        return dict(r.open)

    def counted(self, key: Key, states: set[ReservationState]) -> int:
        location, sku = key
        return sum(
            r.open.get(sku, 0)
            for r in self.reservations.values()
            if r.location == location and self.state(r) in states
        )

    def reserved(self, key: Key) -> int:
        return self.counted(key, {S.HELD})

    def committed(self, key: Key) -> int:
        return self.counted(key, {S.CONFIRMED, S.READY})

    def free(self, key: Key) -> int:
        return self.on_hand.get(key, 0) - self.reserved(key) - self.committed(key)

    def available(self, key: Key, channel: Channel) -> int:
        buffer = self.safety.get(key, 0) if channel in REMOTE_CHANNELS else 0
        return max(0, self.free(key) - buffer)

    def shortfalls(
        self, location: str, lines: Mapping[str, int], channel: Channel
    ) -> list[tuple[str, str, int, int]]:
        return [
            (sku, location, units, self.available((location, sku), channel))
            for sku, units in sorted(lines.items())
            if self.available((location, sku), channel) < units
        ]

    # -- predictions for the lifecycle -----------------------------------------------------------

    def allowed(self, r: ModelReservation, command: ReservationCommand) -> bool:
        """Whether the engine must accept ``command`` on ``r`` now."""
        seen = self.state(r)
        if not RESERVATION_TABLE.allows(seen, command):
            return False
        if command in (C.MARK_READY, C.COLLECT) and r.mode is not Mode.PICKUP:
            return False
        if command is C.SHIP and r.mode is not Mode.SHIP:
            return False
        if command in (C.DISPATCH, C.ARRIVE) and r.mode is not Mode.TRANSFER:
            return False
        return not (command is C.COLLECT and r.expires_at is not None and self.now >= r.expires_at)

    # -- effects ---------------------------------------------------------------------------------

    def hold(
        self,
        rid: str,
        location: str,
        lines: Mapping[str, int],
        channel: Channel,
        mode: Mode,
        ttl: timedelta,
        destination: str | None = None,
    ) -> None:
        self.reservations[rid] = ModelReservation(
            rid,
            location,
            channel,
            mode,
            S.HELD,
            self.now + ttl,
            dict(lines),
            dict(lines),
            destination,
        )

    def dispatch(self, r: ModelReservation) -> None:
        """A transfer leaves: off the origin's shelf, into the destination's inbound."""
        assert r.destination is not None
        for sku, units in r.open.items():
            self.on_hand[(r.location, sku)] -= units
            key = (r.destination, sku)
            self.inbound[key] = self.inbound.get(key, 0) + units
        r.state = S.IN_TRANSIT

    def arrive(self, r: ModelReservation, ready_id: str, deadline: datetime) -> None:
        """A transfer arrives: on hand at the store, waiting under a new READY reservation."""
        assert r.destination is not None
        waiting = {sku: units for sku, units in r.open.items() if units}
        for sku, units in waiting.items():
            key = (r.destination, sku)
            self.inbound[key] -= units
            self.on_hand[key] = self.on_hand.get(key, 0) + units
        r.open = dict.fromkeys(r.open, 0)
        r.state = S.FULFILLED
        self.reservations[ready_id] = ModelReservation(
            ready_id,
            r.destination,
            r.channel,
            Mode.PICKUP,
            S.READY,
            deadline,
            dict(waiting),
            dict(waiting),
        )

    def finish(
        self, r: ModelReservation, state: ReservationState, taken: Mapping[str, int]
    ) -> None:
        """End ``r`` in ``state``; ``taken`` units leave on-hand, the rest go back on sale."""
        for sku, units in taken.items():
            self.on_hand[(r.location, sku)] -= units
        r.open = dict.fromkeys(r.open, 0)
        r.state = state

    def expire_due(self) -> list[str]:
        due = [
            r
            for r in self.reservations.values()
            if r.state in (S.HELD, S.READY)
            and r.expires_at is not None
            and self.now >= r.expires_at
        ]
        for r in due:
            self.finish(r, S.EXPIRED, {})
        return sorted(r.id for r in due)
