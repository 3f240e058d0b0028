"""InMemoryStore: the store for tests, simulations and single-process use.

One lock serialises units of work (safe under many threads). Values are immutable, so a unit of
work keeps an undo log of what it replaced and, on an exception, puts it all back: a failed
command leaves no trace.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import attrs

from omniorder.model.errors import ConcurrencyConflict, StoreError
from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position, refusal
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import ReturnAuthorization
from omniorder.stores.base import IdempotencyRecord, PositionKey

__all__ = ["InMemoryStore"]


class _State:
    """Everything the store keeps, plus indexes of the live reservations."""

    def __init__(self) -> None:
        self.positions: dict[PositionKey, Position] = {}
        self.ledger: list[Movement] = []
        self.reservations: dict[str, Reservation] = {}
        self.events: list[Event] = []
        self.keys: dict[str, IdempotencyRecord] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.returns: dict[str, ReturnAuthorization] = {}
        self.last_time: datetime | None = None
        # ids of reservations that may expire (HELD or READY), per position they touch
        self.expiring: defaultdict[PositionKey, set[str]] = defaultdict(set)

    def put_reservation(self, reservation: Reservation | None, reservation_id: str) -> None:
        old = self.reservations.get(reservation_id)
        if old is not None and old.expires_at is not None:
            for line in old.lines:
                self.expiring[(old.location, line.sku)].discard(reservation_id)
        if reservation is None:
            self.reservations.pop(reservation_id, None)
            return
        self.reservations[reservation_id] = reservation
        if reservation.state in _EXPIRING and reservation.expires_at is not None:
            for line in reservation.lines:
                self.expiring[(reservation.location, line.sku)].add(reservation_id)


_EXPIRING = frozenset({ReservationState.HELD, ReservationState.READY})


class _MemoryUnitOfWork:
    """A transaction over :class:`_State` with an undo log."""

    def __init__(self, state: _State, *, read_only: bool) -> None:
        self._s = state
        self._read_only = read_only
        self._undo: list[Callable[[], object]] = []

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _writable(self) -> None:
        if self._read_only:
            raise StoreError("write in a read-only unit of work")

    # -- time --------------------------------------------------------------------------------
    def last_time(self) -> datetime | None:
        return self._s.last_time

    def record_time(self, now: datetime) -> None:
        self._writable()
        previous = self._s.last_time
        if previous is None or now > previous:
            self._s.last_time = now
            self._undo.append(lambda: setattr(self._s, "last_time", previous))

    # -- idempotency -------------------------------------------------------------------------
    def claim_key(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        self._writable()
        existing = self._s.keys.get(record.key)
        if existing is not None:
            return existing
        self._s.keys[record.key] = record
        self._undo.append(lambda: self._s.keys.pop(record.key, None))
        return None

    def complete_key(self, key: str, result: str) -> None:
        self._writable()
        record = self._s.keys[key]
        self._s.keys[key] = IdempotencyRecord(
            record.key, record.command, record.fingerprint, record.request, result, record.at
        )
        self._undo.append(lambda: self._s.keys.__setitem__(key, record))

    def idempotency_records(self) -> list[IdempotencyRecord]:
        return [self._s.keys[k] for k in sorted(self._s.keys)]

    # -- positions and ledger ----------------------------------------------------------------
    def positions(
        self,
        keys: Collection[PositionKey] | None = None,
        *,
        sku: str | None = None,
        location: str | None = None,
        for_update: bool = False,
    ) -> list[Position]:
        if keys is not None:
            found = [self._s.positions[k] for k in keys if k in self._s.positions]
        else:
            found = list(self._s.positions.values())
        found = [
            p
            for p in found
            if (sku is None or p.sku == sku) and (location is None or p.location == location)
        ]
        return sorted(found, key=lambda p: (p.sku, p.location))

    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        self._writable()
        key = (movement.location, movement.sku)
        before = self._s.positions.get(key)
        after = (before or Position(*key)).apply(movement.kind, movement.quantity)
        if refused := refusal(movement, after, keep):
            raise refused
        seq = len(self._s.ledger) + 1
        self._s.ledger.append(
            Movement(
                seq,
                movement.at,
                movement.location,
                movement.sku,
                movement.kind,
                movement.quantity,
                movement.reference,
                movement.key,
            )
        )
        self._s.positions[key] = after
        self._undo.append(lambda: self._restore_position(key, before))
        self._undo.append(self._s.ledger.pop)
        return after

    def _restore_position(self, key: PositionKey, before: Position | None) -> None:
        if before is None:
            self._s.positions.pop(key, None)
        else:
            self._s.positions[key] = before

    def movements(self, after: int = 0) -> list[Movement]:
        return self._s.ledger[max(0, after) :]

    # -- reservations ------------------------------------------------------------------------
    def add_reservation(self, reservation: Reservation) -> None:
        self._writable()
        if reservation.id in self._s.reservations:
            raise StoreError(f"reservation {reservation.id!r} already exists")
        self._s.put_reservation(reservation, reservation.id)
        self._undo.append(lambda: self._s.put_reservation(None, reservation.id))

    def reservation(self, reservation_id: str, *, for_update: bool = False) -> Reservation | None:
        return self._s.reservations.get(reservation_id)

    def update_reservation(self, reservation: Reservation) -> None:
        self._writable()
        before = self._s.reservations.get(reservation.id)
        if before is None or before.version != reservation.version - 1:
            raise ConcurrencyConflict(f"reservation {reservation.id!r} changed meanwhile")
        self._s.put_reservation(reservation, reservation.id)
        self._undo.append(lambda: self._s.put_reservation(before, reservation.id))

    def reservations(
        self, *, states: Collection[ReservationState] | None = None
    ) -> list[Reservation]:
        return [
            r
            for _, r in sorted(self._s.reservations.items())
            if states is None or r.state in states
        ]

    def due_reservations(
        self,
        now: datetime,
        *,
        states: Collection[ReservationState],
        keys: Collection[PositionKey] | None = None,
        for_update: bool = False,
        skip_locked: bool = False,
    ) -> list[Reservation]:
        if keys is None:
            ids: set[str] = set().union(*self._s.expiring.values())
        else:
            ids = set().union(*(self._s.expiring.get(k, ()) for k in keys))
        found = []
        for reservation_id in ids:
            r = self._s.reservations[reservation_id]
            if r.state in states and r.expires_at is not None and r.expires_at <= now:
                found.append(r)
        found.sort(key=lambda r: (r.expires_at, r.id))
        return found

    # -- orders ------------------------------------------------------------------------------
    def add_order(self, record: OrderRecord) -> None:
        self._writable()
        if record.id in self._s.orders:
            raise StoreError(f"order {record.id!r} already exists")
        self._s.orders[record.id] = record
        self._undo.append(lambda: self._s.orders.pop(record.id, None))

    def order(self, order_id: str, *, for_update: bool = False) -> OrderRecord | None:
        return self._s.orders.get(order_id)

    def update_order(self, record: OrderRecord) -> None:
        self._writable()
        before = self._s.orders.get(record.id)
        if before is None or before.version != record.version - 1:
            raise ConcurrencyConflict(f"order {record.id!r} changed meanwhile")
        self._s.orders[record.id] = record
        self._undo.append(lambda: self._s.orders.__setitem__(record.id, before))

    def orders(self) -> list[OrderRecord]:
        return [self._s.orders[k] for k in sorted(self._s.orders)]

    # -- returns -----------------------------------------------------------------------------
    def add_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        if rma.id in self._s.returns:
            raise StoreError(f"return {rma.id!r} already exists")
        self._s.returns[rma.id] = rma
        self._undo.append(lambda: self._s.returns.pop(rma.id, None))

    def return_authorization(
        self, rma_id: str, *, for_update: bool = False
    ) -> ReturnAuthorization | None:
        return self._s.returns.get(rma_id)

    def update_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        before = self._s.returns.get(rma.id)
        if before is None or before.version != rma.version - 1:
            raise ConcurrencyConflict(f"return {rma.id!r} changed meanwhile")
        self._s.returns[rma.id] = rma
        self._undo.append(lambda: self._s.returns.__setitem__(rma.id, before))

    def returns(self, *, order_id: str | None = None) -> list[ReturnAuthorization]:
        return [
            self._s.returns[k]
            for k in sorted(self._s.returns)
            if order_id is None or self._s.returns[k].order_id == order_id
        ]

    # -- events ------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        self._writable()
        self._s.events.append(attrs.evolve(event, seq=len(self._s.events) + 1))
        self._undo.append(self._s.events.pop)

    def events(self, after: int = 0, limit: int | None = None) -> list[Event]:
        start = max(0, after)
        return self._s.events[start:] if limit is None else self._s.events[start : start + limit]


class InMemoryStore:
    """Keeps everything in this process's memory; a unit of work holds one lock.

    Safe under many threads; gone when the process ends. A unit of work that raises is undone
    completely: positions, ledger, reservations, events, idempotency records.

    >>> store = InMemoryStore()
    >>> with store.unit_of_work(read_only=True) as uow:
    ...     uow.events()
    []
    """

    clock_tolerance = timedelta(0)

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()
        self._owner: int | None = None
        self._closed = False

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_MemoryUnitOfWork]:
        """Open a transaction; see :class:`~omniorder.stores.base.Store`."""
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._owner is not None:
                raise StoreError("a unit of work is already open in this thread")
            self._owner = threading.get_ident()
            uow = _MemoryUnitOfWork(self._state, read_only=read_only)
            try:
                yield uow
            except BaseException:
                uow.rollback()
                raise
            finally:
                self._owner = None

    def close(self) -> None:
        """Forget everything; later units of work raise StoreError."""
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return "InMemoryStore()"
