"""The unit of work both SQL stores share: every statement that reads the same in both dialects.

The shared statements are written once, with ``?`` placeholders; an adapter's
:meth:`SQLUnitOfWork._execute` hands them to its driver in the driver's own style. What differs
stays in the adapter: connections and transactions, how rows are locked, how positions and due
reservations are looked up, how ledger rows and events are numbered, and how JSON bodies and
times are passed to the driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import attrs

from omniorder.model.errors import ClockWentBackwards, ConcurrencyConflict, StoreError
from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position, refusal
from omniorder.model.reservation import Reservation
from omniorder.model.returns import ReturnAuthorization
from omniorder.stores._sql import (
    from_micros,
    load,
    micros,
    move_statement,
    movement_from_row,
    position_from_row,
    stored_time,
)
from omniorder.stores.base import IdempotencyRecord, PositionKey

__all__ = ["Rows", "SQLUnitOfWork", "Step"]

Conn = TypeVar("Conn")

Step = tuple[str, Sequence[Sequence[object]]]
"""A shared statement and the rows of arguments it runs with, once each: a write whose result
nobody reads (see :meth:`SQLUnitOfWork._apply`)."""


class Rows(Protocol):
    """What a statement gives back, from either driver's cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class SQLUnitOfWork(ABC, Generic[Conn]):
    """One transaction on one connection ``Conn``: the statements both dialects share."""

    _NO_LIMIT: ClassVar[int | None]
    """The ``LIMIT`` argument that means "every row"."""

    _STREAM_GUARD: ClassVar[tuple[str, str]] = ("", "")
    """What an update of a reservation, order or return adds to its ``SET`` and ``WHERE`` so
    that a stream's events are numbered in the order they happened (see the PostgreSQL store)."""

    _EVENTS_FINAL: ClassVar[str] = ""
    """What the outbox query adds so that it reads only events no open transaction can precede."""

    def __init__(self, conn: Conn, *, read_only: bool, tolerance: timedelta) -> None:
        self._c = conn
        self._read_only = read_only
        self._tolerance_us = tolerance // timedelta(microseconds=1)

    def _writable(self) -> None:
        if self._read_only:
            raise StoreError("write in a read-only unit of work")

    # -- what each dialect says its own way --------------------------------------------------
    @abstractmethod
    def _execute(self, statement: str, params: Sequence[object] = ()) -> Rows:
        """Run one shared statement (``?`` placeholders) with its bound ``params``."""

    @abstractmethod
    def _executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one shared statement (``?`` placeholders) once for each of ``rows``."""

    _RESERVATION_COLUMNS: ClassVar[str] = "body"
    """What a reservation is read from (the columns :meth:`_reservation_from_row` takes)."""

    _EVENT_COLUMNS: ClassVar[str] = "seq, body"
    """What an event is read from (the columns :meth:`_event_from_row` takes)."""

    def _reservation_from_row(self, row: Sequence[Any]) -> Reservation:
        """A reservation from its row's :attr:`_RESERVATION_COLUMNS` (by default its whole
        JSON body)."""
        return load(row[0], Reservation)

    def _event_from_row(self, row: Sequence[Any]) -> Event:
        """An event from its row's :attr:`_EVENT_COLUMNS` (by default its number and its whole
        JSON body)."""
        seq, body = row
        # The number lives in its column only: a store numbers an event as it writes it.
        return attrs.evolve(load(body, Event), seq=seq)

    def _together(self) -> AbstractContextManager[object]:
        """A block whose statements the driver may send in one round trip (their results are
        read once it ends)."""
        return nullcontext()

    def _apply(self, steps: Sequence[Step]) -> None:
        """Run writes whose results nobody reads and which cannot be refused except by an error
        (a constraint, a guard that raises): an adapter may send them later, with the next
        statement whose result is read or with the commit, in one round trip."""
        with self._together():
            for statement, rows in steps:
                self._executemany(statement, rows)

    def _remember(self, table: str, ident: str, version: int, changed_us: int) -> None:
        """A hook: the row ``ident`` of ``table`` (a reservation, order or return) is locked by
        this transaction until it ends, at ``version``, last changed at ``changed_us``."""

    def _read_row(
        self, table: str, ident: str, columns: str, for_update: bool
    ) -> Sequence[Any] | None:
        """The ``columns`` of the row ``ident`` of ``table`` (locked until commit with
        ``for_update``: then :meth:`_remember` is told its version and last change)."""
        query = f"SELECT {columns}, version, changed_us FROM {table} WHERE id = ?"
        row = self._execute(query + self._lock(for_update), (ident,)).fetchone()
        if row is None:
            return None
        if for_update:
            self._remember(table, ident, row[-2], row[-1])
        found: Sequence[Any] = row[:-2]
        return found

    @abstractmethod
    def _body(self, value: object) -> object:
        """``value`` (a reservation, order record or return) as a JSON body for the driver."""

    @abstractmethod
    def _time(self, moment: datetime) -> object:
        """``moment`` as the driver stores it in a time column."""

    @abstractmethod
    def _lock(self, for_update: bool) -> str:
        """What a one-row ``SELECT`` ends with to lock that row until commit (``for_update``)."""

    @abstractmethod
    def _write_ledger(self, movement: Movement) -> None:
        """Append ``movement``, just applied to its position, to the ledger."""

    @abstractmethod
    def positions(
        self,
        keys: Collection[PositionKey] | None = None,
        *,
        sku: str | None = None,
        location: str | None = None,
        for_update: bool = False,
    ) -> list[Position]:
        """See :meth:`~omniorder.stores.base.UnitOfWork.positions`."""

    def _update_document(
        self, table: str, what: str, record: OrderRecord | ReturnAuthorization
    ) -> None:
        """Replace an order record or a return kept whole as its JSON body."""
        self._versioned_update(
            table,
            what,
            record.id,
            version=record.version,
            at=record.updated_at,
            columns=[("body", self._body(record))],
        )

    # -- the clock guard, on the rows a command writes -----------------------------------------
    def _versioned_update(
        self,
        table: str,
        what: str,
        ident: str,
        *,
        version: int,
        at: datetime,
        columns: Sequence[tuple[str, object]],
        also: Sequence[Step] = (),
    ) -> None:
        """Replace the row ``ident`` of ``table`` stored at ``version - 1``, unless it changed
        meanwhile (:class:`ConcurrencyConflict`) or changed last more than the clock tolerance
        after ``at`` (:class:`ClockWentBackwards`); ``also`` writes what follows the row, in the
        same round trip (undone with the rest if the row is refused)."""
        self._writable()
        guard_set, guard_where = self._STREAM_GUARD
        setters = ", ".join(f"{name} = ?" for name, _ in columns)
        at_us = micros(at)
        with self._together():
            cursor = self._execute(
                f"UPDATE {table} SET {setters}, version = ?, changed_us = ?{guard_set} "
                f"WHERE id = ? AND version = ? AND changed_us <= ?{guard_where}",
                (
                    *(value for _, value in columns),
                    version,
                    at_us,
                    ident,
                    version - 1,
                    at_us + self._tolerance_us,
                ),
            )
            for statement, rows in also:
                self._executemany(statement, rows)
        if cursor.rowcount == 1:
            return
        row = self._execute(f"SELECT version, changed_us FROM {table} WHERE id = ?", (ident,))
        found = row.fetchone()
        if found is not None and found[0] == version - 1 and found[1] > at_us + self._tolerance_us:
            raise ClockWentBackwards(at, from_micros(found[1]))
        raise ConcurrencyConflict(f"{what} {ident!r} changed meanwhile")

    # -- idempotency -------------------------------------------------------------------------
    def claim_key(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        self._writable()
        inserted = self._execute(
            "INSERT INTO idempotency (key, command, fingerprint, request, result, at) "
            "VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (key) DO NOTHING",
            (record.key, record.command, record.fingerprint, record.request, self._time(record.at)),
        ).rowcount
        if inserted:
            return None
        row = self._execute(
            "SELECT key, command, fingerprint, request, result, at FROM idempotency WHERE key = ?",
            (record.key,),
        ).fetchone()
        assert row is not None  # the conflicting row is committed: we waited for it
        return _record(row)

    def complete_key(self, key: str, result: str) -> None:
        self._writable()
        self._apply([("UPDATE idempotency SET result = ? WHERE key = ?", [(result, key)])])

    def idempotency_records(self) -> list[IdempotencyRecord]:
        rows = self._execute(
            "SELECT key, command, fingerprint, request, result, at FROM idempotency ORDER BY key"
        )
        return [_record(row) for row in rows]

    # -- positions and ledger ----------------------------------------------------------------
    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        self._writable()
        statement = move_statement(movement, keep, self._tolerance_us)
        row = self._execute(*statement).fetchone()
        if (
            row is None
            and self._execute(  # a position never stocked: made at zero, then moved
                "INSERT INTO position (sku, location) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (movement.sku, movement.location),
            ).rowcount
        ):
            row = self._execute(*statement).fetchone()
        if row is None:
            raise self._refused(movement, keep)
        self._write_ledger(movement)
        return position_from_row(row)

    def _refused(self, movement: Movement, keep: int) -> Exception:
        """Why the conditional update of ``movement`` changed no row."""
        changed = self._execute(
            "SELECT changed_us FROM position WHERE sku = ? AND location = ?",
            (movement.sku, movement.location),
        ).fetchone()[0]
        if changed > micros(movement.at) + self._tolerance_us:
            return ClockWentBackwards(movement.at, from_micros(changed))
        (before,) = self.positions([(movement.location, movement.sku)])
        after = before.apply(movement.kind, movement.quantity)
        return refusal(movement, after, keep) or ConcurrencyConflict(
            f"{movement.sku} at {movement.location} changed meanwhile"
        )

    def movements(self, after: int = 0) -> list[Movement]:
        rows = self._execute(
            "SELECT seq, at, location, sku, kind, quantity, reference, key FROM ledger "
            "WHERE seq > ? ORDER BY seq",
            (after,),
        )
        return [movement_from_row(row) for row in rows]

    # -- reservations ------------------------------------------------------------------------
    def add_reservation(self, reservation: Reservation) -> None:
        self._writable()
        row = (
            reservation.id,
            reservation.location,
            reservation.state.value,
            _expires_us(reservation),
            reservation.version,
            self._body(reservation),
            micros(reservation.changed_at),
        )
        self._apply(
            [
                (
                    "INSERT INTO reservation "
                    "(id, location, state, expires_us, version, body, changed_us) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [row],
                ),
                # Each line carries the reservation's state and deadline: the partial index on
                # live lines (reservation_line_due) lets the sweep read only the holds of its
                # positions.
                (
                    "INSERT INTO reservation_line "
                    "(sku, location, reservation_id, state, expires_us) VALUES (?, ?, ?, ?, ?)",
                    _line_rows(reservation),
                ),
            ]
        )

    def reservation(self, reservation_id: str, *, for_update: bool = False) -> Reservation | None:
        row = self._read_row("reservation", reservation_id, self._RESERVATION_COLUMNS, for_update)
        return None if row is None else self._reservation_from_row(row)

    def update_reservation(self, reservation: Reservation) -> None:
        # Its lines follow (a reservation's location and skus never change): a finished
        # reservation's lines leave the live index in the same transaction.
        lines = (
            "UPDATE reservation_line SET state = ?, expires_us = ? "
            "WHERE sku = ? AND location = ? AND reservation_id = ?",
            [
                (state, expires, sku, location, rid)
                for sku, location, rid, state, expires in _line_rows(reservation)
            ],
        )
        self._versioned_update(
            "reservation",
            "reservation",
            reservation.id,
            version=reservation.version,
            at=reservation.changed_at,
            columns=[
                ("state", reservation.state.value),
                ("expires_us", _expires_us(reservation)),
                ("body", self._body(reservation)),
            ],
            also=[lines],
        )

    # -- orders ------------------------------------------------------------------------------
    def add_order(self, record: OrderRecord) -> None:
        self._writable()
        self._apply(
            [
                (
                    "INSERT INTO order_record (id, version, body, changed_us) VALUES (?, ?, ?, ?)",
                    [(record.id, record.version, self._body(record), micros(record.updated_at))],
                )
            ]
        )

    def order(self, order_id: str, *, for_update: bool = False) -> OrderRecord | None:
        row = self._read_row("order_record", order_id, "body", for_update)
        return None if row is None else load(row[0], OrderRecord)

    def update_order(self, record: OrderRecord) -> None:
        self._update_document("order_record", "order", record)

    def orders(self) -> list[OrderRecord]:
        rows = self._execute("SELECT body FROM order_record ORDER BY id")
        return [load(row[0], OrderRecord) for row in rows]

    # -- returns -----------------------------------------------------------------------------
    def add_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        self._apply(
            [
                (
                    "INSERT INTO return_authorization (id, order_id, version, body, changed_us) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(rma.id, rma.order_id, rma.version, self._body(rma), micros(rma.updated_at))],
                )
            ]
        )

    def return_authorization(
        self, rma_id: str, *, for_update: bool = False
    ) -> ReturnAuthorization | None:
        row = self._read_row("return_authorization", rma_id, "body", for_update)
        return None if row is None else load(row[0], ReturnAuthorization)

    def update_return(self, rma: ReturnAuthorization) -> None:
        self._update_document("return_authorization", "return", rma)

    def returns(self, *, order_id: str | None = None) -> list[ReturnAuthorization]:
        if order_id is None:
            rows = self._execute("SELECT body FROM return_authorization ORDER BY id")
        else:
            rows = self._execute(
                "SELECT body FROM return_authorization WHERE order_id = ? ORDER BY id",
                (order_id,),
            )
        return [load(row[0], ReturnAuthorization) for row in rows]

    # -- events ------------------------------------------------------------------------------
    def events(self, after: int = 0, limit: int | None = None) -> list[Event]:
        rows = self._execute(
            f"SELECT {self._EVENT_COLUMNS} FROM event WHERE seq > ?{self._EVENTS_FINAL} "
            "ORDER BY seq LIMIT ?",
            (after, self._NO_LIMIT if limit is None else limit),
        )
        return [self._event_from_row(row) for row in rows]


def _record(row: Sequence[Any]) -> IdempotencyRecord:
    key, command, fingerprint, request, result, at = row
    return IdempotencyRecord(key, command, fingerprint, request, result, stored_time(at))


def _line_rows(reservation: Reservation) -> list[tuple[str, str, str, str, int | None]]:
    """``(sku, location, reservation_id, state, expires_us)`` for each line of ``reservation``."""
    state, expires = reservation.state.value, _expires_us(reservation)
    return [
        (line.sku, reservation.location, reservation.id, state, expires)
        for line in reservation.lines
    ]


def _expires_us(reservation: Reservation) -> int | None:
    return None if reservation.expires_at is None else micros(reservation.expires_at)
