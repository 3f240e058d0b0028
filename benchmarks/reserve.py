"""Write path against raw (issue 15): reserve beside the same check-and-hold written by hand.

    python benchmarks/reserve.py [--reserves 2000] [--rounds 5] [--postgres DSN]
                                 [--processes 8] [--only sqlite|postgres]

The raw baseline is the check-and-hold written by hand at the lowest level, on the library's own
schema (a file or PostgreSQL schema made by the store's migrations, then written directly):
one transaction holding a conditional ``UPDATE position SET reserved = reserved + 1 WHERE ... AND
on_hand - reserved - committed >= 1``, then INSERTs of the reservation row (a compact JSON body of
the same facts), its line, the ledger row and the event row, and COMMIT. On SQLite that is one
``sqlite3`` connection (``BEGIN IMMEDIATE``, WAL, synchronous=FULL, foreign keys on: as the
store); on PostgreSQL one ``psycopg`` connection per client in READ COMMITTED, numbering rows as
schema 6 does (ledger from ``ledger_seq``, events ``xid * 2**20 + n``). Its confirm is the same by
hand: the reservation and its line updated on condition of being HELD and not expired, the
position moved from reserved to committed, a ledger row, an event, COMMIT.

What it prints, as one table (measure | omniorder | raw | ratio | goal):

* throughput (reserves, or reserve+confirm pairs, per second; the median of ``--rounds`` rounds,
  library and raw measured in alternation) on SQLite FULL with one thread, and on PostgreSQL with
  one client, ``--processes`` processes on disjoint positions (each its own sku), and as many on
  one hot position (plenty of stock); ratio = omniorder / raw, so the issue's hot-row goal
  ("no worse than raw's own hot-row figure / 2") reads as ratio >= 0.5;
* SQLite statements per reserve, confirm and keyed reserve (``set_trace_callback`` on the store's
  connection: every statement run, BEGIN and COMMIT included), WAL pages written per reserve
  commit (WAL frames counted by ``PRAGMA wal_checkpoint`` after ``--reserves`` reserves with the
  automatic checkpoint off) and database file bytes per reserve after those reserves and a
  checkpoint;
* PostgreSQL round trips per reserve, confirm and keyed reserve, counted from libpq's protocol
  trace of the connection (``PGconn.trace``, Linux only): one round trip per ReadyForQuery the
  server sends, so psycopg's implicit BEGIN and the COMMIT each count one, and an ``executemany``
  in pipeline mode counts one; statements are the Execute and Query messages sent.

Each process opens its own store or connection after starting and warms up before it is timed;
the cyclic garbage collector is off while timing (as ``timeit``). Every run makes its own SQLite
files and PostgreSQL schemas and drops them. Times are wall-clock on a shared machine: read the
ratios, measured in the same run, not the absolute figures.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from omniorder import Channel, Engine, Mode, SQLiteStore
from omniorder.testing.network import STORE_2, sample_network

LOCATION = STORE_2
TTL = timedelta(days=1)  # nothing falls due while the benchmark runs
STOCK = 10**9
WARMUP = 20
HOT = "hot"


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def sku_of(process: int) -> str:
    return f"sku-{process}"


# -- the two writers -------------------------------------------------------------------------
class Writer(Protocol):
    """A reserve of one unit and its confirm, by the library or by hand."""

    def reserve(self, sku: str, key: str | None = None) -> str: ...

    def confirm(self, reservation_id: str, sku: str, key: str | None = None) -> None: ...

    def close(self) -> None: ...


class Library:
    """The engine on a store."""

    def __init__(self, engine: Engine, close: Callable[[], None]) -> None:
        self.engine = engine
        self._close = close

    def reserve(self, sku: str, key: str | None = None) -> str:
        held = self.engine.reserve(
            LOCATION, {sku: 1}, channel=Channel.WEB, mode=Mode.SHIP, ttl=TTL, key=key
        )
        return held.id

    def confirm(self, reservation_id: str, sku: str, key: str | None = None) -> None:
        self.engine.confirm(reservation_id, key=key)

    def close(self) -> None:
        self._close()


def _bodies(rid: str, sku: str, now: datetime, state: str) -> tuple[str, str]:
    """The reservation and event bodies a hand-written application would store: the same facts,
    compact JSON."""
    expires = None if state != "HELD" else (now + TTL).isoformat()
    reservation = {
        "id": rid,
        "location": LOCATION,
        "lines": [{"sku": sku, "quantity": 1}],
        "channel": "web",
        "mode": "ship",
        "state": state,
        "at": now.isoformat(),
        "expires_at": expires,
    }
    event = {
        "type": "ReservationHeld" if state == "HELD" else "ReservationConfirmed",
        "reservation_id": rid,
        "location": LOCATION,
        "lines": [{"sku": sku, "quantity": 1}],
        "at": now.isoformat(),
        "expires_at": expires,
    }
    return json.dumps(reservation, separators=(",", ":")), json.dumps(event, separators=(",", ":"))


class RawSQLite:
    """The check-and-hold by hand on one ``sqlite3`` connection, on the library's schema."""

    def __init__(self, path: Path) -> None:
        SQLiteStore(path).close()  # the library's own schema, made by its migrations
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 30000")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def stock(self, sku: str) -> None:
        self.conn.execute(
            "INSERT INTO position (sku, location, on_hand) VALUES (?, ?, ?)",
            (sku, LOCATION, STOCK),
        )

    def reserve(self, sku: str, key: str | None = None) -> str:
        c, now, rid = self.conn, datetime.now(UTC), f"res_{uuid.uuid4().hex}"
        body, event = _bodies(rid, sku, now, "HELD")
        expires_us = micros(now + TTL)
        c.execute("BEGIN IMMEDIATE")
        if (
            c.execute(
                "UPDATE position SET reserved = reserved + 1 WHERE sku = ? AND location = ? "
                "AND on_hand - reserved - committed >= 1",
                (sku, LOCATION),
            ).rowcount
            != 1
        ):
            c.execute("ROLLBACK")
            raise RuntimeError("sold out")
        c.execute(
            "INSERT INTO reservation (id, location, state, expires_us, version, body) "
            "VALUES (?, ?, 'HELD', ?, 1, ?)",
            (rid, LOCATION, expires_us, body),
        )
        c.execute(
            "INSERT INTO reservation_line (sku, location, reservation_id, state, expires_us) "
            "VALUES (?, ?, ?, 'HELD', ?)",
            (sku, LOCATION, rid, expires_us),
        )
        c.execute(
            "INSERT INTO ledger (at, sku, location, kind, quantity, reference, key) "
            "VALUES (?, ?, ?, 'held', 1, ?, ?)",
            (now.isoformat(), sku, LOCATION, rid, key),
        )
        c.execute(
            "INSERT INTO event (type, at, body) VALUES ('ReservationHeld', ?, ?)",
            (now.isoformat(), event),
        )
        c.execute("COMMIT")
        return rid

    def confirm(self, reservation_id: str, sku: str, key: str | None = None) -> None:
        c, now = self.conn, datetime.now(UTC)
        body, event = _bodies(reservation_id, sku, now, "CONFIRMED")
        c.execute("BEGIN IMMEDIATE")
        if (
            c.execute(
                "UPDATE reservation SET state = 'CONFIRMED', expires_us = NULL, "
                "version = version + 1, body = ? WHERE id = ? AND state = 'HELD' "
                "AND expires_us > ?",
                (body, reservation_id, micros(now)),
            ).rowcount
            != 1
        ):
            c.execute("ROLLBACK")
            raise RuntimeError("not held")
        c.execute(
            "UPDATE reservation_line SET state = 'CONFIRMED', expires_us = NULL "
            "WHERE sku = ? AND location = ? AND reservation_id = ?",
            (sku, LOCATION, reservation_id),
        )
        c.execute(
            "UPDATE position SET reserved = reserved - 1, committed = committed + 1 "
            "WHERE sku = ? AND location = ?",
            (sku, LOCATION),
        )
        c.execute(
            "INSERT INTO ledger (at, sku, location, kind, quantity, reference, key) "
            "VALUES (?, ?, ?, 'confirmed', 1, ?, ?)",
            (now.isoformat(), sku, LOCATION, reservation_id, key),
        )
        c.execute(
            "INSERT INTO event (type, at, body) VALUES ('ReservationConfirmed', ?, ?)",
            (now.isoformat(), event),
        )
        c.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class RawPostgres:
    """The check-and-hold by hand on one ``psycopg`` connection (READ COMMITTED)."""

    def __init__(self, dsn: str, schema: str) -> None:
        import psycopg
        from psycopg import sql

        self.conn: Any = psycopg.connect(dsn, autocommit=False)
        self.conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        self.conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        self.conn.execute("SET TIME ZONE 'UTC'")
        self.conn.commit()

    def reserve(self, sku: str, key: str | None = None) -> str:
        c, now, rid = self.conn, datetime.now(UTC), f"res_{uuid.uuid4().hex}"
        body, event = _bodies(rid, sku, now, "HELD")
        expires_us = micros(now + TTL)
        if (
            c.execute(
                "UPDATE position SET reserved = reserved + 1 WHERE sku = %s AND location = %s "
                "AND on_hand - reserved - committed >= 1",
                (sku, LOCATION),
            ).rowcount
            != 1
        ):
            c.rollback()
            raise RuntimeError("sold out")
        c.execute(
            "INSERT INTO reservation (id, location, state, expires_us, version, body) "
            "VALUES (%s, %s, 'HELD', %s, 1, %s::jsonb)",
            (rid, LOCATION, expires_us, body),
        )
        c.execute(
            "INSERT INTO reservation_line (sku, location, reservation_id, state, expires_us) "
            "VALUES (%s, %s, %s, 'HELD', %s)",
            (sku, LOCATION, rid, expires_us),
        )
        c.execute(
            "INSERT INTO ledger (seq, at, sku, location, kind, quantity, reference, key) "
            "VALUES (nextval('ledger_seq'), %s, %s, %s, 'held', 1, %s, %s)",
            (now, sku, LOCATION, rid, key),
        )
        c.execute(
            "INSERT INTO event (seq, type, at, body) VALUES "
            "(pg_current_xact_id()::text::bigint << 20, 'ReservationHeld', %s, %s::jsonb)",
            (now, event),
        )
        c.commit()
        return rid

    def confirm(self, reservation_id: str, sku: str, key: str | None = None) -> None:
        c, now = self.conn, datetime.now(UTC)
        body, event = _bodies(reservation_id, sku, now, "CONFIRMED")
        if (
            c.execute(
                "UPDATE reservation SET state = 'CONFIRMED', expires_us = NULL, "
                "version = version + 1, body = %s::jsonb WHERE id = %s AND state = 'HELD' "
                "AND expires_us > %s",
                (body, reservation_id, micros(now)),
            ).rowcount
            != 1
        ):
            c.rollback()
            raise RuntimeError("not held")
        c.execute(
            "UPDATE reservation_line SET state = 'CONFIRMED', expires_us = NULL "
            "WHERE sku = %s AND location = %s AND reservation_id = %s",
            (sku, LOCATION, reservation_id),
        )
        c.execute(
            "UPDATE position SET reserved = reserved - 1, committed = committed + 1 "
            "WHERE sku = %s AND location = %s",
            (sku, LOCATION),
        )
        c.execute(
            "INSERT INTO ledger (seq, at, sku, location, kind, quantity, reference, key) "
            "VALUES (nextval('ledger_seq'), %s, %s, %s, 'confirmed', 1, %s, %s)",
            (now, sku, LOCATION, reservation_id, key),
        )
        c.execute(
            "INSERT INTO event (seq, type, at, body) VALUES "
            "(pg_current_xact_id()::text::bigint << 20, 'ReservationConfirmed', %s, %s::jsonb)",
            (now, event),
        )
        c.commit()

    def close(self) -> None:
        self.conn.close()


# -- measuring -------------------------------------------------------------------------------
Op = Callable[[Writer, str, int], None]


def reserve_op(w: Writer, sku: str, n: int) -> None:
    w.reserve(sku)


def pair_op(w: Writer, sku: str, n: int) -> None:
    w.confirm(w.reserve(sku), sku)


def keyed_op(w: Writer, sku: str, n: int) -> None:
    w.reserve(sku, key=f"k{uuid.uuid4().hex}")


@contextmanager
def gc_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def timed(w: Writer, op: Op, sku: str, ops: int) -> tuple[float, float]:
    """(start, end) of ``ops`` calls of ``op`` on ``sku``, from one monotonic clock."""
    with gc_off():
        started = time.perf_counter()
        for n in range(ops):
            op(w, sku, n)
        return started, time.perf_counter()


def count_sqlite(conn: sqlite3.Connection, run: Callable[[], object], n: int) -> float:
    """Statements ``run`` executes on ``conn``, per call (BEGIN and COMMIT included)."""
    seen = 0

    def trace(_: str) -> None:
        nonlocal seen
        seen += 1

    conn.set_trace_callback(trace)
    try:
        for _ in range(n):
            run()
    finally:
        conn.set_trace_callback(None)
    return seen / n


def sqlite_storage(
    conn: sqlite3.Connection, path: Path, run: Callable[[], object], n: int
) -> tuple[float, float]:
    """(WAL pages written per call, database bytes per call after a checkpoint) of ``run``."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.stat().st_size
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        for _ in range(n):
            run()
        # PASSIVE reports the frames in the WAL (TRUNCATE would report the emptied file).
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.execute("PRAGMA wal_autocheckpoint = 1000")
    return frames / n, (path.stat().st_size - before) / n


def count_postgres(pgconn: Any, run: Callable[[], object], n: int) -> tuple[float, float]:
    """(round trips, statements) per call of ``run``, from libpq's trace of ``pgconn``."""
    from psycopg import pq

    with tempfile.TemporaryDirectory(prefix="omniorder-trace-") as folder:
        path = Path(folder) / "trace"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        pgconn.trace(fd)
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            for _ in range(n):
                run()
        finally:
            pgconn.untrace()  # flushes the stream
            os.close(fd)
        messages = [
            line.split("\t")[:3]
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        ]
    waits = sum(1 for m in messages if m[0] == "B" and m[2] == "ReadyForQuery")
    sent = sum(1 for m in messages if m[0] == "F" and m[2] in ("Execute", "Query"))
    return waits / n, sent / n


@dataclass
class Row:
    measure: str
    lib: float
    raw: float
    goal: str = ""
    """``">= x"``: on the ratio; ``"<= x"``: on omniorder's figure."""
    unit: str = ""

    def cells(self) -> list[str]:
        ratio = self.lib / self.raw if self.raw else float("nan")
        fmt = "{:.0f}" if self.unit == "/s" or self.lib >= 100 else "{:.1f}"
        verdict = ""
        if self.goal:
            bound = float(self.goal.split()[1])
            ok = ratio >= bound if self.goal.startswith(">=") else self.lib <= bound
            verdict = f"{self.goal} {'ok' if ok else 'MISS'}"
        return [
            self.measure,
            fmt.format(self.lib) + self.unit,
            fmt.format(self.raw) + self.unit,
            f"{ratio:.2f}",
            verdict,
        ]


def show(rows: list[Row]) -> None:
    head = ["measure", "omniorder", "raw", "ratio", "goal"]
    table = [head, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for n, line in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


# -- SQLite ----------------------------------------------------------------------------------
def measure_sqlite(args: argparse.Namespace) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="omniorder-reserve-"))
    store = SQLiteStore(folder / "lib.sqlite3", synchronous="FULL")
    raw = RawSQLite(folder / "raw.sqlite3")
    try:
        engine = Engine(sample_network(), store=store)
        engine.receive(LOCATION, "sofa", STOCK)
        raw.stock("sofa")
        lib = Library(engine, store.close)
        conn = store._connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        print(f"SQLite {sqlite3.sqlite_version}, omniorder schema {version}")
        for w in (lib, raw):
            for n in range(WARMUP):
                pair_op(w, "sofa", n)
        n = args.reserves
        rows: list[Row] = []
        counts: dict[str, tuple[float, float]] = {}
        for name, op in (("reserve", reserve_op), ("keyed reserve", keyed_op)):
            counts[name] = (
                count_sqlite(conn, functools.partial(op, lib, "sofa", 0), n // 10),
                count_sqlite(raw.conn, functools.partial(op, raw, "sofa", 0), n // 10),
            )
        held_lib = [lib.reserve("sofa") for _ in range(n // 10)]
        held_raw = [raw.reserve("sofa") for _ in range(n // 10)]
        counts["confirm"] = (
            count_sqlite(conn, lambda: lib.confirm(held_lib.pop(), "sofa"), len(held_lib)),
            count_sqlite(raw.conn, lambda: raw.confirm(held_raw.pop(), "sofa"), len(held_raw)),
        )
        pages_lib, bytes_lib = sqlite_storage(conn, store.path, lambda: lib.reserve("sofa"), n)
        pages_raw, bytes_raw = sqlite_storage(raw.conn, raw.path, lambda: raw.reserve("sofa"), n)

        times: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for case, op, ops in (("reserve", reserve_op, n), ("pair", pair_op, n // 2)):
                for kind, w in (("lib", lib), ("raw", raw)):
                    started, ended = timed(w, op, "sofa", ops)
                    times.setdefault(f"{case}.{kind}", []).append(ops / (ended - started))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append(
            Row(
                "SQLite FULL reserve, 1 thread",
                med["reserve.lib"],
                med["reserve.raw"],
                ">= 0.7",
                "/s",
            )
        )
        rows.append(
            Row(
                "SQLite FULL reserve+confirm, 1 thread", med["pair.lib"], med["pair.raw"], unit="/s"
            )
        )
        for name in ("reserve", "confirm", "keyed reserve"):
            rows.append(Row(f"SQLite statements per {name}", *counts[name]))
        rows.append(Row("SQLite WAL pages per reserve commit", pages_lib, pages_raw))
        rows.append(Row(f"SQLite file bytes per reserve ({n})", bytes_lib, bytes_raw, "<= 400"))
        return rows
    finally:
        store.close()
        raw.close()
        shutil.rmtree(folder, ignore_errors=True)


# -- PostgreSQL ------------------------------------------------------------------------------
def _pg_writer(kind: str, dsn: str, schema: str) -> Writer:
    if kind == "raw":
        return RawPostgres(dsn, schema)
    from omniorder.stores.postgres import PostgresStore

    store = PostgresStore(dsn, schema=schema, min_size=1, max_size=1)
    return Library(Engine(sample_network(), store=store), store.close)


def _serve(kind: str, dsn: str, schema: str, skus: list[str], pipe: Connection) -> None:
    """A worker process: its own store or connection, warmed up on every position it will
    write, then timed runs on the parent's signal until it sends ``None``."""
    writer = _pg_writer(kind, dsn, schema)
    try:
        for sku in skus:
            for n in range(WARMUP):
                pair_op(writer, sku, n)
        pipe.send("ready")
        while (job := pipe.recv()) is not None:
            sku, confirm, ops = job
            pipe.send("set")
            pipe.recv()  # go
            pipe.send(timed(writer, pair_op if confirm else reserve_op, sku, ops))
    finally:
        writer.close()


def run_together(pipes: list[Connection], skus: list[str], confirm: bool, ops: int) -> float:
    """Operations per second of ``pipes``' workers, each running ``ops`` on its sku at once."""
    for pipe, sku in zip(pipes, skus, strict=True):
        pipe.send((sku, confirm, ops))
    for pipe in pipes:
        pipe.recv()  # set
    for pipe in pipes:
        pipe.send("go")
    spans: list[tuple[float, float]] = [pipe.recv() for pipe in pipes]
    return ops * len(pipes) / (max(e for _, e in spans) - min(s for s, _ in spans))


def _drop(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def measure_postgres(args: argparse.Namespace) -> list[Row]:
    dsn, tag = args.postgres, uuid.uuid4().hex[:8]
    schemas = {"lib": f"omniorder_reserve_{tag}", "raw": f"omniorder_reserve_raw_{tag}"}
    try:
        counts = _pg_setup_and_count(args, schemas)
        rows = _pg_throughput(args, schemas)
    finally:
        for schema in schemas.values():
            _drop(dsn, schema)
    for name in ("reserve", "confirm", "keyed reserve"):
        lib, raw = counts["lib"][name][0], counts["raw"][name][0]
        goal = "" if name == "keyed reserve" else "<= 3"
        rows.append(Row(f"PostgreSQL round trips per {name}", lib, raw, goal))
    for name in ("reserve", "confirm", "keyed reserve"):
        lib, raw = counts["lib"][name][1], counts["raw"][name][1]
        rows.append(Row(f"PostgreSQL statements per {name}", lib, raw))
    return rows


def _pg_setup_and_count(
    args: argparse.Namespace, schemas: dict[str, str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Make both schemas (by the library's migrations) and their stock (through the engine, and
    by hand); count round trips and statements on one connection each."""
    import psycopg
    from psycopg import sql

    from omniorder.stores.postgres import PostgresStore

    dsn = args.postgres
    skus = [sku_of(i) for i in range(args.processes)] + [HOT]
    store = PostgresStore(dsn, schema=schemas["lib"], min_size=1, max_size=1)
    PostgresStore(dsn, schema=schemas["raw"]).close()
    engine = Engine(sample_network(), store=store)
    lib = Library(engine, store.close)
    try:
        for sku in skus:
            engine.receive(LOCATION, sku, STOCK)
        with psycopg.connect(dsn) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schemas["raw"])))
            version = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            conn.execute("CREATE SEQUENCE IF NOT EXISTS ledger_seq")  # schema 6 has it
            for sku in skus:
                conn.execute(
                    "INSERT INTO position (sku, location, on_hand) VALUES (%s, %s, %s)",
                    (sku, LOCATION, STOCK),
                )
        print(f"libpq {psycopg.pq.version()}, omniorder schema {version and version[0]}")
        raw = RawPostgres(dsn, schemas["raw"])
        try:
            pool = store._pool()  # it holds exactly one connection: the one every command uses
            conn = pool.getconn()
            pool.putconn(conn)
            n = max(10, args.reserves // 20)
            return {
                "lib": _pg_counts(lib, conn.pgconn, n),
                "raw": _pg_counts(raw, raw.conn.pgconn, n),
            }
        finally:
            raw.close()
    finally:
        lib.close()


def _pg_counts(w: Writer, pgconn: Any, n: int) -> dict[str, tuple[float, float]]:
    sku = sku_of(0)
    for i in range(WARMUP):
        pair_op(w, sku, i)
        keyed_op(w, sku, i)
    holds = [w.reserve(sku) for _ in range(n)]
    return {
        "reserve": count_postgres(pgconn, functools.partial(reserve_op, w, sku, 0), n),
        "keyed reserve": count_postgres(pgconn, functools.partial(keyed_op, w, sku, 0), n),
        "confirm": count_postgres(pgconn, lambda: w.confirm(holds.pop(), sku), n),
    }


def _pg_throughput(args: argparse.Namespace, schemas: dict[str, str]) -> list[Row]:
    """Every case in alternating rounds, library then raw, by worker processes that each open
    their own store or connection after starting."""
    procs = args.processes
    context = multiprocessing.get_context("fork")
    pipes: dict[str, list[Connection]] = {"lib": [], "raw": []}
    workers: list[multiprocessing.process.BaseProcess] = []
    cases = [
        ("reserve, 1 client", 1, False, False, ">= 0.6"),
        ("reserve+confirm, 1 client", 1, False, True, ""),
        (f"reserve, {procs} processes, disjoint", procs, False, False, ">= 0.5"),
        (f"reserve+confirm, {procs} processes, disjoint", procs, False, True, ""),
        (f"reserve, {procs} processes, one hot position", procs, True, False, ">= 0.5"),
        (f"reserve+confirm, {procs} processes, one hot position", procs, True, True, ""),
    ]
    try:
        for kind in ("lib", "raw"):
            for i in range(procs):
                mine, theirs = context.Pipe()
                worker = context.Process(
                    target=_serve,
                    args=(kind, args.postgres, schemas[kind], [sku_of(i), HOT], theirs),
                    daemon=True,
                )
                worker.start()
                workers.append(worker)
                pipes[kind].append(mine)
        for pipe in pipes["lib"] + pipes["raw"]:
            if pipe.recv() != "ready":
                raise RuntimeError("a worker did not start")
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for label, count, hot, confirm, _goal in cases:
                total = args.reserves // 2 if confirm else args.reserves
                on = [HOT if hot else sku_of(i) for i in range(count)]
                for kind in ("lib", "raw"):
                    rate = run_together(pipes[kind][:count], on, confirm, max(1, total // count))
                    times.setdefault((label, kind), []).append(rate)
        for pipe in pipes["lib"] + pipes["raw"]:
            pipe.send(None)
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    return [
        Row(
            f"PostgreSQL {label}",
            statistics.median(times[(label, "lib")]),
            statistics.median(times[(label, "raw")]),
            goal,
            "/s",
        )
        for label, _, _, _, goal in cases
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reserves", type=int, default=2000, help="reserves per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per measure")
    parser.add_argument("--processes", type=int, default=8, help="PostgreSQL writer processes")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--postgres", metavar="DSN", help="PostgreSQL (skipped without it)")
    args = parser.parse_args()
    import omniorder

    print(
        f"reserve against raw: {args.reserves} reserves per round, median of {args.rounds} "
        f"alternating rounds; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; omniorder from "
        f"{Path(omniorder.__file__).parent}"
    )
    rows: list[Row] = []
    if args.only != "postgres":
        rows += measure_sqlite(args)
    if args.only != "sqlite" and args.postgres:
        rows += measure_postgres(args)
    show(rows)
    print(
        "ratio = omniorder / raw (throughput: higher is better; counts: lower is better); "
        "goal '>=' is on the ratio, '<=' on omniorder's figure"
    )


if __name__ == "__main__":
    main()
