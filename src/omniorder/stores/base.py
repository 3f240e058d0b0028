"""The persistence port: what the engine needs from a store, and nothing more.

A :class:`Store` hands out units of work. ``with store.unit_of_work() as uow:`` opens one
transaction; leaving the block normally commits it, an exception rolls it back so that nothing
of it is visible, ever (promise 4). Every command of the engine is exactly one unit of work.

Adapters keep the promises with the means their back end has (a lock, ``BEGIN IMMEDIATE``, row
locks and conditional updates); the contract suite in :mod:`omniorder.testing` checks them all
the same way. To write your own store, implement these two protocols and run that suite.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Protocol, runtime_checkable

import attrs

from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import ReturnAuthorization

__all__ = ["IdempotencyRecord", "PositionKey", "Store", "UnitOfWork"]

PositionKey = tuple[str, str]
"""``(location, sku)``: the key of a position."""


@attrs.frozen
class IdempotencyRecord:
    """What a store remembers about a command run with an idempotency key.

    Attributes:
        key: the caller's idempotency key (unique in the store).
        command: the engine command (``"reserve"``, ...).
        fingerprint: a hash of the command and its canonical request.
        request: the canonical request as JSON (to name what differs on a conflict).
        result: the first result as JSON; ``None`` only inside the claiming transaction.
        at: when the command ran.
    """

    key: str
    command: str
    fingerprint: str
    request: str
    result: str | None
    at: datetime


class UnitOfWork(Protocol):
    """Transactional access to positions, ledger, reservations, events and idempotency records.

    Reads see the transaction's own writes. Writes raise :class:`~omniorder.StoreError` (never a
    driver exception) when the back end refuses them; the engine then rolls back.

    The clock guard needs no store-wide row: every write that changes a stored position,
    reservation, order or return refuses, with :class:`~omniorder.ClockWentBackwards`, a change
    made more than the store's ``clock_tolerance`` earlier than that row's last change (so holds
    expire in order however many writers there are). A write names the time it is made at: a
    movement's ``at``, a record's ``updated_at``.
    """

    # -- idempotency -------------------------------------------------------------------------
    def claim_key(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert ``record`` (result None) unless its key exists; then return the existing one.

        It is the first write of a keyed command, so that a concurrent command with the same key
        waits for this transaction and then finds the finished record.
        """
        ...

    def complete_key(self, key: str, result: str) -> None:
        """Store the result of the command that claimed ``key`` in this transaction."""
        ...

    def idempotency_records(self) -> list[IdempotencyRecord]:
        """Every record, by key."""
        ...

    # -- positions and ledger ----------------------------------------------------------------
    def positions(
        self,
        keys: Collection[PositionKey] | None = None,
        *,
        sku: str | None = None,
        location: str | None = None,
        for_update: bool = False,
    ) -> list[Position]:
        """Stored positions, sorted by (sku, location), filtered by the arguments given.

        Args:
            keys: only these (location, sku) positions; absent ones are simply not returned.
            sku: only this sku.
            location: only this location.
            for_update: lock the rows (in sorted order) until the end of the unit of work.
        """
        ...

    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        """Apply ``movement`` to its position (made at zero if new) and append it to the ledger.

        The store gives the movement its ledger ``seq`` (increasing; gaps allowed). It refuses,
        with :class:`~omniorder.ClockWentBackwards`, a movement whose ``at`` is more than
        ``clock_tolerance`` earlier than the position's last change; with
        :class:`~omniorder.StoreError`, a change that would make a counter negative or
        ``reserved + committed`` exceed ``on_hand``; and, with
        :class:`~omniorder.ConcurrencyConflict`, one that would leave fewer than ``keep`` units
        free (``on_hand - reserved - committed``).

        Returns:
            The position after the movement.
        """
        ...

    def movements(self, after: int = 0) -> list[Movement]:
        """Ledger entries with ``seq > after``, in order."""
        ...

    # -- reservations ------------------------------------------------------------------------
    def add_reservation(self, reservation: Reservation) -> None:
        """Store a new reservation (its id must be new)."""
        ...

    def reservation(self, reservation_id: str, *, for_update: bool = False) -> Reservation | None:
        """The stored reservation (no expiry view applied), or None."""
        ...

    def update_reservation(self, reservation: Reservation) -> None:
        """Replace the stored reservation whose version is ``reservation.version - 1``.

        Raises:
            ConcurrencyConflict: the stored version is not the one this change was made from.
            ClockWentBackwards: the change's ``updated_at`` is more than ``clock_tolerance``
                earlier than the stored one.
        """
        ...

    def reservations(
        self, *, states: Collection[ReservationState] | None = None
    ) -> list[Reservation]:
        """Stored reservations in the given states (all when None), by id."""
        ...

    def due_reservations(
        self,
        now: datetime,
        *,
        states: Collection[ReservationState],
        keys: Collection[PositionKey] | None = None,
        for_update: bool = False,
        skip_locked: bool = False,
    ) -> list[Reservation]:
        """Reservations in ``states`` whose ``expires_at <= now``, by (expires_at, id).

        Args:
            now: the time to judge by.
            states: which states (HELD for holds, READY for no-shows).
            keys: only those holding one of these (location, sku) positions.
            for_update: lock them until the end of the unit of work.
            skip_locked: with ``for_update``, skip rows another transaction holds instead of
                waiting (two sweepers then share the work and never release twice).
        """
        ...

    # -- orders ------------------------------------------------------------------------------
    def add_order(self, record: OrderRecord) -> None:
        """Store a new order record (its id must be new)."""
        ...

    def order(self, order_id: str, *, for_update: bool = False) -> OrderRecord | None:
        """The stored order record, or None."""
        ...

    def update_order(self, record: OrderRecord) -> None:
        """Replace the stored record whose version is ``record.version - 1``.

        Raises:
            ConcurrencyConflict: the stored version is not the one this change was made from.
            ClockWentBackwards: the change's ``updated_at`` is more than ``clock_tolerance``
                earlier than the stored one.
        """
        ...

    def orders(self) -> list[OrderRecord]:
        """Every order record, by id."""
        ...

    # -- returns -----------------------------------------------------------------------------
    def add_return(self, rma: ReturnAuthorization) -> None:
        """Store a new return authorisation (its id must be new)."""
        ...

    def return_authorization(
        self, rma_id: str, *, for_update: bool = False
    ) -> ReturnAuthorization | None:
        """The stored return authorisation, or None."""
        ...

    def update_return(self, rma: ReturnAuthorization) -> None:
        """Replace the stored RMA whose version is ``rma.version - 1``.

        Raises:
            ConcurrencyConflict: the stored version is not the one this change was made from.
            ClockWentBackwards: the change's ``updated_at`` is more than ``clock_tolerance``
                earlier than the stored one.
        """
        ...

    def returns(self, *, order_id: str | None = None) -> list[ReturnAuthorization]:
        """Every return authorisation (of ``order_id`` when given), by id."""
        ...

    # -- events ------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        """Append ``event`` to the outbox; the store gives it its ``seq``.

        Numbers grow in the order readers see events, with gaps allowed; no counter row is
        shared by every writer (promise 11). A store may number and write events (and ledger
        rows) when the unit of work commits, so reads of the ledger and the outbox inside a
        writing unit of work need not see them.
        """
        ...

    def events(self, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events with ``seq > after``, in order, at most ``limit`` of them.

        Only events no longer open to change are returned: a reader that pages with
        ``after=<the last seq it read>`` never misses an event committed later with a smaller
        number, and never reads one twice (promise 11).
        """
        ...


@runtime_checkable
class Store(Protocol):
    """A place that keeps everything the engine knows, transactionally.

    Attributes:
        clock_tolerance: how far behind a row's last change a command's clock may read
            before it is refused as going backwards. Zero where writers are serialised (memory,
            SQLite); a few seconds where independent writers commit in parallel (PostgreSQL),
            whose clocks and commit order can differ slightly.
    """

    clock_tolerance: timedelta

    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        """Open a transaction: commit on normal exit, roll back on an exception.

        A store may send writes whose result nothing reads later, at the latest with the commit:
        then a refusal of such a write (:class:`~omniorder.ConcurrencyConflict`, a constraint)
        is raised when the block ends rather than by the call that asked for it, and nothing of
        the unit of work is written either way.

        Args:
            read_only: the caller will only read (a store may then take a lighter lock).
        """
        ...

    def close(self) -> None:
        """Release connections and files. The store is unusable afterwards."""
        ...


def sorted_keys(keys: Iterable[PositionKey]) -> list[PositionKey]:
    """Position keys in the canonical lock order: by sku, then location."""
    return sorted(set(keys), key=_BY_SKU_THEN_LOCATION)


_BY_SKU_THEN_LOCATION = itemgetter(1, 0)
"""A position key's ``(sku, location)``: the canonical lock order."""
