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
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from omniorder.model.errors import ConcurrencyConflict, StoreError
from omniorder.model.events import Event
from omniorder.model.order import OrderRecord
from omniorder.model.position import Movement, Position, refusal
from omniorder.model.reservation import Reservation
from omniorder.model.returns import ReturnAuthorization
from omniorder.stores._sql import (
    load,
    micros,
    move_statement,
    movement_from_row,
    position_from_row,
    stored_time,
)
from omniorder.stores.base import IdempotencyRecord, PositionKey

__all__ = ["Rows", "SQLUnitOfWork"]

Conn = TypeVar("Conn")


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

    def __init__(self, conn: Conn, *, read_only: bool) -> None:
        self._c = conn
        self._read_only = read_only

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

    # -- time --------------------------------------------------------------------------------
    def last_time(self) -> datetime | None:
        row = self._execute("SELECT value FROM meta WHERE name = 'last_time'").fetchone()
        return None if row is None else stored_time(row[0])

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
        self._execute("UPDATE idempotency SET result = ? WHERE key = ?", (result, key))

    def idempotency_records(self) -> list[IdempotencyRecord]:
        rows = self._execute(
            "SELECT key, command, fingerprint, request, result, at FROM idempotency ORDER BY key"
        )
        return [_record(row) for row in rows]

    # -- positions and ledger ----------------------------------------------------------------
    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        self._writable()
        self._execute(
            "INSERT INTO position (sku, location) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (movement.sku, movement.location),
        )
        row = self._execute(*move_statement(movement, keep)).fetchone()
        if row is None:
            (before,) = self.positions([(movement.location, movement.sku)])
            after = before.apply(movement.kind, movement.quantity)
            raise refusal(movement, after, keep) or ConcurrencyConflict(
                f"{movement.sku} at {movement.location} changed meanwhile"
            )
        self._write_ledger(movement)
        return position_from_row(row)

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
        self._execute(
            "INSERT INTO reservation (id, location, state, expires_us, version, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                reservation.id,
                reservation.location,
                reservation.state.value,
                _expires_us(reservation),
                reservation.version,
                self._body(reservation),
            ),
        )
        # Each line carries the reservation's state and deadline: the partial index on live
        # lines (reservation_line_due) lets the sweep read only the holds of its positions.
        self._executemany(
            "INSERT INTO reservation_line (sku, location, reservation_id, state, expires_us) "
            "VALUES (?, ?, ?, ?, ?)",
            _line_rows(reservation),
        )

    def reservation(self, reservation_id: str, *, for_update: bool = False) -> Reservation | None:
        query = "SELECT body FROM reservation WHERE id = ?" + self._lock(for_update)
        row = self._execute(query, (reservation_id,)).fetchone()
        return None if row is None else load(row[0], Reservation)

    def update_reservation(self, reservation: Reservation) -> None:
        self._writable()
        changed = self._execute(
            "UPDATE reservation SET state = ?, expires_us = ?, version = ?, body = ? "
            "WHERE id = ? AND version = ?",
            (
                reservation.state.value,
                _expires_us(reservation),
                reservation.version,
                self._body(reservation),
                reservation.id,
                reservation.version - 1,
            ),
        ).rowcount
        if changed != 1:
            raise ConcurrencyConflict(f"reservation {reservation.id!r} changed meanwhile")
        # Its lines follow (a reservation's location and skus never change): a finished
        # reservation's lines leave the live index in the same transaction.
        self._executemany(
            "UPDATE reservation_line SET state = ?, expires_us = ? "
            "WHERE sku = ? AND location = ? AND reservation_id = ?",
            [
                (state, expires, sku, location, rid)
                for sku, location, rid, state, expires in _line_rows(reservation)
            ],
        )

    # -- orders ------------------------------------------------------------------------------
    def add_order(self, record: OrderRecord) -> None:
        self._writable()
        self._execute(
            "INSERT INTO order_record (id, version, body) VALUES (?, ?, ?)",
            (record.id, record.version, self._body(record)),
        )

    def order(self, order_id: str, *, for_update: bool = False) -> OrderRecord | None:
        query = "SELECT body FROM order_record WHERE id = ?" + self._lock(for_update)
        row = self._execute(query, (order_id,)).fetchone()
        return None if row is None else load(row[0], OrderRecord)

    def update_order(self, record: OrderRecord) -> None:
        self._writable()
        changed = self._execute(
            "UPDATE order_record SET version = ?, body = ? WHERE id = ? AND version = ?",
            (record.version, self._body(record), record.id, record.version - 1),
        ).rowcount
        if changed != 1:
            raise ConcurrencyConflict(f"order {record.id!r} changed meanwhile")

    def orders(self) -> list[OrderRecord]:
        rows = self._execute("SELECT body FROM order_record ORDER BY id")
        return [load(row[0], OrderRecord) for row in rows]

    # -- returns -----------------------------------------------------------------------------
    def add_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        self._execute(
            "INSERT INTO return_authorization (id, order_id, version, body) VALUES (?, ?, ?, ?)",
            (rma.id, rma.order_id, rma.version, self._body(rma)),
        )

    def return_authorization(
        self, rma_id: str, *, for_update: bool = False
    ) -> ReturnAuthorization | None:
        query = "SELECT body FROM return_authorization WHERE id = ?" + self._lock(for_update)
        row = self._execute(query, (rma_id,)).fetchone()
        return None if row is None else load(row[0], ReturnAuthorization)

    def update_return(self, rma: ReturnAuthorization) -> None:
        self._writable()
        changed = self._execute(
            "UPDATE return_authorization SET version = ?, body = ? WHERE id = ? AND version = ?",
            (rma.version, self._body(rma), rma.id, rma.version - 1),
        ).rowcount
        if changed != 1:
            raise ConcurrencyConflict(f"return {rma.id!r} changed meanwhile")

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
            "SELECT body FROM event WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, self._NO_LIMIT if limit is None else limit),
        )
        return [load(row[0], Event) for row in rows]


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
