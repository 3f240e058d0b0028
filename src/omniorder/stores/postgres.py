"""PostgresStore: many application processes, on many machines, over one PostgreSQL database.

Install with the ``postgres`` extra (``pip install "omniorder[postgres]"``: psycopg 3 and
psycopg-pool).

How it keeps the promises:

* READ COMMITTED transactions in which conditional statements decide: a position changes by
  ``SET reserved = reserved + %s ... WHERE <enough is free>`` and the row count says whether it
  did; reservation transitions are conditional on the version they were read at;
* where Python decides (how much is short, which holds are due) the rows are locked first, in
  sorted ``(sku, location)`` order, so two commands never deadlock on positions;
* CHECK constraints hold the stock invariants even if the code above is wrong;
* the idempotency key is inserted first (a second command with the same key waits for the first
  and then finds its result); the ledger, the event outbox and the idempotency record commit in
  the same transaction as the change;
* no row is written by every command: ledger numbers come from a sequence; an event's number is
  its transaction's id then its place in the transaction (``xid * 2**20 + n``), and a reader
  sees only events of transactions below the snapshot horizon
  (``pg_snapshot_xmin(pg_current_snapshot())``), which can no longer commit, so a reader paging
  by number never misses nor repeats one; a reservation, order or return row names its last
  writer's transaction id, and a transaction with a smaller id may not write it (it runs again,
  with a new, larger id), so one stream's events are numbered in the order they happened;
* the clock guard is kept on the rows a command writes (each keeps the time of its last change);
* the sweep locks due reservations with ``FOR UPDATE SKIP LOCKED``: two sweepers never release
  the same hold twice;
* deadlocks, serialisation failures and lock timeouts surface as
  :class:`~omniorder.ConcurrencyConflict`, which the engine retries with jittered backoff; a
  connection lost while committing surfaces as :class:`~omniorder.CommitOutcomeUnknown` (retry
  with the same key); no psycopg exception reaches the caller unwrapped;
* few round trips: the connection is in autocommit mode and a unit of work sends ``BEGIN`` with
  its first statement; where a row is locked ``FOR UPDATE``, Python decides what a conditional
  statement would, and the write waits (with the other writes whose result nothing reads) for
  the pipeline that carries the ledger rows, the events and ``COMMIT``; the write still checks
  on the server that the row is as it was read (else ``NULL`` in a ``NOT NULL`` column aborts
  the transaction, a :class:`~omniorder.ConcurrencyConflict`). A reserve is two round trips, a
  confirm or a keyed reserve three;
* one connection pool per process, never carried across ``fork()``.

The hot tables (``position``, ``ledger``, ``reservation_line``) are keyed by sku first, and every
statement on them names its skus: ``partitions=N`` hash-partitions them by sku, and a distributed
engine (Citus) can shard them by sku (see "Scale out across machines" in the docs).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Final

from omniorder.model import checks
from omniorder.model.errors import (
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    InvalidInput,
    StoreError,
)
from omniorder.model.events import Event
from omniorder.model.position import COUNTERS, Movement, Position, refusal
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.stores._sql import (
    EXPIRING,
    dump,
    from_micros,
    load,
    micros,
    migrations,
    position_from_row,
)
from omniorder.stores._sqlbase import SQLUnitOfWork, Step
from omniorder.stores.base import PositionKey, sorted_keys

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as missing:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'PostgresStore needs the "postgres" extra: pip install "omniorder[postgres]"'
    ) from missing

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)

_RETRYABLE: Final = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)
_POSITION_COLUMNS: Final = "sku, location, " + ", ".join(COUNTERS)
_SCHEMA: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_IDENTIFIER: Final = 63
"""PostgreSQL's default NAMEDATALEN - 1; the server's own limit is checked when it is reached."""
_PIPELINES: Final = psycopg.Pipeline.is_supported()
"""Whether the linked libpq has pipeline mode (asked once, not on every command)."""
_MIGRATION_LOCK: Final = 0x6F6D6E69  # "omni": the advisory lock that serialises migrations
_HOT_TABLES: Final = ("position", "ledger", "reservation_line")
"""The tables keyed by sku first: hash-partitioned by sku with ``partitions=N``."""
_MAX_PARTITIONS: Final = 1024


def _unnest(keys: Sequence[PositionKey]) -> tuple[list[str], list[str]]:
    return [sku for _, sku in keys], [location for location, _ in keys]


@functools.lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    """A shared statement with psycopg's ``%s`` placeholders for its ``?`` ones (each distinct
    statement is translated once).

    The shared statements compare columns and bind values only: no JSON operator (``?|``), no
    ``?`` or ``%`` in a string literal, so every ``?`` is a placeholder and no ``%`` needs
    escaping.
    """
    if "%" in statement:
        raise ValueError(f"a shared statement must not contain '%': {statement}")
    return statement.replace("?", "%s")


_XID: Final = "pg_current_xact_id()::text::bigint"
"""This transaction's id (64 bits, never reused), assigned at its first write."""

_PLACE_BITS: Final = 20
EVENTS_PER_TRANSACTION: Final = 1 << _PLACE_BITS
"""An event's number is ``xid * EVENTS_PER_TRANSACTION + n``: at most this many per unit of work."""


_BEGIN: Final = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_READ_ONLY: Final = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_GUARDED: Final = frozenset({"on_hand", "version"})
"""The columns a waiting write sets to NULL when its row is not as this transaction read it
(their NOT NULL constraint then aborts the transaction: see :class:`_PgUnitOfWork`)."""
_SET_POSITION: Final = (
    f"UPDATE position SET on_hand = CASE WHEN ({', '.join(COUNTERS)}, changed_us) = "
    f"({', '.join(['%s'] * (len(COUNTERS) + 1))}) THEN %s END, "
    + "".join(f"{name} = %s, " for name in COUNTERS[1:])
    + "changed_us = %s WHERE sku = %s AND location = %s"
)
"""Write a position this transaction has locked: its new counters, if the row still holds the
counters it read (else ``on_hand`` is NULL, which aborts the transaction)."""

_KEYS: Final = (
    "sku = ANY(%s::text[]) AND (sku, location) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
)
"""The positions of a list of keys (skus, skus, locations). ``sku = ANY`` names the
distribution key: the planner reads only the partitions (a distributed engine, the shards) of
these skus."""


class _PgUnitOfWork(SQLUnitOfWork[psycopg.Connection[Any]]):
    """One transaction on one pooled connection, in few round trips.

    The connection is in autocommit mode: the unit of work sends ``BEGIN`` itself, with its
    first statement. Writes nobody reads the result of wait (:meth:`_apply`) and go with the
    next statement that is read, or with the ledger rows, the events and ``COMMIT``
    (:meth:`commit`), in one pipeline. Rows locked ``FOR UPDATE`` are remembered, so a command
    decides in Python what a conditional statement would (a movement on a locked position, a
    versioned update of a locked reservation, order or return) and its write waits too; the
    write still checks on the server that the row is as it was read, and aborts the
    transaction (a :class:`ConcurrencyConflict`) if it is not.
    """

    _NO_LIMIT = None
    _STREAM_GUARD = (f", writer = {_XID}", f" AND writer <= {_XID}")
    _EVENTS_FINAL = (
        f" AND seq < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint << {_PLACE_BITS})"
    )

    def __init__(
        self, conn: psycopg.Connection[Any], *, read_only: bool, tolerance: timedelta
    ) -> None:
        super().__init__(conn, read_only=read_only, tolerance=tolerance)
        self._ledger: list[Movement] = []
        self._events: list[Event] = []
        self._waiting: list[Step] = []
        self._begun = False
        self._piping = False
        self._held: dict[PositionKey, tuple[Position, int]] = {}
        """Positions locked by this transaction: as this transaction left them, and when."""
        self._locked: dict[tuple[str, str], tuple[int, int]] = {}
        """Reservation, order and return rows locked by this transaction: version, changed_us."""

    # -- sending -------------------------------------------------------------------------------
    @contextmanager
    def _together(self) -> Iterator[None]:
        """A pipeline block that starts with BEGIN (once) and the writes that wait."""
        if self._piping:
            yield
            return
        with _one_round_trip(self._c):
            self._piping = True
            try:
                if not self._begun:
                    self._c.execute(_BEGIN_READ_ONLY if self._read_only else _BEGIN)
                    self._begun = True
                waiting, self._waiting = self._waiting, []
                for query, rows in waiting:
                    self._send_many(query, rows)
                yield
            finally:
                self._piping = False

    def _run(self, query: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        """Run ``query`` (psycopg placeholders); BEGIN and the waiting writes go with it."""
        if self._piping or (self._begun and not self._waiting):
            return self._c.execute(query, params)
        with self._together():
            return self._c.execute(query, params)

    def _send_many(self, query: str, rows: Sequence[Sequence[object]]) -> None:
        if len(rows) == 1:
            self._c.execute(query, rows[0])
        elif rows:
            with self._c.cursor() as cur:
                cur.executemany(query, rows)

    def _execute(self, statement: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self._run(_pyformat(statement), params)

    def _executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        with self._together():
            self._send_many(_pyformat(statement), rows)

    def _apply(self, steps: Sequence[Step]) -> None:
        self._writable()
        self._waiting += [(_pyformat(statement), rows) for statement, rows in steps]

    def commit(self) -> None:
        """Send the waiting writes, the ledger rows, the events and ``COMMIT`` in one round
        trip. The ledger rows and events go last, so that their numbers are drawn while this
        transaction holds every row lock it takes (a later writer of the same position or
        stream draws larger ones)."""
        if self._begun or self._waiting or self._ledger or self._events:
            with self._together():
                self._write_buffered()
                self._c.execute("COMMIT")

    def _body(self, value: object) -> Jsonb:
        # The converter has encoded the document already: JSONB takes the text as is.
        return Jsonb(dump(value), dumps=str)

    def _time(self, moment: datetime) -> datetime:
        return moment

    def _lock(self, for_update: bool) -> str:
        if not for_update:
            return ""
        self._writable()
        return " FOR UPDATE"

    def _write_ledger(self, movement: Movement) -> None:
        self._ledger.append(movement)  # numbered and written by commit()

    # -- rows this transaction has locked ----------------------------------------------------
    def _remember(self, table: str, ident: str, version: int, changed_us: int) -> None:
        self._locked[(table, ident)] = (version, changed_us)

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
        self._writable()
        at_us = micros(at)
        locked = self._locked.get((table, ident))
        if locked is None or locked[0] != version - 1:
            super()._versioned_update(
                table, what, ident, version=version, at=at, columns=columns, also=also
            )
        elif locked[1] > at_us + self._tolerance_us:
            raise ClockWentBackwards(at, from_micros(locked[1]))
        else:
            # Decided: the row is locked at version - 1. The write waits; the stream guard
            # (no smaller transaction id writes after a larger one) stays on the server.
            setters = "".join(f"{name} = %s, " for name, _ in columns)
            query = (
                f"UPDATE {table} SET {setters}version = CASE WHEN version = %s "
                f"AND writer <= {_XID} THEN %s END, changed_us = %s, writer = {_XID} "
                "WHERE id = %s"
            )
            row = (*(value for _, value in columns), version - 1, version, at_us, ident)
            self._waiting.append((query, [row]))
            self._apply(also)
        self._locked[(table, ident)] = (version, at_us)

    def move(self, movement: Movement, *, keep: int = 0) -> Position:
        key = (movement.location, movement.sku)
        held = self._held.get(key)
        if held is None:
            return super().move(movement, keep=keep)
        self._writable()
        before, changed = held
        at = micros(movement.at)
        if changed > at + self._tolerance_us:
            raise ClockWentBackwards(movement.at, from_micros(changed))
        after = before.apply(movement.kind, movement.quantity)
        if (refused := refusal(movement, after, keep)) is not None:
            raise refused
        now = max(changed, at)
        counters = [getattr(after, name) for name in COUNTERS]
        row = (
            *(getattr(before, name) for name in COUNTERS),
            changed,
            *counters,
            now,
            movement.sku,
            movement.location,
        )
        self._waiting.append((_SET_POSITION, [row]))
        self._held[key] = (after, now)
        self._write_ledger(movement)
        return after

    # -- positions ---------------------------------------------------------------------------
    def positions(
        self,
        keys: Collection[PositionKey] | None = None,
        *,
        sku: str | None = None,
        location: str | None = None,
        for_update: bool = False,
    ) -> list[Position]:
        if keys is not None:
            ordered = sorted_keys(keys)
            if not ordered:
                return []
            if (
                for_update
                and sku is None
                and location is None
                and self._held.keys() >= set(ordered)
            ):
                return [self._held[k][0] for k in ordered]  # locked, as this transaction left them
        if for_update and keys is not None and sku is None and location is None:
            self._writable()
            with self._together():
                cursor = self._lock_positions(ordered)
            return self._hold(cursor)
        where, params = ["TRUE"], list[object]()
        if keys is not None:
            skus, locations = _unnest(ordered)
            where.append(_KEYS)
            params += [skus, skus, locations]
        if sku is not None:
            where.append("sku = %s")
            params.append(sku)
        if location is not None:
            where.append("location = %s")
            params.append(location)
        query = (
            f"SELECT {_POSITION_COLUMNS}, changed_us FROM position WHERE {' AND '.join(where)} "
            "ORDER BY sku, location"
        )
        if not for_update:
            return [position_from_row(row[:-1]) for row in self._run(query, params)]
        self._writable()
        return self._hold(self._run(query + " FOR UPDATE", params))

    def _lock_positions(self, ordered: Sequence[PositionKey]) -> psycopg.Cursor[Any]:
        """Lock the positions of ``ordered`` (in a pipeline block), absent ones included, in
        the canonical order: insert the missing ones first (they stay locked until commit),
        then lock the rest; the cursor gives ``(<position columns>, changed_us)``."""
        skus, locations = _unnest(ordered)
        self._c.execute(
            "INSERT INTO position (sku, location) "
            "SELECT * FROM unnest(%s::text[], %s::text[]) ORDER BY 1, 2 "
            "ON CONFLICT DO NOTHING",
            (skus, locations),
        )
        return self._c.execute(
            f"SELECT {_POSITION_COLUMNS}, changed_us FROM position WHERE {_KEYS} "
            "ORDER BY sku, location FOR UPDATE",
            (skus, skus, locations),
        )

    def _hold(self, rows: Iterable[Sequence[Any]]) -> list[Position]:
        """Positions just locked ``(<position columns>, changed_us)``, remembered."""
        found = []
        for row in rows:
            position = position_from_row(row[:-1])
            self._held[(position.location, position.sku)] = (position, row[-1])
            found.append(position)
        return found

    # -- reservations ------------------------------------------------------------------------
    def reservations(
        self, *, states: Collection[ReservationState] | None = None
    ) -> list[Reservation]:
        if states is None:
            rows = self._run("SELECT body FROM reservation ORDER BY id")
        else:
            rows = self._run(
                "SELECT body FROM reservation WHERE state = ANY(%s) ORDER BY id",
                ([s.value for s in states],),
            )
        return [load(row[0], Reservation) for row in rows]

    def due_reservations(
        self,
        now: datetime,
        *,
        states: Collection[ReservationState],
        keys: Collection[PositionKey] | None = None,
        for_update: bool = False,
        skip_locked: bool = False,
    ) -> list[Reservation]:
        """See the Store protocol. Locking the due holds of ``keys``, it locks the positions of
        ``keys`` too, after them and in the same round trip: every caller goes on to lock them
        (to decide on the stock the sweep left), and the lock order stays the canonical one
        (reservations, then positions)."""
        wanted = {s.value for s in states}
        if not wanted <= set(EXPIRING):
            raise StoreError(f"only {EXPIRING} reservations expire")
        # The literal states let the planner use the partial indexes on live rows:
        # reservation_due (every due hold) and reservation_line_due (the holds of a position, by
        # deadline). Finished reservations are in neither, so history never enters the plan.
        query = (
            "SELECT body, version, changed_us FROM reservation "
            "WHERE state IN ('HELD', 'READY') AND expires_us <= %s"
        )
        params: list[object] = [micros(now)]
        ordered: list[PositionKey] = []
        if keys is not None:
            ordered = sorted_keys(keys)
            if not ordered:
                return []
            query += (
                " AND id IN (SELECT l.reservation_id "
                "FROM unnest(%s::text[], %s::text[]) AS k (sku, location) "
                "JOIN reservation_line AS l ON l.sku = k.sku AND l.location = k.location "
                "WHERE l.sku = ANY(%s::text[]) "
                "AND l.state IN ('HELD', 'READY') AND l.expires_us <= %s)"
            )
            skus, locations = _unnest(ordered)
            params += [skus, locations, skus, micros(now)]
        query += " ORDER BY expires_us, id"
        if not for_update:
            rows = self._run(query, params).fetchall()
        else:
            self._writable()
            query += " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
            lock_positions = bool(ordered) and not skip_locked
            with self._together():
                cursor = self._c.execute(query, params)
                if lock_positions:
                    positions = self._lock_positions(ordered)
            rows = cursor.fetchall()
            if lock_positions:
                self._hold(positions)
        found = []
        for body, version, changed_us in rows:
            reservation = load(body, Reservation)
            if for_update:
                self._remember("reservation", reservation.id, version, changed_us)
            if reservation.state.value in wanted:
                found.append(reservation)
        return found

    # -- events ------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        self._writable()
        self._events.append(event)

    def _write_buffered(self) -> None:
        if self._ledger:
            with self._c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ledger (at, sku, location, kind, quantity, reference, key) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (m.at, m.sku, m.location, m.kind.value, m.quantity, m.reference, m.key)
                        for m in self._ledger
                    ],
                )
        if self._events:
            if len(self._events) >= EVENTS_PER_TRANSACTION:
                raise StoreError(
                    f"a unit of work may write at most {EVENTS_PER_TRANSACTION - 1} events"
                )
            with self._c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO event (seq, type, at, body) "
                    f"VALUES (({_XID} << {_PLACE_BITS}) + %s, %s, %s, %s)",
                    [
                        (n, type(e).__name__, e.at, self._body(e))
                        for n, e in enumerate(self._events)
                    ],
                )


class PostgresStore:
    """Everything the engine knows, in one PostgreSQL database, for many processes.

    Args:
        dsn: a libpq connection string or URI (``"postgresql://app@db/shop"``).
        schema: the PostgreSQL schema to keep the tables in (created if missing).
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens (per process).
        timeout: how long to wait for a connection from the pool.
        clock_tolerance: how far a command's clock may read behind the last change of a row it
            writes (the clocks of different machines, and the commit order of parallel
            commands, differ slightly).
        partitions: hash-partition the hot tables (``position``, ``ledger``,
            ``reservation_line``) by sku into this many partitions when the schema is created
            (PostgreSQL's native partitioning; see "Scale out across machines" in the docs).
            ``None`` (the default) creates plain tables and opens a schema of either layout; a
            number opens only a schema created with that many partitions.

    Raises:
        StoreError: the database cannot be reached or has a newer schema.
        InvalidInput: a bad schema name, pool size or number of partitions, or ``partitions``
            differs from the layout of the existing schema (a schema's layout is chosen once,
            when it is created).
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "omniorder",
        min_size: int = 1,
        max_size: int = 10,
        timeout: timedelta = timedelta(seconds=30),
        clock_tolerance: timedelta = timedelta(seconds=2),
        partitions: int | None = None,
    ) -> None:
        if not isinstance(dsn, str) or not dsn.strip() or "\x00" in dsn:
            raise InvalidInput("dsn must be a connection string", field="dsn", value=dsn)
        _check_schema(schema)
        checks.positive(min_size, "min_size")
        checks.positive(max_size, "max_size")
        if min_size > max_size:
            raise InvalidInput(
                "pool sizes must satisfy 1 <= min_size <= max_size",
                field="min_size",
                value=min_size,
            )
        checks.positive_duration(timeout, "timeout")
        if not isinstance(clock_tolerance, timedelta) or clock_tolerance < timedelta(0):
            raise InvalidInput(
                "clock_tolerance must be a timedelta of at least 0",
                field="clock_tolerance",
                value=clock_tolerance,
            )
        if partitions is not None:
            checks.positive(partitions, "partitions")
            if partitions > _MAX_PARTITIONS:
                raise InvalidInput(
                    f"at most {_MAX_PARTITIONS} partitions", field="partitions", value=partitions
                )
        self.dsn = dsn
        self.schema = schema
        self.partitions = partitions
        self.clock_tolerance = clock_tolerance
        self._sizes = (min_size, max_size)
        self._timeout = timeout.total_seconds()
        self._guard = threading.Lock()
        self._pool_pid: int | None = None
        self._pool_obj: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._closed = False
        self._migrate()

    # -- connections ---------------------------------------------------------------------------
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.execute("SET TIME ZONE 'UTC'")
        # Plan every execution of a prepared statement for its arguments and the tables as they
        # are now: a generic plan made while a table was small (a new store) would keep
        # scanning it sequentially for the life of the connection, however large it grew.
        conn.execute("SET plan_cache_mode TO force_custom_plan")
        # Autocommit: a unit of work sends BEGIN itself, in the same round trip as its first
        # statement (psycopg would send it alone and wait for it).

    def _pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._guard:
            if self._closed:
                raise StoreError("the store is closed")
            if self._pool_obj is None or self._pool_pid != os.getpid():
                # A pool must never cross fork(): the child opens its own and leaves the
                # parent's sockets alone.
                try:
                    self._pool_obj = ConnectionPool(
                        self.dsn,
                        min_size=self._sizes[0],
                        max_size=self._sizes[1],
                        timeout=self._timeout,
                        configure=self._configure,
                        open=True,
                        name=f"omniorder-{self.schema}",
                    )
                except psycopg.Error as error:
                    raise StoreError(f"cannot open a connection pool: {error}") from error
                self._pool_pid = os.getpid()
            return self._pool_obj

    def _migrate(self) -> None:
        steps = migrations("postgres")
        latest = steps[-1][0]
        try:
            with psycopg.connect(self.dsn, autocommit=False) as conn:
                row = conn.execute("SHOW max_identifier_length").fetchone()
                if row is not None and len(self.schema.encode()) > int(row[0]):
                    raise InvalidInput(
                        f"schema {self.schema!r} is longer than this server's identifiers "
                        f"({row[0]} bytes): PostgreSQL would shorten it",
                        field="schema",
                        value=self.schema,
                    )
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
                conn.execute(
                    sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema))
                )
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                current = 0 if row is None or row[0] is None else int(row[0])
                if current > latest:
                    raise StoreError(
                        f"schema {self.schema!r} is at version {current}; this omniorder knows "
                        f"{latest} at most: upgrade omniorder"
                    )
                for version, script in steps:
                    if version > current:
                        conn.execute(script)
                        conn.execute("INSERT INTO schema_version VALUES (%s)", (version,))
                        logger.info(
                            "omniorder PostgresStore: schema %s migrated to %d",
                            self.schema,
                            version,
                        )
                if self.partitions is not None:
                    self._lay_out(conn, created=current == 0)
                conn.commit()
        except psycopg.Error as error:
            raise StoreError(f"cannot prepare schema {self.schema!r}: {error}") from error

    def _lay_out(self, conn: psycopg.Connection[Any], *, created: bool) -> None:
        """Partition the hot tables of a schema just created, or check that an existing schema
        has the partitions asked for (a schema's layout never changes once it holds rows)."""
        assert self.partitions is not None
        if created:
            conn.execute(
                "SELECT set_config('omniorder.partitions', %s, true)", (str(self.partitions),)
            )
            conn.execute(_layout_script())
            logger.info(
                "omniorder PostgresStore: schema %s hash-partitioned by sku into %d",
                self.schema,
                self.partitions,
            )
            return
        found = dict(
            conn.execute(
                "SELECT t.name, count(h.inhrelid) FROM unnest(%s::text[]) AS t (name) "
                "LEFT JOIN pg_partitioned_table AS p ON p.partrelid = to_regclass(t.name) "
                "AND p.partstrat = 'h' "
                "LEFT JOIN pg_inherits AS h ON h.inhparent = p.partrelid GROUP BY t.name",
                (list(_HOT_TABLES),),
            ).fetchall()
        )
        if set(found.values()) != {self.partitions}:
            layout = ", ".join(f"{table}: {found.get(table, 0)}" for table in _HOT_TABLES)
            raise InvalidInput(
                f"schema {self.schema!r} has other hash partitions by sku ({layout}) than "
                f"the {self.partitions} asked for: a schema's layout is chosen when it is "
                "created (open it with partitions=None, or create a new schema)",
                field="partitions",
                value=self.partitions,
            )

    # -- the port --------------------------------------------------------------------------------
    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[_PgUnitOfWork]:
        """Open a transaction; see the Store protocol.

        Writes run in READ COMMITTED; a read-only unit of work is REPEATABLE READ, so everything
        it reads is one consistent snapshot.
        """
        pool = self._pool()
        try:
            conn = pool.getconn()
        except (PoolTimeout, psycopg.Error) as error:
            raise StoreError(f"no database connection: {error}") from error
        try:
            yield from self._transaction(conn, read_only=read_only)
        finally:
            pool.putconn(conn)

    def _transaction(
        self, conn: psycopg.Connection[Any], *, read_only: bool
    ) -> Iterator[_PgUnitOfWork]:
        uow = _PgUnitOfWork(conn, read_only=read_only, tolerance=self.clock_tolerance)
        try:
            yield uow
        except BaseException as error:
            _rollback(conn)
            if isinstance(error, psycopg.Error):
                raise _translate(error) from error
            raise
        try:
            self._commit(conn, uow)
        except _RETRYABLE as error:  # the transaction is over and did not commit
            _rollback(conn)
            raise _translate(error) from error
        except psycopg.OperationalError as error:
            raise CommitOutcomeUnknown(
                f"the connection failed while committing: {error}", None
            ) from error
        except psycopg.Error as error:
            _rollback(conn)
            raise _translate(error) from error

    def _commit(self, conn: psycopg.Connection[Any], uow: _PgUnitOfWork) -> None:
        """Send what waits and COMMIT (a seam: tests override it to lose the connection at this
        very moment)."""
        uow.commit()

    def close(self) -> None:
        """Close this process's pool; the store is unusable afterwards."""
        with self._guard:
            self._closed = True
            if self._pool_obj is not None and self._pool_pid == os.getpid():
                self._pool_obj.close()
            self._pool_obj = None

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"


@functools.cache
def _layout_script() -> str:
    folder = resources.files("omniorder.stores") / "schema" / "postgres" / "layout"
    return (folder / "hash_by_sku.sql").read_text(encoding="utf-8")


def _one_round_trip(conn: psycopg.Connection[Any]) -> AbstractContextManager[object]:
    """Send the statements of the block together and read their results once (libpq's pipeline
    mode; one by one where the linked libpq has none)."""
    return conn.pipeline() if _PIPELINES else nullcontext()


def _rollback(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.rollback()
    except psycopg.Error:  # the connection is gone; the pool discards it
        logger.debug("rollback on a broken connection", exc_info=True)


def _check_schema(schema: object) -> None:
    """A schema name PostgreSQL keeps as given: ASCII letters, digits and ``_``, not starting
    with a digit, at most 63 bytes (longer names are silently cut, so two long names could share
    one schema and one store would see another's stock)."""
    if not isinstance(schema, str) or not _SCHEMA.fullmatch(schema):
        raise InvalidInput(
            "schema must be ASCII letters, digits and _, not starting with a digit",
            field="schema",
            value=schema,
        )
    if len(schema) > _MAX_IDENTIFIER:
        raise InvalidInput(
            f"schema is {len(schema)} characters long; PostgreSQL keeps {_MAX_IDENTIFIER}",
            field="schema",
            value=schema,
        )


def _translate(error: psycopg.Error) -> Exception:
    if isinstance(error, _RETRYABLE):
        return ConcurrencyConflict(f"{type(error).__name__}: {error}")
    if isinstance(error, pg_errors.UniqueViolation):
        # Two transactions inserted the same new id (an order, a return) at once: the loser
        # runs again and then finds the winner's row, as it would have one moment later.
        return ConcurrencyConflict(f"inserted concurrently: {error}")
    if isinstance(error, pg_errors.NotNullViolation) and error.diag.column_name in _GUARDED:
        # A waiting write found its row other than this transaction read it (see _apply).
        return ConcurrencyConflict(f"a row changed after it was read: {error}")
    if isinstance(error, pg_errors.IntegrityError):
        return StoreError(f"a constraint refused the change: {error}")
    return StoreError(f"PostgreSQL: {type(error).__name__}: {error}")
