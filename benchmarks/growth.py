"""Growth: a command's cost must not grow with live holds or history (RELIABILITY "Growth rules").

    python benchmarks/growth.py [--holds 10000] [--history 100000] [--postgres DSN]

For each store (InMemoryStore, SQLiteStore with synchronous=FULL on a temp file, and
PostgresStore when given a DSN) it measures, each as a ratio of two measurements made in the
same run:

(a) reserve + release of 1 unit on a position holding ``--holds`` other live holds, divided by
    the same on a position holding 1 (goal <= 1.5);
(b) ``expire_due()`` with nothing due at ``--holds`` live holds, divided by at 10 (goal <= 2);
(c) reserve + confirm throughput after ``--history`` ledger rows (reserve, confirm, ship cycles:
    finished reservations, orders and events too), divided by on a fresh store (goal >= 0.8);
(d) ``events(after=N, limit=100)`` at the tail of the history store's event log, divided by the
    same at 1,000 events (goal <= 2).

Each command is also printed as a multiple of a raw baseline written by hand at the lowest level,
measured in the same run: for memory a dict and a ``threading.Lock`` doing the same
check-and-hold (and a list slice for events); for SQLite one ``sqlite3`` connection (WAL,
synchronous=FULL) doing the conditional UPDATE + INSERT in one transaction (and ``seq > ? LIMIT
100`` on a table of the same size for events); for PostgreSQL the same statements over one
``psycopg`` connection. Live holds and history are made through the engine (SQLite seeds
with synchronous=NORMAL, then reopens the same file with FULL to measure); on PostgreSQL a long
history is 1,000 reserve, confirm and ship cycles through the engine, then copies of their rows
made by SQL (reservations, lines, ledger rows, events and keys), then ``ANALYZE``. Big and small
cases are measured in alternating rounds and the fastest round of each is kept, with the cyclic
garbage collector off while timing (as ``timeit`` does): times are wall-clock on a shared machine,
so read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from omniorder import Channel, Engine, InMemoryStore, ManualClock, Mode, SQLiteStore
from omniorder.stores.base import Store
from omniorder.testing.network import START, STORE_2, sample_network

SKU = "sofa"
LONG = timedelta(days=1)  # the clock never moves: nothing is ever due
SHORT = timedelta(hours=1)


# -- the stores ------------------------------------------------------------------------------
@dataclass
class Backend:
    """How to make, seed quickly, reopen for measuring, and drop one kind of store."""

    name: str
    make: Callable[[], Store]
    measure: Callable[[Store], Store]
    """The store to measure on, given the one seeded (SQLite: the same file reopened FULL)."""
    drop: Callable[[Store], None]
    raw: Callable[[int], Raw]
    ops: int
    """Commands per timed round."""
    copy: Callable[[Store, int], None] | None = None
    """Multiply the history written through the engine by ``n`` copies, by SQL (None: seed
    every row through the engine)."""


def _memory() -> Backend:
    return Backend(
        "InMemoryStore", InMemoryStore, lambda s: s, lambda s: s.close(), RawMemory, ops=1000
    )


def _sqlite() -> Backend:
    def make() -> Store:
        folder = Path(tempfile.mkdtemp(prefix="omniorder-growth-"))
        return SQLiteStore(folder / "growth.sqlite3", synchronous="NORMAL")

    def measure(store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        store.close()
        return SQLiteStore(store.path, synchronous="FULL")

    def drop(store: Store) -> None:
        assert isinstance(store, SQLiteStore)
        store.close()
        shutil.rmtree(store.path.parent, ignore_errors=True)

    return Backend("SQLiteStore (FULL)", make, measure, drop, RawSQLite, ops=40)


def _postgres(dsn: str) -> Backend:
    import psycopg
    from psycopg import sql

    from omniorder.stores.postgres import PostgresStore

    def make() -> Store:
        return PostgresStore(dsn, schema=f"omniorder_growth_{uuid.uuid4().hex[:8]}")

    def drop(store: Store) -> None:
        assert isinstance(store, PostgresStore)
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(store.schema)))

    def copy(store: Store, times: int) -> None:
        assert isinstance(store, PostgresStore)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(store.schema)))
            conn.execute("CREATE TEMP SEQUENCE copied")
            with conn.transaction():
                for table, changed in _COPIED.items():
                    columns = [
                        name
                        for (name,) in conn.execute(
                            "SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                            (store.schema, table),
                        )
                    ]
                    statement = sql.SQL(
                        "INSERT INTO {table} ({columns}) SELECT {values} "
                        "FROM {table}, generate_series(1, %s) AS g WHERE {finished}"
                    ).format(
                        table=sql.Identifier(table),
                        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                        values=sql.SQL(", ").join(
                            sql.SQL(changed[name]) if name in changed else sql.Identifier(name)
                            for name in columns
                        ),
                        finished=sql.SQL(_FINISHED[table]),
                    )
                    conn.execute(statement, (times,))
            conn.execute("ANALYZE")  # what autovacuum would have done over such a history

    return Backend(
        "PostgresStore",
        make,
        lambda s: s,
        drop,
        lambda n: RawPostgres(dsn, n),
        ops=40,
        copy=copy,
    )


_COPIED: dict[str, dict[str, str]] = {
    "reservation": {"id": "id || '-' || g"},
    "reservation_line": {"reservation_id": "reservation_id || '-' || g"},
    "ledger": {"seq": "nextval(pg_get_serial_sequence('ledger', 'seq'))"},
    "event": {"seq": "-nextval('copied')"},  # below every real number: read by no page
    "idempotency": {"key": "key || '-' || g"},
}
"""How a copy of each history table's rows differs from its original (PostgreSQL)."""
_FINISHED: dict[str, str] = {
    "reservation": "state = 'FULFILLED'",
    "reservation_line": "state = 'FULFILLED'",
    "ledger": "kind <> 'received'",
    "event": "type <> 'StockReceived'",
    "idempotency": "key <> 'stock'",
}
"""The rows of a finished reservation's history, copied (not the store's opening stock)."""


# -- raw baselines ---------------------------------------------------------------------------
class Raw:
    """The same check-and-hold written by hand at the lowest level; ``events`` rows to page."""

    def hold(self) -> int:
        raise NotImplementedError

    def release(self, hold: int) -> None:
        raise NotImplementedError

    def page(self, after: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class RawMemory(Raw):
    def __init__(self, events: int) -> None:
        self._lock = threading.Lock()
        self._free = {(STORE_2, SKU): 10**9}
        self._holds: dict[int, tuple[tuple[str, str], int]] = {}
        self._next = 0
        self._events = [(i + 1, "{}") for i in range(events)]

    def hold(self) -> int:
        with self._lock:
            key = (STORE_2, SKU)
            if self._free[key] < 1:
                raise RuntimeError("sold out")
            self._free[key] -= 1
            self._next += 1
            self._holds[self._next] = (key, 1)
            return self._next

    def release(self, hold: int) -> None:
        with self._lock:
            key, quantity = self._holds.pop(hold)
            self._free[key] += quantity

    def page(self, after: int) -> int:
        with self._lock:
            return len(self._events[after : after + 100])


class RawSQLite(Raw):
    def __init__(self, events: int) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="omniorder-raw-"))
        self._c = sqlite3.connect(self._folder / "raw.sqlite3", isolation_level=None)
        self._c.execute("PRAGMA journal_mode=WAL")
        self._c.execute("PRAGMA synchronous=FULL")
        self._c.executescript(
            "CREATE TABLE position (location TEXT, sku TEXT, on_hand INTEGER, reserved INTEGER,"
            " PRIMARY KEY (location, sku));"
            "CREATE TABLE hold (id INTEGER PRIMARY KEY, location TEXT, sku TEXT, quantity INTEGER);"
            "CREATE TABLE event (seq INTEGER PRIMARY KEY, body TEXT);"
        )
        self._c.execute("INSERT INTO position VALUES (?, ?, ?, 0)", (STORE_2, SKU, 10**9))
        self._c.execute("BEGIN")
        self._c.executemany(
            "INSERT INTO event (seq, body) VALUES (?, ?)", ((i + 1, "{}") for i in range(events))
        )
        self._c.execute("COMMIT")

    def hold(self) -> int:
        c = self._c
        c.execute("BEGIN IMMEDIATE")
        done = c.execute(
            "UPDATE position SET reserved = reserved + 1"
            " WHERE location = ? AND sku = ? AND on_hand - reserved >= 1",
            (STORE_2, SKU),
        ).rowcount
        if done != 1:
            c.execute("ROLLBACK")
            raise RuntimeError("sold out")
        cursor = c.execute(
            "INSERT INTO hold (location, sku, quantity) VALUES (?, ?, 1)", (STORE_2, SKU)
        )
        c.execute("COMMIT")
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def release(self, hold: int) -> None:
        c = self._c
        c.execute("BEGIN IMMEDIATE")
        location, sku, quantity = c.execute(
            "DELETE FROM hold WHERE id = ? RETURNING location, sku, quantity", (hold,)
        ).fetchone()
        c.execute(
            "UPDATE position SET reserved = reserved - ? WHERE location = ? AND sku = ?",
            (quantity, location, sku),
        )
        c.execute("COMMIT")

    def page(self, after: int) -> int:
        return len(
            self._c.execute(
                "SELECT seq, body FROM event WHERE seq > ? ORDER BY seq LIMIT 100", (after,)
            ).fetchall()
        )

    def close(self) -> None:
        self._c.close()
        shutil.rmtree(self._folder, ignore_errors=True)


class RawPostgres(Raw):
    def __init__(self, dsn: str, events: int) -> None:
        import psycopg
        from psycopg import sql

        self._dsn = dsn
        self._schema = f"omniorder_raw_{uuid.uuid4().hex[:8]}"
        self._c: Any = psycopg.connect(dsn, autocommit=True)
        self._c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self._schema)))
        self._c.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        self._c.execute(
            "CREATE TABLE position (location TEXT, sku TEXT, on_hand BIGINT, reserved BIGINT,"
            " PRIMARY KEY (location, sku))"
        )
        self._c.execute(
            "CREATE TABLE hold (id BIGSERIAL PRIMARY KEY, location TEXT, sku TEXT, quantity BIGINT)"
        )
        self._c.execute("CREATE TABLE event (seq BIGINT PRIMARY KEY, body TEXT)")
        self._c.execute("INSERT INTO position VALUES (%s, %s, %s, 0)", (STORE_2, SKU, 10**9))
        self._c.execute(
            "INSERT INTO event SELECT g, '{}' FROM generate_series(1, %s) AS g", (events,)
        )

    def hold(self) -> int:
        with self._c.transaction():
            done = self._c.execute(
                "UPDATE position SET reserved = reserved + 1"
                " WHERE location = %s AND sku = %s AND on_hand - reserved >= 1",
                (STORE_2, SKU),
            ).rowcount
            if done != 1:
                raise RuntimeError("sold out")
            row = self._c.execute(
                "INSERT INTO hold (location, sku, quantity) VALUES (%s, %s, 1) RETURNING id",
                (STORE_2, SKU),
            ).fetchone()
        return int(row[0])

    def release(self, hold: int) -> None:
        with self._c.transaction():
            location, sku, quantity = self._c.execute(
                "DELETE FROM hold WHERE id = %s RETURNING location, sku, quantity", (hold,)
            ).fetchone()
            self._c.execute(
                "UPDATE position SET reserved = reserved - %s WHERE location = %s AND sku = %s",
                (quantity, location, sku),
            )

    def page(self, after: int) -> int:
        return len(
            self._c.execute(
                "SELECT seq, body FROM event WHERE seq > %s ORDER BY seq LIMIT 100", (after,)
            ).fetchall()
        )

    def close(self) -> None:
        from psycopg import sql

        self._c.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self._schema)))
        self._c.close()


# -- seeding (through the engine; PostgreSQL multiplies it by SQL) -----------------------------
@dataclass
class Site:
    """A store, its engine and the counter that keeps idempotency keys unique."""

    backend: Backend
    store: Store
    engine: Engine = field(init=False)
    n: int = 0

    def __post_init__(self) -> None:
        self.engine = _engine(self.store)

    def reopen(self) -> None:
        self.store = self.backend.measure(self.store)
        self.engine = _engine(self.store)

    def hold(self, ttl: timedelta = LONG) -> str:
        self.n += 1
        held = self.engine.reserve(
            STORE_2, {SKU: 1}, channel=Channel.WEB, mode=Mode.SHIP, ttl=ttl, key=f"h{self.n}"
        )
        return held.id

    def cycle(self) -> None:
        """reserve, confirm, ship: history (ledger rows, a finished reservation, events)."""
        held = self.hold(SHORT)
        self.engine.confirm(held, key=f"c{self.n}")
        self.engine.ship(held, key=f"s{self.n}")

    def ledger_rows(self) -> int:
        with self.store.unit_of_work(read_only=True) as uow:
            return len(uow.movements())

    def last_seqs(self) -> tuple[int, int]:
        """(number of events, seq of the event 100 before the end)."""
        found = self.engine.events()
        return len(found), found[-101].seq if len(found) > 100 else 0


def _engine(store: Store) -> Engine:
    return Engine(sample_network(), store=store, clock=ManualClock(START))


@contextmanager
def site(backend: Backend) -> Iterator[Site]:
    s = Site(backend, backend.make())
    s.engine.receive(STORE_2, SKU, 10**9, key="stock")
    try:
        yield s
    finally:
        backend.drop(s.store)


def with_history(s: Site, rows: int) -> None:
    s.cycle()
    per_cycle = max(1, s.ledger_rows() - 1)
    if s.backend.copy is not None and rows > 1000 * per_cycle:
        # PostgreSQL: 1,000 cycles through the engine, then copies of them by SQL
        for _ in range(999):
            s.cycle()
        s.backend.copy(s.store, rows // (1000 * per_cycle) - 1)
        return
    for _ in range((rows - s.ledger_rows() + per_cycle - 1) // per_cycle):
        s.cycle()


# -- timing ----------------------------------------------------------------------------------
def per_op(run: Callable[[], object], ops: int) -> float:
    """Seconds per call of ``run``, over ``ops`` calls, with the cyclic GC off (as ``timeit``).

    A full collection walks every object in the process, so a store holding more objects would
    pay for it in whichever round it lands: that is the interpreter's cost, not the store's.
    """
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(ops):
            run()
        return (time.perf_counter() - started) / ops
    finally:
        gc.enable()


def rounds(cases: Mapping[str, Callable[[], object]], ops: int, count: int) -> dict[str, float]:
    """The fastest round of each case, the cases measured in alternation."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(count):
        for name, run in cases.items():
            times[name].append(per_op(run, ops))
    return {name: min(found) for name, found in times.items()}


@dataclass
class Report:
    """What one store measured: (label, seconds) per case, and the goals."""

    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def measure(backend: Backend, args: argparse.Namespace) -> Report:
    report = Report(backend.name)
    raw = backend.raw(0)
    try:
        measure_holds(backend, args, report, raw)
        measure_history(backend, args, report, raw)
    finally:
        raw.close()
    return report


def measure_holds(backend: Backend, args: argparse.Namespace, report: Report, raw: Raw) -> None:
    """(a) and (b): many live holds against few."""
    ops, count = args.ops or backend.ops, args.rounds
    started = time.perf_counter()
    with site(backend) as big, site(backend) as small:
        for _ in range(args.holds):
            big.hold()
        small.hold()
        report.lines.append(
            f"seeding {args.holds} live holds took {time.perf_counter() - started:.1f}s"
        )
        big.reopen()
        small.reopen()

        def reserve_release(s: Site) -> Callable[[], object]:
            return lambda: s.engine.release(s.hold(SHORT), key=f"x{s.n}")

        cases: dict[str, Callable[[], object]] = {
            "big": reserve_release(big),
            "small": reserve_release(small),
            "raw": lambda: raw.release(raw.hold()),
        }
        t = rounds(cases, ops, count)
        report.seconds |= {"a.big": t["big"], "a.small": t["small"], "a.raw": t["raw"]}
        for _ in range(9):
            small.hold()
        cases = {"big": big.engine.expire_due, "small": small.engine.expire_due, "raw": raw.hold}
        t = rounds(cases, ops * 2, count)
        report.seconds |= {"b.big": t["big"], "b.small": t["small"], "b.raw": t["raw"]}


def measure_history(backend: Backend, args: argparse.Namespace, report: Report, raw: Raw) -> None:
    """(c) and (d): a long history against a fresh store."""
    ops, count = args.ops or backend.ops, args.rounds
    started = time.perf_counter()
    with site(backend) as old, site(backend) as fresh, site(backend) as few:
        with_history(old, args.history)
        # the same commands as the long history, so both pages hold the same kinds of events
        while few.last_seqs()[0] < 1000:
            few.cycle()
        many_events, many_after = old.last_seqs()
        few_events, few_after = few.last_seqs()
        report.lines.append(
            f"history: {old.ledger_rows()} ledger rows, {many_events} events (against "
            f"{few_events}); seeding took {time.perf_counter() - started:.1f}s"
        )
        for s in (old, fresh, few):
            s.reopen()

        def reserve_confirm(s: Site) -> Callable[[], object]:
            return lambda: s.engine.confirm(s.hold(SHORT), key=f"c{s.n}")

        cases: dict[str, Callable[[], object]] = {
            "old": reserve_confirm(old),
            "fresh": reserve_confirm(fresh),
            "raw": lambda: raw.release(raw.hold()),
        }
        t = rounds(cases, ops, count)
        report.seconds |= {"c.old": t["old"], "c.fresh": t["fresh"], "c.raw": t["raw"]}

        raw_many, raw_few = backend.raw(many_events), backend.raw(few_events)
        try:
            cases = {
                "many": lambda: old.engine.events(many_after, limit=100),
                "few": lambda: few.engine.events(few_after, limit=100),
                "raw": lambda: raw_many.page(many_after),
                "raw.few": lambda: raw_few.page(few_after),
            }
            t = rounds(cases, ops * 5, count)
        finally:
            raw_many.close()
            raw_few.close()
        report.seconds |= {
            "d.many": t["many"],
            "d.few": t["few"],
            "d.raw": t["raw"],
            "d.raw.few": t["raw.few"],
        }


def show(report: Report, args: argparse.Namespace) -> None:
    s = report.seconds
    us = 1e6
    print(f"\n== {report.name} ==")
    for line in report.lines:
        print(f"   {line}")
    print(
        f"   raw baseline (same rounds): check-and-hold + release {s['a.raw'] * us:.1f} us "
        f"in (a), {s['c.raw'] * us:.1f} us in (c); check-and-hold {s['b.raw'] * us:.1f} us in "
        f"(b); page of 100 at the tail of the history"
        f" events {s['d.raw'] * us:.1f} us "
        f"(of 1000: {s['d.raw.few'] * us:.1f} us)"
    )
    rows = [
        ("(a) reserve+release", "a.big", "a.small", "a.raw"),
        ("(b) expire_due, none due", "b.big", "b.small", "b.raw"),
        ("(c) reserve+confirm", "c.old", "c.fresh", "c.raw"),
        ("(d) events(after, 100)", "d.many", "d.few", "d.raw"),
    ]
    print(f"   {'measure':<26}{'big':>12}{'small':>12}{'ratio':>8}  goal      {'big/raw':>8}")
    for label, big, small, raw in rows:
        ratio = s[big] / s[small]
        if big == "c.old":
            ratio = s[small] / s[big]  # throughput after history / fresh
            goal = ">= 0.8"
            ok = ratio >= 0.8
        else:
            goal = "<= 1.5" if big == "a.big" else "<= 2"
            ok = ratio <= (1.5 if big == "a.big" else 2)
        print(
            f"   {label:<26}{s[big] * us:>10.1f}us{s[small] * us:>10.1f}us{ratio:>8.2f}  "
            f"{goal:<7}{'ok' if ok else 'MISS':>4}{s[big] / s[raw]:>8.1f}x"
        )
    print(
        "   big = with the live holds / history; ratio (a)(b)(d) = big time / small time, "
        "(c) = throughput after history / fresh; big/raw = big time / the raw baseline"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holds", type=int, default=10_000, help="live holds (a) and (b)")
    parser.add_argument("--history", type=int, default=100_000, help="ledger rows for (c), (d)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per measure")
    parser.add_argument("--ops", type=int, default=0, help="commands per round (0: per store)")
    parser.add_argument("--only", choices=["memory", "sqlite", "postgres"], action="append")
    parser.add_argument("--postgres", metavar="DSN")
    args = parser.parse_args()
    backends = {"memory": _memory(), "sqlite": _sqlite()}
    if args.postgres:
        backends["postgres"] = _postgres(args.postgres)
    print(
        f"growth: {args.holds} live holds, {args.history} ledger rows; "
        f"fastest of {args.rounds} alternating rounds"
    )
    for name, backend in backends.items():
        if args.only and name not in args.only:
            continue
        show(measure(backend, args), args)


if __name__ == "__main__":
    main()
