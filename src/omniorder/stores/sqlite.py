"""SQLiteStore: the embedded default for a real application (stdlib :mod:`sqlite3`, no ORM).

How it keeps the promises:

* every write is one ``BEGIN IMMEDIATE`` transaction, so writers (threads or processes on the
  same file) are serialised and a command never decides on stale stock; ``busy_timeout`` makes a
  writer wait its turn instead of failing;
* WAL journal, so readers never block the writer; ``synchronous=FULL`` by default (a committed
  command survives a power cut), ``NORMAL`` as an opt-in (it survives a process crash but may lose
  the last commits on power loss);
* CHECK constraints hold the stock invariants even if the code above is wrong; position changes
  are relative (``SET reserved = reserved + ?``) and judged by the rows they touch;
* the ledger, the event outbox and the idempotency record are written in the same transaction as
  the change; the idempotency key is inserted first;
* the schema is package data, applied by ``PRAGMA user_version`` migrations;
* a reservation's or an event's body holds only what its row's columns do not, as tight JSON
  (schema 7, see ``stores/_compact.py``): a reserve writes about half the bytes it did, and reads
  back exactly the value it wrote.

SQLite's WAL-reset bug: SQLite before 3.51.3 (except 3.50.7+ and 3.44.6+) can, very rarely,
corrupt a WAL database when two connections write or checkpoint at the same instant. The store
logs the linked SQLite version at INFO once per process, and warns (WARNING, once) on an affected
version when one store object is used across ``fork()`` by several processes. To silence it:
``logging.getLogger("omniorder.stores.sqlite").setLevel(logging.ERROR)``.
Our policy: prefer a Python linked against a fixed SQLite; keep the database on a local disk and
never enable ``mmap_size`` with several writer processes (the store does not); run
``SQLiteStore.integrity_check()`` and ``engine.verify()`` in your health checks; and move to
:class:`~omniorder.stores.postgres.PostgresStore` when many processes write all day.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from omniorder.model.errors import ConcurrencyConflict, InvalidInput, SchemaError, StoreError
from omniorder.model.events import Event
from omniorder.model.position import COUNTERS, Movement, Position
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.stores._compact import (
    EVENT_COLUMNS,
    RESERVATION_COLUMNS,
    event_body,
    event_from_row,
    reservation_body,
    reservation_from_row,
)
from omniorder.stores._sql import EXPIRING, chunks, dump, micros, migrations, position_from_row
from omniorder.stores._sqlbase import SQLUnitOfWork
from omniorder.stores.base import PositionKey

__all__ = ["SQLiteStore", "wal_reset_bug_fixed"]

logger = logging.getLogger(__name__)

_KEYS_PER_QUERY: Final = 400
_BUSY: Final = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_warned_versions: set[str] = set()
_JOINED_RESERVATION: Final = ", ".join(f"r.{name}" for name in RESERVATION_COLUMNS.split(", "))


def wal_reset_bug_fixed(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> bool:
    """Whether this SQLite version has the WAL-reset fix (3.51.3+, 3.50.7+ or 3.44.6+)."""
    major_minor = version[:2]
    if major_minor == (3, 50):
        return version >= (3, 50, 7)
    if major_minor == (3, 44):
        return version >= (3, 44, 6)
    return version >= (3, 51, 3)


def _log_version(*, forked: bool = False) -> None:
    """Say which SQLite is linked: at INFO once per process, and at WARNING only where the
    WAL-reset bug can bite, a store used by several processes (seen here when it crosses
    ``fork()``; a database opened by several independent processes looks the same to each)."""
    version = sqlite3.sqlite_version
    if wal_reset_bug_fixed():
        if version not in _warned_versions:
            _warned_versions.add(version)
            logger.info("omniorder SQLiteStore: linked SQLite %s", version)
        return
    if forked and f"forked {version}" not in _warned_versions:
        _warned_versions.add(f"forked {version}")
        logger.warning(
            "SQLite %s predates the WAL-reset fix (3.51.3, 3.50.7, 3.44.6) and this store is "
            "now written by several processes, which can very rarely corrupt it; see "
            "omniorder.stores.sqlite",
            version,
        )
    elif version not in _warned_versions:
        _warned_versions.add(version)
        logger.info(
            "omniorder SQLiteStore: linked SQLite %s predates the WAL-reset fix (3.51.3, 3.50.7, "
            "3.44.6), which matters only when several processes write one database; see "
            "omniorder.stores.sqlite",
            version,
        )


class _SQLiteUnitOfWork(SQLUnitOfWork[sqlite3.Connection]):
    """One transaction on one connection; ``BEGIN IMMEDIATE`` makes it the only writer."""

    _NO_LIMIT = -1
    # Reservations and events are written with compact bodies (see stores._compact): the
    # columns beside the body are read with it.
    _RESERVATION_COLUMNS = RESERVATION_COLUMNS
    _EVENT_COLUMNS = EVENT_COLUMNS

    def _reservation_from_row(self, row: Sequence[Any]) -> Reservation:
        return reservation_from_row(row)

    def _event_from_row(self, row: Sequence[Any]) -> Event:
        return event_from_row(row)

    def _execute(self, statement: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._c.execute(statement, params)

    def _executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        self._c.executemany(statement, rows)

    def _body(self, value: object) -> str:
        return reservation_body(value) if isinstance(value, Reservation) else dump(value)

    def _time(self, moment: datetime) -> str:
        return moment.isoformat()

    def _lock(self, for_update: bool) -> str:
        return ""  # BEGIN IMMEDIATE already holds the write lock

    def _write_ledger(self, movement: Movement) -> None:
        # seq is the rowid: one writer at a time (BEGIN IMMEDIATE) takes the next one.
        self._c.execute(
            "INSERT INTO ledger (at, sku, location, kind, quantity, reference, key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                movement.at.isoformat(),
                movement.sku,
                movement.location,
                movement.kind.value,
                movement.quantity,
                movement.reference,
                movement.key,
            ),
        )

    # -- positions ---------------------------------------------------------------------------
    def positions(
        self,
        keys: Collection[PositionKey] | None = None,
        *,
        sku: str | None = None,
        location: str | None = None,
        for_update: bool = False,  # BEGIN IMMEDIATE already holds the write lock
    ) -> list[Position]:
        columns = "sku, location, " + ", ".join(COUNTERS)
        where, params = [], []
        if sku is not None:
            where.append("sku = ?")
            params.append(sku)
        if location is not None:
            where.append("location = ?")
            params.append(location)
        found: list[Position] = []
        batches: list[Sequence[PositionKey] | None] = (
            [None] if keys is None else list(chunks(sorted(set(keys)), _KEYS_PER_QUERY))
        )
        for batch in batches:
            clauses, args = list(where), list(params)
            if batch is not None:  # chunks() never yields an empty batch
                clauses.append(
                    "(location, sku) IN (VALUES " + ", ".join("(?, ?)" for _ in batch) + ")"
                )
                args += [part for key in batch for part in key]
            sql = f"SELECT {columns} FROM position"
            if clauses:
                sql += " WHERE " + " AND ".join(clauses)
            found += [position_from_row(row) for row in self._c.execute(sql, args)]
        return sorted(found, key=lambda p: (p.sku, p.location))

    # -- reservations ------------------------------------------------------------------------
    def reservations(
        self, *, states: Collection[ReservationState] | None = None
    ) -> list[Reservation]:
        if states is None:
            rows = self._c.execute(f"SELECT {RESERVATION_COLUMNS} FROM reservation ORDER BY id")
        else:
            marks = ", ".join("?" for _ in states)
            rows = self._c.execute(
                f"SELECT {RESERVATION_COLUMNS} FROM reservation WHERE state IN ({marks}) "
                "ORDER BY id",
                [s.value for s in states],
            )
        return [reservation_from_row(row) for row in rows]

    def due_reservations(
        self,
        now: datetime,
        *,
        states: Collection[ReservationState],
        keys: Collection[PositionKey] | None = None,
        for_update: bool = False,
        skip_locked: bool = False,
    ) -> list[Reservation]:
        wanted = {s.value for s in states}
        if not wanted <= set(EXPIRING):
            raise StoreError(f"only {EXPIRING} reservations expire")
        # The literal state lists let SQLite use the partial indexes on live rows:
        # reservation_due (every due hold) and reservation_line_due (the holds of a position, by
        # deadline). Finished reservations are in neither, so history never enters the plan.
        found: dict[str, tuple[int, Reservation]] = {}
        if keys is None:
            rows = self._c.execute(
                f"SELECT {RESERVATION_COLUMNS} FROM reservation "
                "WHERE state IN ('HELD', 'READY') AND expires_us <= ?",
                (micros(now),),
            ).fetchall()
        else:
            # Driven from the positions (CROSS JOIN fixes the join order in SQLite): for each,
            # a search of its live lines by deadline, then the reservation by its key.
            rows = []
            for batch in chunks(sorted(set(keys)), _KEYS_PER_QUERY):  # never an empty batch
                query = (
                    "WITH k (location, sku) AS (VALUES "
                    + ", ".join("(?, ?)" for _ in batch)
                    + f") SELECT {_JOINED_RESERVATION} "
                    "FROM k CROSS JOIN reservation_line AS l CROSS JOIN reservation AS r "
                    "WHERE l.location = k.location AND l.sku = k.sku "
                    "AND l.state IN ('HELD', 'READY') AND l.expires_us <= ? "
                    "AND r.id = l.reservation_id "
                    "AND r.state IN ('HELD', 'READY') AND r.expires_us <= ?"
                )
                args = [part for key in batch for part in key] + [micros(now), micros(now)]
                rows += self._c.execute(query, args).fetchall()
        for row in rows:
            reservation_id, expires_us = row[1], row[5]
            if reservation_id in found:
                continue  # it holds several of the positions
            r = reservation_from_row(row)
            if r.state.value in wanted:
                found[reservation_id] = (expires_us, r)
        return [r for _, r in sorted(found.values(), key=lambda item: (item[0], item[1].id))]

    # -- events ------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        self._writable()
        # seq is the rowid: one writer at a time (BEGIN IMMEDIATE) takes the next one, so a
        # reader never sees a smaller number commit after a larger one.
        self._c.execute(
            "INSERT INTO event (type, at, body) VALUES (?, ?, ?)",
            (type(event).__name__, event.at.isoformat(), event_body(event)),
        )


class SQLiteStore:
    """The embedded default: one SQLite file, safe for many threads and several processes.

    Args:
        path: the database file (created with its schema if new). Keep it on a local disk.
        synchronous: ``"FULL"`` (default: a committed command survives power loss) or
            ``"NORMAL"`` (faster; survives a crash of the process, may lose the last commits on
            power loss).
        busy_timeout: how long a writer waits for another writer's transaction before giving
            up with :class:`~omniorder.ConcurrencyConflict`.
        read_only: open an existing omniorder database without ever writing to it (health
            checks, ``omniorder verify``): nothing is created or migrated, and a file without
            the omniorder schema is refused.

    Raises:
        StoreError: the file cannot be opened or is not a database.
        SchemaError: the database has a newer schema, or (``read_only``) none of omniorder's.
        InvalidInput: a bad path, ``synchronous`` value or ``busy_timeout``.
    """

    clock_tolerance = timedelta(0)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout: timedelta = timedelta(seconds=30),
        read_only: bool = False,
        _transactions: bool = True,
        _probe: bool = False,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path) or "\x00" in str(path):
            raise InvalidInput(
                "path must be a file name (str or os.PathLike) without NUL",
                field="path",
                value=path,
            )
        if synchronous not in ("FULL", "NORMAL"):
            raise InvalidInput(
                "synchronous must be 'FULL' or 'NORMAL'", field="synchronous", value=synchronous
            )
        if not isinstance(busy_timeout, timedelta) or busy_timeout < timedelta(0):
            raise InvalidInput(
                "busy_timeout must be a timedelta of at least 0",
                field="busy_timeout",
                value=busy_timeout,
            )
        if not isinstance(read_only, bool):
            raise InvalidInput("read_only must be a bool", field="read_only", value=read_only)
        self.path = Path(path)
        self.synchronous = synchronous
        self.read_only = read_only
        self._busy_ms = int(busy_timeout.total_seconds() * 1000)
        self._transactions = _transactions
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        _log_version()
        if not read_only and self.path.is_file() and self.path.stat().st_size:
            # Look before the first connection turns the file to WAL and migrates it: another
            # application's database is refused, never changed.
            probe = SQLiteStore(self.path, read_only=True, busy_timeout=busy_timeout, _probe=True)
            probe.close()
        try:
            if read_only:
                self._check_schema(self._connection(), empty_ok=_probe)
            else:
                self._migrate(self._connection())
        except BaseException:
            self.close()
            raise

    # -- connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode=ro" if self.read_only else self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_ms / 1000,
                uri=self.read_only,
            )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if not self.read_only:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open SQLite database {str(self.path)!r}: {error}") from error
        with self._guard:
            self._all.append(conn)
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        if os.getpid() != self._pid:
            # A connection must never cross fork(): the child opens its own.
            self._pid, self._local, self._all = os.getpid(), threading.local(), []
            _log_version(forked=True)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        steps = migrations("sqlite")
        latest = steps[-1][0]
        try:
            conn.execute("BEGIN IMMEDIATE")
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > latest:
                conn.execute("ROLLBACK")
                raise SchemaError(
                    f"{str(self.path)!r} has schema version {current}; this omniorder knows "
                    f"{latest} at most: upgrade omniorder"
                )
            for version, script in steps:
                if version > current:
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(version)}")
                    logger.info(
                        "omniorder SQLiteStore: %s migrated to schema %d", self.path, version
                    )
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if _in_transaction(conn):
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot prepare {str(self.path)!r}: {error}") from error

    def _check_schema(self, conn: sqlite3.Connection, *, empty_ok: bool = False) -> None:
        """Refuse a database that does not hold the omniorder schema (``empty_ok``: a database
        with no tables at all is accepted, to be migrated)."""
        latest = migrations("sqlite")[-1][0]
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as error:
            raise StoreError(f"cannot read {str(self.path)!r}: {error}") from error
        missing = sorted(_TABLES - tables)
        if empty_ok and version == 0 and not tables:
            return
        if version == 0 or missing:
            found = ", ".join(sorted(tables)) or "no tables"
            raise SchemaError(
                f"{str(self.path)!r} is not an omniorder database (schema version {version}, "
                f"{found})"
            )
        if version > latest:
            raise SchemaError(
                f"{str(self.path)!r} has schema version {version}; this omniorder knows "
                f"{latest} at most: upgrade omniorder"
            )

    # -- the port ----------------------------------------------------------------------------------
    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_SQLiteUnitOfWork]:
        """Open a transaction (``BEGIN IMMEDIATE`` to write); see the Store protocol."""
        conn = self._connection()
        if _in_transaction(conn):
            raise StoreError("a unit of work is already open in this thread")
        try:
            if self._transactions:
                conn.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise _translate(error) from error
        try:
            yield _SQLiteUnitOfWork(conn, read_only=read_only, tolerance=self.clock_tolerance)
        except BaseException as error:
            if _in_transaction(conn):
                conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise _translate(error) from error
            raise
        try:
            if _in_transaction(conn):
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            if _in_transaction(conn):
                conn.execute("ROLLBACK")
            raise _translate(error) from error

    def integrity_check(self) -> list[str]:
        """SQLite's own ``PRAGMA integrity_check``: the problems found, empty when the file is
        sound. A file too damaged to check is reported as one problem, never raised."""
        try:
            rows = self._connection().execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as error:
            return [f"the integrity check could not run: {error}"]
        return [] if [tuple(r) for r in rows] == [("ok",)] else [str(r[0]) for r in rows]

    def close(self) -> None:
        """Close every connection this process opened; the store is unusable afterwards."""
        with self._guard:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"


_TABLES: Final = frozenset(
    {"position", "ledger", "reservation", "reservation_line", "event", "idempotency"}
)
"""The tables every omniorder SQLite database has (since schema version 1)."""


def _in_transaction(conn: sqlite3.Connection) -> bool:
    # A function, not the property inline: the answer changes under our feet (mypy would narrow).
    return conn.in_transaction


def _statements(script: str) -> Iterator[str]:
    """The complete SQL statements of ``script``, one at a time (comments kept)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip() and not all(
        row.strip().startswith("--") or not row.strip() for row in pending.splitlines()
    ):
        raise StoreError("schema file ends in an incomplete statement")


def _translate(error: sqlite3.Error) -> Exception:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY:
        return ConcurrencyConflict(f"the database stayed busy: {error}")
    if isinstance(error, sqlite3.IntegrityError):
        return StoreError(f"a constraint refused the change: {error}")
    return StoreError(f"SQLite: {error}")
