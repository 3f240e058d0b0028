"""History never enters a command's plan (issue 15): the SQL stores' statements use indexes whose
size depends on live rows, never a walk of the ledger, the events or finished reservations.

SQLite: every statement that receive, reserve, confirm, ship, release, expire_due and the reads
run is captured from the store's connection (``set_trace_callback``) after 2,000 finished
reservations of history and ``ANALYZE``, and ``EXPLAIN QUERY PLAN`` must show no ``SCAN`` of a
table (a ``SCAN`` of the statement's own constant list, ``VALUES`` or CTE ``k``, is fine).

PostgreSQL (skipped without ``OMNIORDER_TEST_POSTGRES_DSN``): the sweep's statements, exactly as
the store sends them, are ``EXPLAIN``-ed after seeding history and ``ANALYZE``: no ``Seq Scan`` on
``reservation`` or ``reservation_line``, and the lines are read through the live index; on plain
tables and on hot tables hash-partitioned by sku.

Both: a database written by the version 4 schema opens, is migrated (0005 backfills each line's
state and deadline; 0006 drops the store-wide rows) and works.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omniorder import Channel, Engine, ManualClock, Mode, SQLiteStore
from omniorder.model.reservation import ReservationState
from omniorder.stores import _sql
from omniorder.testing.network import STORE_1, STORE_2, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HISTORY = 2_000
WATCHED = ("reservation", "reservation_line", "ledger", "event", "idempotency", "position")
TTL = timedelta(minutes=5)


def _history(engine: Engine, count: int, *, keyed: bool = True) -> None:
    """``count`` finished reservations on one position (receive, reserve, confirm, ship), and a
    released one and an expired one."""
    for n in range(count):
        engine.receive(STORE_2, "sofa", 1, key=f"hr{n}" if keyed else None)
        held = engine.reserve(
            STORE_2,
            {"sofa": 1},
            channel=Channel.WEB,
            mode=Mode.SHIP,
            ttl=TTL,
            key=f"hh{n}" if keyed else None,
        )
        engine.confirm(held.id, key=f"hc{n}" if keyed else None)
        engine.ship(held.id, key=f"hs{n}" if keyed else None)
    engine.receive(STORE_2, "sofa", 10)
    released = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL)
    engine.release(released.id)
    engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL)


def _commands(engine: Engine, clock: ManualClock) -> None:
    """Every command the plans are checked for, one lapsed hold swept on the way."""
    engine.receive(STORE_2, "sofa", 5, key="k-receive")
    held = engine.reserve(
        STORE_2, {"sofa": 1}, channel=Channel.WEB, mode=Mode.SHIP, ttl=TTL, key="k-reserve"
    )
    engine.confirm(held.id, key="k-confirm")
    engine.ship(held.id, key="k-ship")
    other = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL, key="k-other")
    engine.release(other.id, key="k-release")
    engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=TTL)
    clock.advance(TTL * 2)  # the hold left by _history, and the lamp's, are now due
    engine.position(STORE_2, "sofa")
    engine.availability("sofa")
    engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL, key="k-sweeps")
    clock.advance(TTL * 2)
    assert engine.expire_due(key="k-expire")


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_engine(path: Path) -> tuple[SQLiteStore, Engine, ManualClock]:
    clock = ManualClock(START)
    store = SQLiteStore(path, synchronous="NORMAL")
    engine = Engine(sample_network(), store=store, clock=clock)
    engine.receive(STORE_1, "lamp", 10)
    return store, engine, clock


def _plan(conn: sqlite3.Connection, statement: str) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement)]


def _table_scans(plan: list[str]) -> list[str]:
    """The plan lines that walk a whole table or index (``SCAN x``), the constants aside."""
    return [
        line
        for line in plan
        if line.startswith("SCAN ") and "CONSTANT ROW" not in line and line != "SCAN k"
    ]


@pytest.fixture
def sqlite_history(tmp_path: Path) -> Iterator[tuple[SQLiteStore, Engine, ManualClock]]:
    store, engine, clock = _sqlite_engine(tmp_path / "plans.sqlite3")
    _history(engine, HISTORY)
    store._connection().execute("ANALYZE")
    yield store, engine, clock
    store.close()


def test_sqlite_commands_never_scan_a_table(
    sqlite_history: tuple[SQLiteStore, Engine, ManualClock],
) -> None:
    store, engine, clock = sqlite_history
    conn = store._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        _commands(engine, clock)
    finally:
        conn.set_trace_callback(None)
    checked, scans = 0, []
    for statement in statements:
        if not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", statement, re.IGNORECASE):
            continue  # BEGIN, COMMIT, PRAGMA
        plan = _plan(conn, statement)
        checked += 1
        scans += [(line, statement) for line in _table_scans(plan)]
    assert checked > 30
    assert not scans, "\n".join(f"{line}: {statement}" for line, statement in scans)
    sweeps = [s for s in statements if "reservation_line AS l" in s]
    assert sweeps
    for sweep in sweeps:
        assert any("USING INDEX reservation_line_due" in line for line in _plan(conn, sweep))


def test_sqlite_sweep_reads_only_live_lines(
    sqlite_history: tuple[SQLiteStore, Engine, ManualClock],
) -> None:
    """The sweep on a position with 2,000 finished reservations touches its live lines only:
    SQLite's virtual-machine step count stays far below the history's size."""
    store, _, clock = sqlite_history
    clock.advance(TTL * 2)
    conn = store._connection()
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        with store.unit_of_work(read_only=True) as uow:
            due = uow.due_reservations(
                clock.now(), states=(ReservationState.HELD,), keys=[(STORE_2, "sofa")]
            )
    finally:
        conn.set_progress_handler(None, 1)
    assert len(due) == 1
    assert steps < HISTORY // 4


def _schema_4(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new database at schema version 4, made by the store's own migrations."""
    with monkeypatch.context() as patch:
        patch.setattr(
            "omniorder.stores.sqlite.migrations",
            lambda dialect: [step for step in _sql.migrations(dialect) if step[0] <= 4],
        )
        SQLiteStore(path).close()


def test_sqlite_store_written_at_schema_4_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows: written by the engine, then copied into a version 4 database (its columns).
    source, engine, clock = _sqlite_engine(tmp_path / "source.sqlite3")
    _history(engine, 20)
    source.close()
    old = tmp_path / "old.sqlite3"
    _schema_4(old, monkeypatch)
    conn = sqlite3.connect(old, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)
    conn.execute("ATTACH DATABASE ? AS source", (str(tmp_path / "source.sqlite3"),))
    tables = [
        row[0] for row in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")
    ]
    for table in tables:
        if table == "meta":  # the store-wide clock row of old schemas: gone since version 6
            continue
        columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})"))
        conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM source.{table}")
    conn.execute("DETACH DATABASE source")
    assert "state" not in {row[1] for row in conn.execute("PRAGMA table_info(reservation_line)")}
    conn.close()

    store = SQLiteStore(old)
    try:
        raw = store._connection()
        assert raw.execute("PRAGMA user_version").fetchone() == (_sql.migrations("sqlite")[-1][0],)
        states = dict(
            raw.execute(
                "SELECT r.state, count(*) FROM reservation_line AS l "
                "JOIN reservation AS r ON r.id = l.reservation_id "
                "WHERE l.state IS r.state AND l.expires_us IS r.expires_us GROUP BY r.state"
            ).fetchall()
        )
        assert states == {"FULFILLED": 20, "RELEASED": 1, "HELD": 1}
        assert raw.execute("SELECT count(*) FROM reservation_line").fetchone() == (22,)
        engine = Engine(sample_network(), store=store, clock=clock)
        before = engine.position(STORE_2, "sofa")
        clock.advance(TTL * 2)  # the live hold lapses: the sweep must find it through 0005's index
        held = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL)
        after = engine.position(STORE_2, "sofa")
        assert after.reserved == before.reserved == 1
        assert engine.reservation(held.id).state is ReservationState.HELD
        assert [e for e in engine.events() if type(e).__name__ == "ReservationExpired"]
        assert engine.verify() == []
    finally:
        store.close()


# -- PostgreSQL -------------------------------------------------------------------------------


class _Recorder:
    """A connection stand-in that records each statement (and its parameters) it forwards."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seen: list[tuple[str, Any]] = []

    def execute(self, query: Any, params: Any = None) -> Any:
        self.seen.append((query, params))
        return self.conn.execute(query, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


@pytest.fixture(params=[None, 4], ids=["plain", "hash-partitioned"])
def pg(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A store on plain tables, and one whose hot tables are hash-partitioned by sku (their
    partitions' indexes are named after their parents': ``reservation_line_due_p0``)."""
    from omniorder.stores.postgres import PostgresStore

    dsn = postgres_dsn()
    schema = new_schema()
    store = PostgresStore(dsn, schema=schema, partitions=request.param)
    try:
        yield store
    finally:
        store.close()
        drop_schema(dsn, schema)


def _pg_seed(store: Any, engine: Engine, *, analyze: bool) -> None:
    """History: a few reservations through the engine, then 2,000 finished ones (and their
    ledger rows) copied in by SQL, then ``ANALYZE`` (or stale statistics: ``analyze=False``)."""
    _history(engine, 5, keyed=False)
    with store.unit_of_work() as uow:
        uow._run(
            "INSERT INTO reservation (id, location, state, expires_us, version, body) "
            "SELECT r.id || '-' || g, r.location, r.state, r.expires_us, r.version, r.body "
            "FROM reservation AS r, generate_series(1, %s) AS g WHERE r.state = 'FULFILLED'",
            (HISTORY // 5,),
        )
        uow._run(
            "INSERT INTO reservation_line (sku, location, reservation_id, state, expires_us) "
            "SELECT l.sku, l.location, l.reservation_id || '-' || g, l.state, l.expires_us "
            "FROM reservation_line AS l, generate_series(1, %s) AS g WHERE l.state = 'FULFILLED'",
            (HISTORY // 5,),
        )
        uow._run(
            "INSERT INTO ledger (seq, at, sku, location, kind, quantity, reference, key) "
            "SELECT 1000000 + g, at, sku, location, kind, quantity, reference, NULL "
            "FROM ledger, generate_series(1, %s) AS g WHERE seq = 1",
            (HISTORY * 4,),
        )
    if analyze:
        with store.unit_of_work() as uow:
            uow._run("ANALYZE")


def _pg_plan(conn: Any, query: Any, params: Any) -> list[str]:
    return [row[0] for row in conn.execute(b"EXPLAIN " + _bytes(conn, query), params)]


def _bytes(conn: Any, query: Any) -> bytes:
    return query.encode() if isinstance(query, str) else query.as_bytes(conn)


@pytest.mark.parametrize("analyze", [True, False], ids=["analyzed", "stale-statistics"])
def test_postgres_sweep_uses_the_live_indexes(pg: Any, analyze: bool) -> None:
    """The sweep's statements after history, with fresh statistics (``ANALYZE``) and with the
    statistics migration 0005 took on empty tables: no ``Seq Scan`` on the reservation tables,
    and the lines never read through their primary key (every line of the position's history).
    The tables are small, so the check is run twice: as the planner chooses, and with
    ``enable_seqscan = off`` (which only shows that a usable index exists); the first must
    already be free of table scans."""
    clock = ManualClock(START)
    engine = Engine(sample_network(), store=pg, clock=clock)
    engine.receive(STORE_1, "lamp", 10)
    _pg_seed(pg, engine, analyze=analyze)
    clock.advance(TTL * 2)
    with pg.unit_of_work(read_only=True) as uow:
        empty = {
            str(name)
            for (name,) in uow._run(
                "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
                "AND relkind = 'r' AND relname LIKE 'reservation_line_p%%'",
                (pg.schema,),
            )
            if uow._run(f"SELECT NOT EXISTS (SELECT FROM {name})").fetchone()[0]
        }
    for seqscan in ("on", "off"):
        with pg.unit_of_work() as uow:
            uow._run(f"SET LOCAL enable_seqscan = {seqscan}")
            recorder = _Recorder(uow._c)
            uow._c = recorder
            keyed = uow.due_reservations(
                clock.now(),
                states=(ReservationState.HELD,),
                keys=[(STORE_2, "sofa"), (STORE_1, "lamp")],
                for_update=True,
            )
            everywhere = uow.due_reservations(
                clock.now(),
                states=(ReservationState.HELD, ReservationState.READY),
                for_update=True,
                skip_locked=True,
            )
            uow._c = recorder.conn
            assert len(keyed) == len(everywhere) == 1
            # (locking a position's holds locks its positions too, in the same round trip)
            plans = [
                _pg_plan(recorder.conn, q, p)
                for q, p in recorder.seen
                if str(q).startswith("SELECT body")
            ]
        assert len(plans) == 2
        text = "\n".join(line for plan in plans for line in plan)
        # A partition with no line at all (a sku with no hold) is read as it is: nothing.
        scanned = set(re.findall(r"Seq Scan on (reservation\w*)", text)) - empty
        assert not scanned, text
        keyed_plan = "\n".join(plans[0])
        assert "reservation_line_due" in keyed_plan or "reservation_due" in keyed_plan, keyed_plan
        assert "reservation_line_pkey" not in keyed_plan, keyed_plan


def test_postgres_store_written_at_schema_4_migrates(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from psycopg import sql

    from omniorder.stores.postgres import PostgresStore

    dsn = postgres_dsn()
    source_schema, old_schema = new_schema(), new_schema()
    try:
        clock = ManualClock(START)
        source = PostgresStore(dsn, schema=source_schema)
        engine = Engine(sample_network(), store=source, clock=clock)
        _history(engine, 5, keyed=False)
        source.close()
        with monkeypatch.context() as patch:
            patch.setattr(
                "omniorder.stores.postgres.migrations",
                lambda dialect: [step for step in _sql.migrations(dialect) if step[0] <= 4],
            )
            PostgresStore(dsn, schema=old_schema).close()
        with psycopg.connect(dsn) as conn:
            # counter and meta: the store-wide rows of old schemas, gone since version 6
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name NOT IN ('schema_version', 'counter', 'meta')",
                (old_schema,),
            ).fetchall()
            # reservation_line refers to reservation: copy it last.
            for (table,) in sorted(tables, key=lambda row: (row[0] == "reservation_line", row)):
                columns = sql.SQL(", ").join(
                    sql.Identifier(row[0])
                    for row in conn.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = %s AND table_name = %s",
                        (old_schema, table),
                    )
                )
                conn.execute(
                    sql.SQL("INSERT INTO {}.{} ({}) SELECT {} FROM {}.{}").format(
                        sql.Identifier(old_schema),
                        sql.Identifier(table),
                        columns,
                        columns,
                        sql.Identifier(source_schema),
                        sql.Identifier(table),
                    )
                )
            version = sql.SQL("SELECT max(version) FROM {}.schema_version")
            assert conn.execute(version.format(sql.Identifier(old_schema))).fetchone() == (4,)
        store = PostgresStore(dsn, schema=old_schema)
        try:
            with store.unit_of_work() as uow:
                states = dict(
                    uow._run(
                        "SELECT r.state, count(*) FROM reservation_line AS l "
                        "JOIN reservation AS r ON r.id = l.reservation_id "
                        "WHERE l.state = r.state "
                        "AND l.expires_us IS NOT DISTINCT FROM r.expires_us GROUP BY r.state"
                    ).fetchall()
                )
            assert states == {"FULFILLED": 5, "RELEASED": 1, "HELD": 1}
            engine = Engine(sample_network(), store=store, clock=clock)
            before = engine.position(STORE_2, "sofa")
            clock.advance(TTL * 2)
            held = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=TTL)
            assert engine.position(STORE_2, "sofa").reserved == before.reserved == 1
            assert engine.reservation(held.id).state is ReservationState.HELD
            assert [e for e in engine.events() if type(e).__name__ == "ReservationExpired"]
            assert engine.verify() == []
        finally:
            store.close()
    finally:
        drop_schema(dsn, source_schema)
        drop_schema(dsn, old_schema)


def test_postgres_plans_every_execution_for_the_tables_as_they_are(pg: Any) -> None:
    """psycopg prepares a statement run five times; PostgreSQL then keeps a generic plan if it
    looks no costlier, and one made while a new store's tables were empty scans them
    sequentially for the life of the connection (a keyed reserve, confirm and ship went from
    8 to 20 ms after 10,000 ledger rows: 40 million reservation rows read by 22,000 scans).
    Every connection of the pool plans each execution for the tables as they are now."""
    with pg.unit_of_work(read_only=True) as uow:
        assert uow._run("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
