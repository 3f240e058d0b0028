"""Store throughput: the same command mix on every store, as ratios to InMemoryStore.

    python benchmarks/stores.py [--commands N] [--postgres DSN]

Each store runs the same mix (receive, a two-line hold, confirm, ship, a till sale) with
idempotency keys, on one thread. Times are wall-clock on a shared machine: read the ratios,
which are measured in the same run, not the absolute figures.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--postgres", metavar="DSN")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
