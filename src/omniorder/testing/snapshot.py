"""A complete, comparable picture of a store: to assert that a failed command changed nothing."""

from __future__ import annotations

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
    """

    positions: tuple[Position, ...]
    ledger: tuple[Movement, ...]
    reservations: tuple[Reservation, ...]
    events: tuple[Event, ...]
    keys: tuple[IdempotencyRecord, ...]
    orders: tuple[OrderRecord, ...] = ()
    returns: tuple[ReturnAuthorization, ...] = ()

    def renumbered(self) -> Snapshot:
        """This snapshot with ledger and event numbers replaced by their ranks (1, 2, ...).

        Stores number rows their own way (PostgreSQL from transaction ids and sequences), so
        two stores that hold the same history compare equal only once renumbered.
        """
        return attrs.evolve(
            self,
            ledger=tuple(attrs.evolve(m, seq=i) for i, m in enumerate(self.ledger, 1)),
            events=tuple(attrs.evolve(e, seq=i) for i, e in enumerate(self.events, 1)),
        )

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
        )
