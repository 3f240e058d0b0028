"""Store throughput: the same command mix on every store, as ratios to InMemoryStore.

    python benchmarks/stores.py [--commands N] [--postgres DSN] [--ops N] [--rounds N]

Each store runs the same mix (receive, a two-line hold, confirm, ship, a till sale) with
idempotency keys, on one thread. Times are wall-clock on a shared machine: read the ratios,
which are measured in the same run, not the absolute figures.

Then the in-memory store's lean path: ``engine.reserve`` (and reserve + release) against a raw
baseline measured in the same run, the same check-and-hold written by hand at the lowest level
(a dict of counters and a ``threading.Lock``, appending a ledger tuple and an event tuple), as
the ratio of their throughputs ("reserve / raw": 1 would be as fast as the hand-written code).
The cases are timed in alternating rounds, in CPU time of the thread, keeping the fastest round,
with the cyclic garbage collector on (as in production); "GC share" is the part of that round
the collector took.
"Calls per reserve" counts the Python and built-in function calls of one reserve.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from omniorder import Channel, Engine, InMemoryStore, Mode, SQLiteStore
from omniorder.stores.base import Store
from omniorder.testing.network import STORE_1, STORE_2, sample_network


def run_mix(store: Store, commands: int) -> float:
    """Seconds to run ``commands`` commands of the mix."""
    engine = Engine(sample_network(), store=store)
    engine.receive(STORE_2, "sofa", 10**9)
    engine.receive(STORE_1, "lamp", 10**9)
    started = time.perf_counter()
    done = 0
    while done < commands:
        n = done
        held = engine.reserve(
            STORE_2,
            {"sofa": 1},
            channel=Channel.WEB,
            mode=Mode.SHIP,
            ttl=timedelta(minutes=5),
            key=f"h{n}",
        )
        engine.confirm(held.id, key=f"c{n}")
        engine.ship(held.id, key=f"s{n}")
        engine.sell(STORE_1, {"lamp": 1}, key=f"t{n}")
        engine.receive(STORE_2, "sofa", 1, key=f"r{n}")
        done += 5
    return time.perf_counter() - started


def _sqlite(synchronous: str) -> tuple[Callable[[], Store], Callable[[Store], None]]:
    def make() -> Store:
        folder = Path(tempfile.mkdtemp(prefix="omniorder-bench-"))
        return SQLiteStore(folder / "bench.sqlite3", synchronous=synchronous)  # type: ignore[arg-type]

    def drop(store: Store) -> None:
        assert isinstance(store, SQLiteStore)
        store.close()
        shutil.rmtree(store.path.parent, ignore_errors=True)

    return make, drop


def _postgres(dsn: str) -> tuple[Callable[[], Store], Callable[[Store], None]]:
    import psycopg
    from psycopg import sql

    from omniorder.stores.postgres import PostgresStore

    def make() -> Store:
        return PostgresStore(dsn, schema=f"omniorder_bench_{uuid.uuid4().hex[:8]}")

    def drop(store: Store) -> None:
        assert isinstance(store, PostgresStore)
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(store.schema)))

    return make, drop


class RawHolds:
    """The check-and-hold written by hand at the lowest level: a dict of counters, a lock."""

    def __init__(self, location: str, sku: str, on_hand: int) -> None:
        self._lock = threading.Lock()
        self._counters = {(location, sku): [on_hand, 0]}  # [on_hand, reserved]
        self._holds: dict[int, tuple[str, Mapping[str, int]]] = {}
        self._ledger: list[tuple[object, ...]] = []
        self._events: list[tuple[object, ...]] = []
        self._next = 0

    def reserve(self, location: str, lines: Mapping[str, int]) -> int:
        with self._lock:
            now = datetime.now(UTC)
            for sku, units in lines.items():
                on_hand, reserved = self._counters[(location, sku)]
                if on_hand - reserved < units:
                    raise RuntimeError(f"{sku} is short")
            self._next += 1
            hold = self._next
            for sku, units in lines.items():
                self._counters[(location, sku)][1] += units
                self._ledger.append(
                    (len(self._ledger) + 1, now, location, sku, "held", units, hold)
                )
            self._holds[hold] = (location, lines)
            self._events.append((len(self._events) + 1, now, "held", hold, location, lines))
            return hold

    def release(self, hold: int) -> None:
        with self._lock:
            now = datetime.now(UTC)
            location, lines = self._holds.pop(hold)
            for sku, units in lines.items():
                self._counters[(location, sku)][1] -= units
                self._ledger.append(
                    (len(self._ledger) + 1, now, location, sku, "hold_released", units, hold)
                )
            self._events.append((len(self._events) + 1, now, "released", hold, location, lines))


def _timed(run: Callable[[], object], ops: int) -> tuple[float, float]:
    """CPU seconds per call of ``run`` over ``ops`` calls, and the share the cyclic GC took.

    CPU time of this thread, not wall-clock time: other work on a shared machine then slows
    both sides of a ratio alike instead of whichever round it lands in.
    """
    collecting = 0.0
    started_at = 0.0

    def clock(phase: str, info: dict[str, int]) -> None:
        nonlocal collecting, started_at
        if phase == "start":
            started_at = time.thread_time()
        else:
            collecting += time.thread_time() - started_at

    gc.collect()
    gc.callbacks.append(clock)
    try:
        started = time.thread_time()
        for _ in range(ops):
            run()
        took = time.thread_time() - started
    finally:
        gc.callbacks.remove(clock)
    return took / ops, collecting / took


def _calls(run: Callable[[], object], times: int = 200) -> tuple[float, float]:
    """(Python calls, built-in calls) per call of ``run``."""
    counted = {"call": 0, "c_call": 0}

    def count(frame: FrameType, event: str, arg: object) -> None:
        if event in counted:
            counted[event] += 1

    sys.setprofile(count)
    try:
        for _ in range(times):
            run()
    finally:
        sys.setprofile(None)
    return counted["call"] / times, counted["c_call"] / times


def lean_memory(ops: int, count: int) -> None:
    """Print the in-memory reserve (and reserve + release) against the raw baseline."""
    engine = Engine(sample_network())
    engine.receive(STORE_2, "sofa", 10**9)
    raw = RawHolds(STORE_2, "sofa", 10**9)
    wanted = {"sofa": 1}
    keys = iter(range(10**9))

    def reserve() -> str:
        held = engine.reserve(
            STORE_2, wanted, channel=Channel.WEB, mode=Mode.SHIP, ttl=timedelta(minutes=5)
        )
        return held.id

    def reserve_keyed() -> object:
        return engine.reserve(
            STORE_2,
            wanted,
            channel=Channel.WEB,
            mode=Mode.SHIP,
            ttl=timedelta(minutes=5),
            key=f"k{next(keys)}",
        )

    cases: dict[str, Callable[[], object]] = {
        "raw reserve": lambda: raw.reserve(STORE_2, wanted),
        "reserve": reserve,
        "raw reserve+release": lambda: raw.release(raw.reserve(STORE_2, wanted)),
        "reserve+release": lambda: engine.release(reserve()),
        "reserve, keyed": reserve_keyed,
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(count):
        for name, run in cases.items():
            took = _timed(run, ops)
            best[name] = min(best.get(name, took), took)
    python, builtin = _calls(reserve)
    us = 1e6
    print(f"\nInMemoryStore lean path: {ops} calls x {count} rounds, fastest round, one thread")
    print(f"{'case':<22}{'us/call':>9}{'GC share':>10}{'vs raw':>9}")
    for name, (seconds, collecting) in best.items():
        raw_name = "raw reserve+release" if "release" in name else "raw reserve"
        ratio = "" if name.startswith("raw") else f"{best[raw_name][0] / seconds:>9.3f}"
        print(f"{name:<22}{seconds * us:>9.2f}{collecting:>10.0%}{ratio}")
    print(
        "vs raw = raw time / this time: the share of the raw throughput (goal for reserve >= 0.15)"
        f"\ncalls per reserve: {python:.0f} Python + {builtin:.0f} built-in"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--postgres", metavar="DSN")
    parser.add_argument("--ops", type=int, default=2000, help="calls per lean-path round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating lean-path rounds")
    parser.add_argument("--lean-only", action="store_true", help="only the lean-path table")
    args = parser.parse_args()
    if args.lean_only:
        lean_memory(args.ops, args.rounds)
        return
    stores: dict[str, tuple[Callable[[], Store], Callable[[Store], None]]] = {
        "InMemoryStore": (InMemoryStore, lambda s: s.close()),
        "SQLiteStore (synchronous=FULL)": _sqlite("FULL"),
        "SQLiteStore (synchronous=NORMAL)": _sqlite("NORMAL"),
    }
    if args.postgres:
        stores["PostgresStore"] = _postgres(args.postgres)
    results = {}
    for name, (make, drop) in stores.items():
        store = make()
        try:
            results[name] = run_mix(store, args.commands)
        finally:
            drop(store)
    baseline = results["InMemoryStore"]
    print(f"{args.commands} commands per store, one thread")
    print(f"{'store':<34}{'commands/s':>12}{'time vs memory':>16}")
    for name, seconds in results.items():
        print(f"{name:<34}{args.commands / seconds:>12.0f}{seconds / baseline:>15.1f}x")
    lean_memory(args.ops, args.rounds)


if __name__ == "__main__":
    main()
