"""InMemoryStore: the store for tests, simulations and single-process use.

One lock serialises units of work (safe under many threads). Values are immutable, so a unit of
work keeps an undo log of what it replaced and, on an exception, puts it all back: a failed
command leaves no trace. The undo log is plain data (``(where, key, old value)`` tuples), never
closures over the unit of work, so a unit of work is not a reference cycle and leaves nothing for
the cyclic garbage collector. Reservations that may expire are indexed by a heap on expiry per
position (and one over all of them), so finding what is due never scans the live holds. Events
are numbered when first read: an event's ``seq`` is its place in the outbox.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from operator import attrgetter
from types import TracebackType
from typing import Any, Final, cast

import attrs

from omniorder.model.errors import ClockWentBackwards, ConcurrencyConflict, StoreError
from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position, refusal
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import ReturnAuthorization
from omniorder.stores.base import IdempotencyRecord, PositionKey

__all__ = ["InMemoryStore"]


class _Expiring:
    """The reservations that may expire (HELD or READY) on one position, or anywhere.

    ``ids`` is exact. ``heap`` holds ``(expires_at, id)`` for every id in ``ids`` (at its current
    expiry), so what is due is found from the top without looking at the rest; it may also hold
    stale entries (a reservation since confirmed, released, expired or extended), which are
    dropped when they come to the top or when they outnumber the current ones (so the heap stays
    below ``2 * len(ids) + _SLACK`` entries and each rebuild is paid for by the stale entries).
    """

    __slots__ = ("heap", "ids")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.heap: list[tuple[datetime, str]] = []

    def current(self, entry: tuple[datetime, str], reservations: dict[str, Reservation]) -> bool:
        """Whether a heap entry is still the expiry of a reservation that may expire here."""
        expires_at, reservation_id = entry
        if reservation_id not in self.ids:
            return False
        return reservations[reservation_id].expires_at == expires_at

    def compact(self, reservations: dict[str, Reservation]) -> None:
        """Rebuild the heap from ``ids`` once stale entries outnumber the current ones."""
        if len(self.heap) > 2 * len(self.ids) + _SLACK:
            heap = []
            for reservation_id in self.ids:
                expires_at = reservations[reservation_id].expires_at
                assert expires_at is not None  # only reservations that expire are in ids
                heap.append((expires_at, reservation_id))
            heapq.heapify(heap)
            self.heap = heap


_SLACK = 16
_BY_SKU_LOCATION = attrgetter("sku", "location")
_EXPIRING = frozenset({ReservationState.HELD, ReservationState.READY})


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
        self.changed: dict[PositionKey, datetime] = {}  # each position's last change
        # reservations that may expire (HELD or READY), per position they touch, and under
        # None all of them: each with a heap on (expires_at, id), so finding what is due costs
        # O(log n) per due reservation and O(1) per position when nothing is
        self.expiring: dict[PositionKey | None, _Expiring] = {}

    def put_reservation(self, reservation: Reservation | None, reservation_id: str) -> None:
        """Store (or, with None, forget) a reservation and keep ``expiring`` true to it.

        Every change to ``reservations`` goes through here, the undo log's too, so the indexes
        follow a rolled-back unit of work as well.
        """
        old = self.reservations.get(reservation_id)
        before = _NOWHERE if old is None else _expiry_keys(old)
        if reservation is None:
            self.reservations.pop(reservation_id, None)
        else:
            self.reservations[reservation_id] = reservation
        after = _expiry_keys(reservation)
        for key in before - after if before else ():
            index = self.expiring[key]
            index.ids.discard(reservation_id)
            if not index.ids and key is not None:
                del self.expiring[key]  # an empty index per position is not kept
            elif len(index.heap) > 2 * len(index.ids) + _SLACK:
                index.compact(self.reservations)
        if not after:
            return
        assert reservation is not None
        assert reservation.expires_at is not None  # _expiry_keys is empty otherwise
        moved = old is None or old.expires_at != reservation.expires_at
        for key in after:
            found = self.expiring.get(key)
            if found is None:
                found = self.expiring[key] = _Expiring()
            if moved or key not in before:  # else its current entry is in the heap already
                heapq.heappush(found.heap, (reservation.expires_at, reservation_id))
                found.ids.add(reservation_id)
                if len(found.heap) > 2 * len(found.ids) + _SLACK:
                    found.compact(self.reservations)


_NOWHERE: Final[frozenset[PositionKey | None]] = frozenset()


def _expiry_keys(reservation: Reservation | None) -> AbstractSet[PositionKey | None]:
    """The indexes a reservation belongs in: its positions and None, if it may expire."""
    if (
        reservation is None
        or reservation.state not in _EXPIRING
        or reservation.expires_at is None
        or not reservation.lines
    ):
        return _NOWHERE
    keys: set[PositionKey | None] = {None}
    location = reservation.location
    for line in reservation.lines:
        keys.add((location, line.sku))
    return keys


def _read_only() -> StoreError:
    return StoreError("write in a read-only unit of work")


_ABSENT: Final = object()
"""In the undo log: the key was not there before (undo removes it)."""

_Undo = tuple[object, object, object]
"""One undo entry, ``(where, key, old value)``: ``where`` is a dict of :class:`_State` (put
``old`` back under ``key``, or remove ``key`` when ``old`` is :data:`_ABSENT`), the outbox (drop
the last event; ``key`` is None), the ledger (drop the last movement, and put back its
position's ``(position, last change)`` in ``old``, None where there was none, under the
position ``key``), or the state itself (``key`` names the attribute)."""


def _put_back(where: dict[Any, Any], key: object, old: object) -> None:
    """Undo a change to ``where[key]``: ``old`` again, or no entry when ``old`` is None."""
    if old is None:
        where.pop(key, None)
    else:
        where[key] = old


class _MemoryUnitOfWork:
    """A transaction over :class:`_State` with an undo log; the context manager that holds the
    store's lock for it (entering it opens the transaction, an exception rolls it back)."""

    __slots__ = ("_read_only", "_s", "_store", "_tolerance", "_undo")

    def __init__(self, store: InMemoryStore, *, read_only: bool) -> None:
        self._store = store
        self._s = store._state
        self._read_only = read_only
        self._tolerance = store.clock_tolerance
        self._undo: list[_Undo] = []

    def __enter__(self) -> _MemoryUnitOfWork:
        store = self._store
        store._lock.acquire()
        try:
            if store._closed:
                raise StoreError("the store is closed")
            if store._owner is not None:
                raise StoreError("a unit of work is already open in this thread")
        except BaseException:
            store._lock.release()
            raise
        store._owner = threading.get_ident()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if kind is not None:
                self.rollback()
        finally:
            self._store._owner = None
            self._store._lock.release()

    def rollback(self) -> None:
        state = self._s
        undo = self._undo
        while undo:
            where, key, old = undo.pop()
            if isinstance(where, list):  # the ledger or the outbox
                where.pop()
                if key is not None:  # a movement: its position and its last change as they were
                    before, changed = cast("tuple[Position | None, datetime | None]", old)
                    _put_back(state.positions, key, before)
                    _put_back(state.changed, key, changed)
            elif where is state.reservations:
                assert isinstance(key, str)
                state.put_reservation(None if old is _ABSENT else old, key)  # type: ignore[arg-type]
            elif where is state:
                assert isinstance(key, str)
                setattr(state, key, old)
            else:
                assert isinstance(where, dict)
                if old is _ABSENT:
                    where.pop(key, None)
                else:
                    where[key] = old

    def _writable(self) -> None:
        # the writes every command makes test self._read_only themselves (one call fewer)
        if self._read_only:
            raise _read_only()

    def _check_clock(self, at: datetime, last: datetime | None) -> None:
        """Refuse a change made at ``at`` before the row's last change ``last``."""
        if last is not None and at < last - self._tolerance:
            raise ClockWentBackwards(at, last)

    # -- idempotency -------------------------------------------------------------------------
    def claim_key(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        if self._read_only:  # _writable, inline
            raise _read_only()
        existing = self._s.keys.get(record.key)
        if existing is not None:
            return existing
        self._s.keys[record.key] = record
        self._undo.append((self._s.keys, record.key, _ABSENT))
        return None

    def complete_key(self, key: str, result: str) -> None:
        if self._read_only:  # _writable, inline
            raise _read_only()
        record = self._s.keys[key]
        self._s.keys[key] = IdempotencyRecord(
            record.key, record.command, record.fingerprint, record.request, result, record.at
        )
        self._undo.append((self._s.keys, key, record))

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
        stored = self._s.positions
        if keys is not None:
            found = list(filter(None, map(stored.get, keys)))  # a Position is never false
        else:
            found = list(stored.values())
        if sku is not None or location is not None:
            found = [
                p
                for p in found
                if (sku is None or p.sku == sku) and (location is None or p.location == location)
            ]
        if len(found) > 1:
            found.sort(key=_BY_SKU_LOCATION)
        return found

    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        if self._read_only:
            raise _read_only()
        state = self._s
        key = (movement.location, movement.sku)
        at = movement.at
        changed = state.changed.get(key)
        if changed is not None and at < changed - self._tolerance:  # _check_clock, inline
            raise ClockWentBackwards(at, changed)
        before = state.positions.get(key)
        after = (before or Position(*key)).apply(movement.kind, movement.quantity)
        if refused := refusal(movement, after, keep):
            raise refused
        state.ledger.append(movement)  # numbered when first read (see movements)
        state.positions[key] = after
        if changed is None or at > changed:
            state.changed[key] = at
        # one entry puts back the ledger, the position and its last change (see rollback)
        self._undo.append((state.ledger, key, (before, changed)))
        return after

    def movements(self, after: int = 0) -> list[Movement]:
        # A movement's seq is its place in the ledger, given when it is first read (as events'
        # are: see events), so a command pays for no numbered copy of its movements.
        ledger = self._s.ledger
        for index in range(max(0, after), len(ledger)):
            movement = ledger[index]
            if movement.seq != index + 1:
                ledger[index] = attrs.evolve(movement, seq=index + 1)
        return self._s.ledger[max(0, after) :]

    # -- reservations ------------------------------------------------------------------------
    def add_reservation(self, reservation: Reservation) -> None:
        if self._read_only:
            raise _read_only()
        if reservation.id in self._s.reservations:
            raise StoreError(f"reservation {reservation.id!r} already exists")
        self._s.put_reservation(reservation, reservation.id)
        self._undo.append((self._s.reservations, reservation.id, _ABSENT))

    def reservation(self, reservation_id: str, *, for_update: bool = False) -> Reservation | None:
        return self._s.reservations.get(reservation_id)

    def update_reservation(self, reservation: Reservation) -> None:
        if self._read_only:
            raise _read_only()
        before = self._s.reservations.get(reservation.id)
        if before is None or before.version != reservation.version - 1:
            raise ConcurrencyConflict(f"reservation {reservation.id!r} changed meanwhile")
        self._check_clock(reservation.changed_at, before.changed_at)
        self._s.put_reservation(reservation, reservation.id)
        self._undo.append((self._s.reservations, reservation.id, before))

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
        # Even a read-only unit of work tidies the heaps: it holds the store's lock, and what it
        # drops is stale for good (a rollback re-indexes what it restores via put_reservation).
        reservations = self._s.reservations
        found: dict[str, Reservation] = {}
        for key in (None,) if keys is None else set(keys):
            index = self._s.expiring.get(key)
            if index is None:
                continue
            heap = index.heap
            due: dict[str, tuple[datetime, str]] = {}
            try:
                # pop only what is due (O(log n) each), dropping stale entries for good
                while heap and heap[0][0] <= now:
                    entry = heapq.heappop(heap)
                    if index.current(entry, reservations):
                        due[entry[1]] = entry
            finally:
                for entry in due.values():  # still current: they stay in the heap
                    heapq.heappush(heap, entry)
            for reservation_id in due:
                found[reservation_id] = reservations[reservation_id]
        if not found:
            return []  # the common case: nothing is due
        chosen = [r for r in found.values() if r.state in states]
        if len(chosen) > 1:
            chosen.sort(key=lambda r: (r.expires_at, r.id))
        return chosen

    # -- orders ------------------------------------------------------------------------------
    def add_order(self, record: OrderRecord) -> None:
        self._writable()
        if record.id in self._s.orders:
            raise StoreError(f"order {record.id!r} already exists")
        self._s.orders[record.id] = record
        self._undo.append((self._s.orders, record.id, _ABSENT))

    def order(self, order_id: str, *, for_update: bool = False) -> OrderRecord | None:
        return self._s.orders.get(order_id)

    def update_order(self, record: OrderRecord) -> None:
        self._writable()
        before = self._s.orders.get(record.id)
        if before is None or before.version != record.version - 1:
            raise ConcurrencyConflict(f"order {record.id!r} changed meanwhile")
        self._check_clock(record.updated_at, before.updated_at)
        self._s.orders[record.id] = record
        self._undo.append((self._s.orders, record.id, before))

    def orders(self) -> list[OrderRecord]:
        return [self._s.orders[k] for k in sorted(self._s.orders)]

    # -- returns -----------------------------------------------------------------------------
    def add_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        if rma.id in self._s.returns:
            raise StoreError(f"return {rma.id!r} already exists")
        self._s.returns[rma.id] = rma
        self._undo.append((self._s.returns, rma.id, _ABSENT))

    def return_authorization(
        self, rma_id: str, *, for_update: bool = False
    ) -> ReturnAuthorization | None:
        return self._s.returns.get(rma_id)

    def update_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        before = self._s.returns.get(rma.id)
        if before is None or before.version != rma.version - 1:
            raise ConcurrencyConflict(f"return {rma.id!r} changed meanwhile")
        self._check_clock(rma.updated_at, before.updated_at)
        self._s.returns[rma.id] = rma
        self._undo.append((self._s.returns, rma.id, before))

    def returns(self, *, order_id: str | None = None) -> list[ReturnAuthorization]:
        return [
            self._s.returns[k]
            for k in sorted(self._s.returns)
            if order_id is None or self._s.returns[k].order_id == order_id
        ]

    # -- events ------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        if self._read_only:
            raise _read_only()
        self._s.events.append(event)  # numbered when first read (see events)
        self._undo.append((self._s.events, None, None))

    def events(self, after: int = 0, limit: int | None = None) -> list[Event]:
        # An event's seq is its place in the outbox. It is given when the event is first read
        # (and kept: the numbered copy replaces the one appended), so that a command pays for
        # no copy of its events, and each event is copied once however often it is read.
        events = self._s.events
        start = max(0, after)
        page = slice(start, None if limit is None else start + limit)
        for index in range(*page.indices(len(events))):
            event = events[index]
            if event.seq != index + 1:
                events[index] = attrs.evolve(event, seq=index + 1)
        return events[page]


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

    def unit_of_work(self, *, read_only: bool = False) -> _MemoryUnitOfWork:
        """Open a transaction; see :class:`~omniorder.stores.base.Store`."""
        return _MemoryUnitOfWork(self, read_only=read_only)

    def close(self) -> None:
        """Forget everything; later units of work raise StoreError."""
        with self._lock:
            self._closed = True

    def __repr__(self) -> str:
        return "InMemoryStore()"
