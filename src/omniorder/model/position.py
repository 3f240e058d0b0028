"""Inventory positions, the movements that change them, and the channel availability rule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Final

import attrs

from omniorder.model.checks import MAX_QUANTITY
from omniorder.model.errors import (
    ConcurrencyConflict,
    InsufficientStock,
    InvalidInput,
    OmniOrderError,
    Shortfall,
    StoreError,
)
from omniorder.model.values import REMOTE_CHANNELS, Channel

__all__ = [
    "COUNTERS",
    "EFFECTS",
    "Movement",
    "MovementKind",
    "Position",
    "check_available",
    "refusal",
]

COUNTERS: Final = ("on_hand", "reserved", "committed", "safety_stock", "inbound", "quarantine")
"""The counters of a :class:`Position`, in the order of every :data:`EFFECTS` vector."""


@attrs.frozen
class Position:
    """The stock of one sku at one location.

    Attributes:
        location: the location id.
        sku: the stock keeping unit.
        on_hand: sellable units physically there.
        reserved: units under HELD reservations (soft holds).
        committed: units under CONFIRMED or READY reservations (sold, not yet gone).
        safety_stock: buffer withheld from remote channels (web, app, call centre, marketplace).
        inbound: units in transit to it (ship-to-store transfers).
        quarantine: returned units awaiting inspection; never sellable.
    """

    location: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    committed: int = 0
    safety_stock: int = 0
    inbound: int = 0
    quarantine: int = 0

    @property
    def free(self) -> int:
        """Units neither held nor committed: ``on_hand - reserved - committed``."""
        return self.on_hand - self.reserved - self.committed

    def buffer(self, channel: Channel) -> int:
        """The units withheld from ``channel``: the safety stock for remote channels, else 0."""
        return self.safety_stock if channel in REMOTE_CHANNELS else 0

    def available(self, channel: Channel) -> int:
        """Units ``channel`` may sell now: ``max(0, on_hand - reserved - committed - buffer)``.

        >>> p = Position("store-1", "sofa", on_hand=3, reserved=1, safety_stock=1)
        >>> p.available(Channel.WEB), p.available(Channel.STORE)
        (1, 2)
        """
        return max(0, self.free - self.buffer(channel))

    def counters(self) -> tuple[int, ...]:
        """The counters in :data:`COUNTERS` order."""
        return tuple(getattr(self, name) for name in COUNTERS)

    def apply(self, kind: MovementKind, quantity: int) -> Position:
        """This position after a movement of ``kind`` and ``quantity`` (pure; no checks)."""
        on_hand, reserved, committed, safety_stock, inbound, quarantine = EFFECTS[kind]
        return Position(
            self.location,
            self.sku,
            self.on_hand + on_hand * quantity,
            self.reserved + reserved * quantity,
            self.committed + committed * quantity,
            self.safety_stock + safety_stock * quantity,
            self.inbound + inbound * quantity,
            self.quarantine + quarantine * quantity,
        )

    def above_limit(self) -> list[str]:
        """Every counter above :data:`~omniorder.model.checks.MAX_QUANTITY`, the most a signed
        64-bit database integer holds; empty when every counter fits."""
        return [
            f"{name} would be {value}"
            for name, value in zip(COUNTERS, self.counters(), strict=True)
            if value > MAX_QUANTITY
        ]

    def violations(self) -> list[str]:
        """Every broken stock invariant (promise 1), empty when the position is legal."""
        problems = [
            f"{name} is negative ({value})"
            for name, value in zip(COUNTERS, self.counters(), strict=True)
            if value < 0
        ]
        if self.reserved + self.committed > self.on_hand:
            problems.append(
                f"reserved {self.reserved} + committed {self.committed} exceed on_hand "
                f"{self.on_hand}"
            )
        return problems


class MovementKind(StrEnum):
    """What a ledger movement does; its effect on the counters is in :data:`EFFECTS`."""

    RECEIVED = "received"
    """Goods received: on_hand rises."""
    ADJUSTED = "adjusted"
    """A stock count or correction: on_hand changes by a signed quantity."""
    SOLD = "sold"
    """A walk-in sale at the till: on_hand falls."""
    HELD = "held"
    """A soft hold: reserved rises."""
    HOLD_RELEASED = "hold_released"
    """A hold released or expired: reserved falls."""
    CONFIRMED = "confirmed"
    """A hold confirmed: reserved falls, committed rises."""
    COMMITTED = "committed"
    """An order placed without a hold: committed rises."""
    COMMIT_RELEASED = "commit_released"
    """A commitment released, expired (no-show) or not collected: committed falls."""
    FULFILLED = "fulfilled"
    """Shipped or collected: committed and on_hand fall."""
    SAFETY_STOCK_SET = "safety_stock_set"
    """The safety stock changed by a signed quantity."""
    DISPATCHED = "dispatched"
    """A transfer left the origin: committed and on_hand fall."""
    INBOUND = "inbound"
    """A transfer is on its way to this location: inbound rises."""
    ARRIVED = "arrived"
    """A transfer reached this location: inbound falls, on_hand rises."""
    RETURNED = "returned"
    """A returned unit put back on the shelf: on_hand rises."""
    QUARANTINED = "quarantined"
    """A returned unit set aside for inspection: quarantine rises."""
    UNQUARANTINED = "unquarantined"
    """A quarantined unit found sellable: quarantine falls, on_hand rises."""
    QUARANTINE_WRITTEN_OFF = "quarantine_written_off"
    """A quarantined unit thrown away: quarantine falls."""
    WRITTEN_OFF = "written_off"
    """A returned unit written off on receipt: no counter changes; the ledger records it."""


# Coefficients per counter, in COUNTERS order: the single source of every stock effect.
EFFECTS: Final[dict[MovementKind, tuple[int, int, int, int, int, int]]] = {
    MovementKind.RECEIVED: (1, 0, 0, 0, 0, 0),
    MovementKind.ADJUSTED: (1, 0, 0, 0, 0, 0),
    MovementKind.SOLD: (-1, 0, 0, 0, 0, 0),
    MovementKind.HELD: (0, 1, 0, 0, 0, 0),
    MovementKind.HOLD_RELEASED: (0, -1, 0, 0, 0, 0),
    MovementKind.CONFIRMED: (0, -1, 1, 0, 0, 0),
    MovementKind.COMMITTED: (0, 0, 1, 0, 0, 0),
    MovementKind.COMMIT_RELEASED: (0, 0, -1, 0, 0, 0),
    MovementKind.FULFILLED: (-1, 0, -1, 0, 0, 0),
    MovementKind.SAFETY_STOCK_SET: (0, 0, 0, 1, 0, 0),
    MovementKind.DISPATCHED: (-1, 0, -1, 0, 0, 0),
    MovementKind.INBOUND: (0, 0, 0, 0, 1, 0),
    MovementKind.ARRIVED: (1, 0, 0, 0, -1, 0),
    MovementKind.RETURNED: (1, 0, 0, 0, 0, 0),
    MovementKind.QUARANTINED: (0, 0, 0, 0, 0, 1),
    MovementKind.UNQUARANTINED: (1, 0, 0, 0, 0, -1),
    MovementKind.QUARANTINE_WRITTEN_OFF: (0, 0, 0, 0, 0, -1),
    MovementKind.WRITTEN_OFF: (0, 0, 0, 0, 0, 0),
}


@attrs.frozen
class Movement:
    """One ledger entry: a change to one position.

    Replaying every movement in ``seq`` order from zero gives every position exactly.

    Attributes:
        seq: position in the ledger: growing from 1, with gaps allowed (0 until the store
            appends it).
        at: when it happened.
        location: the location id.
        sku: the stock keeping unit.
        kind: what it does (:class:`MovementKind`).
        quantity: units; signed only for ADJUSTED and SAFETY_STOCK_SET, else positive.
        reference: what caused it (a reservation id, a sale id, an adjustment reason).
        key: the idempotency key of the command that wrote it, if any.
    """

    seq: int
    at: datetime
    location: str
    sku: str
    kind: MovementKind
    quantity: int
    reference: str = ""
    key: str | None = None


def refusal(movement: Movement, after: Position, keep: int = 0) -> OmniOrderError | None:
    """Why a store must refuse ``movement``, which would leave its position ``after``, or None
    when it may apply it.

    The one rule every store applies in :meth:`~omniorder.stores.base.UnitOfWork.move`, whatever
    its means (a check in Python, a conditional UPDATE): a counter above the column limit is bad
    input (:class:`~omniorder.InvalidInput`: no command may take stock there); a negative
    counter or ``reserved + committed`` above ``on_hand`` is a broken invariant
    (:class:`~omniorder.StoreError`); fewer than ``keep`` units left free means another writer
    took them first (:class:`~omniorder.ConcurrencyConflict`).
    """
    if (
        after.reserved >= 0
        and after.committed >= 0
        and after.reserved + after.committed <= after.on_hand <= MAX_QUANTITY
        and 0 <= after.safety_stock <= MAX_QUANTITY
        and 0 <= after.inbound <= MAX_QUANTITY
        and 0 <= after.quarantine <= MAX_QUANTITY
        and after.on_hand - after.reserved - after.committed >= keep
    ):
        return None  # the common case, decided without building any message
    what = f"{movement.kind} of {movement.quantity} {movement.sku} at {movement.location}"
    if above := after.above_limit():
        return InvalidInput(
            f"{what} refused: {'; '.join(above)}, above the largest quantity {MAX_QUANTITY}",
            field="quantity",
            value=movement.quantity,
        )
    if problems := after.violations():
        return StoreError(f"{what} refused: " + "; ".join(problems))
    if after.free < keep:
        return ConcurrencyConflict(
            f"{movement.sku} at {movement.location} no longer has {keep} units free"
        )
    return None


def check_available(
    positions: Mapping[tuple[str, str], Position],
    wanted: Mapping[tuple[str, str], int],
    channel: Channel,
) -> None:
    """Every ``(location, sku)`` of ``wanted`` has that many units ``channel`` may take.

    Raises:
        InsufficientStock: every short line (by sku, then location), with what is available.
    """
    for key, units in wanted.items():
        if positions[key].available(channel) < units:
            break
    else:
        return  # every line is there: the common case, decided in one pass
    short = [
        Shortfall(sku, location, units, positions[(location, sku)].available(channel))
        for (location, sku), units in sorted(wanted.items(), key=lambda kv: kv[0][::-1])
        if positions[(location, sku)].available(channel) < units
    ]
    raise InsufficientStock(short)
