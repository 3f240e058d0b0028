"""A complete, comparable picture of a store: to assert that a failed command changed nothing."""

from __future__ import annotations

from datetime import datetime

import attrs

from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position
from omniorder.model.reservation import Reservation
from omniorder.model.returns import ReturnAuthorization
from omniorder.stores.base import IdempotencyRecord, Store

__all__ = ["Snapshot", "take_snapshot"]


@attrs.frozen
class Snapshot:
    """Everything a store holds, as values (two snapshots compare with ``==``).

    Attributes:
        positions: every position, by (sku, location).
        ledger: every movement, in order.
        reservations: every reservation as stored, by id.
        events: every event, in order.
        keys: every idempotency record, by key.
        orders: every order record, by id.
        returns: every return authorisation, by id.
        last_time: the store's clock watermark, the latest command time it recorded (None in
            a new store): a command that changes nothing must not move it either, or a later
            command with an earlier clock would be refused as going backwards.
    """

    positions: tuple[Position, ...]
    ledger: tuple[Movement, ...]
    reservations: tuple[Reservation, ...]
    events: tuple[Event, ...]
    keys: tuple[IdempotencyRecord, ...]
    orders: tuple[OrderRecord, ...] = ()
    returns: tuple[ReturnAuthorization, ...] = ()
    last_time: datetime | None = None

    def differences(self, other: Snapshot) -> list[str]:
        """The parts that differ from ``other`` (empty when equal), for readable failures."""
        return [
            name
            for name in (
                "positions",
                "ledger",
                "reservations",
                "events",
                "keys",
                "orders",
                "returns",
                "last_time",
            )
            if getattr(self, name) != getattr(other, name)
        ]


def take_snapshot(store: Store) -> Snapshot:
    """Read everything ``store`` holds in one read-only unit of work."""
    with store.unit_of_work(read_only=True) as uow:
        return Snapshot(
            positions=tuple(uow.positions()),
            ledger=tuple(uow.movements()),
            reservations=tuple(uow.reservations()),
            events=tuple(uow.events()),
            keys=tuple(uow.idempotency_records()),
            orders=tuple(uow.orders()),
            returns=tuple(uow.returns()),
            last_time=uow.last_time(),
        )
