"""Many processes, one PostgreSQL database: racing web workers never oversell the last units.

A flash sale opens on a limited-edition lamp with 3 left in the warehouse, and the web shop runs
several worker processes that take checkouts on their own. Where workers read the stock, decide,
then write, two of them both read "1 left" and both sell it; a cache or a lock inside one process
cannot help, as the workers share no memory. Here each worker opens its own ``PostgresStore``
(extra ``postgres``) on one schema and holds a lamp with ``engine.reserve``; the store checks and
changes the position in one transaction under row locks, so exactly 3 workers get a lamp, the
rest get ``InsufficientStock``, and ``engine.verify()`` replays the ledger clean.

Run: ``OMNIORDER_POSTGRES_DSN=postgresql://user@host/db python
examples/08_postgres_many_processes.py`` (or ``--dsn``); it uses a schema of its own and drops it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import uuid
from collections import Counter
from multiprocessing.queues import SimpleQueue
from multiprocessing.synchronize import Barrier

from omniorder import (
    Capability,
    Channel,
    Engine,
    Geo,
    InsufficientStock,
    Location,
    LocationKind,
    Mode,
    Network,
)

MISSING: ImportError | None = None
try:  # the postgres extra; without it main() says how to install it
    from psycopg import connect, sql

    from omniorder.stores.postgres import PostgresStore
except ImportError as error:
    MISSING = error

LAMP = "limited-edition-lamp"
IN_STOCK = 3
WORKERS = 8
WAREHOUSE = Location("midlands", LocationKind.WAREHOUSE, Geo(52.486, -1.890), {Capability.SHIP})


def checkout(dsn: str, schema: str, worker: int, start: Barrier, out: SimpleQueue[str]) -> None:
    """One web worker process: its own store and engine; wait for the others, then try."""
    try:
        store = PostgresStore(dsn, schema=schema, max_size=2)
        engine = Engine(Network([WAREHOUSE]), store=store)
        start.wait(timeout=60)  # every worker is connected: now they race
        try:
            engine.reserve(
                "midlands", {LAMP: 1}, channel=Channel.WEB, mode=Mode.SHIP, key=f"cart-{worker}"
            )
            out.put("held")
        except InsufficientStock:
            out.put("refused")
        store.close()
    except Exception as failure:  # report it rather than leave the parent waiting
        out.put(f"failed: {failure!r}")


def race(dsn: str, schema: str) -> None:
    """Stock the lamp, let the workers race for it, and check the ledger."""
    store = PostgresStore(dsn, schema=schema)
    engine = Engine(Network([WAREHOUSE]), store=store)
    engine.receive("midlands", LAMP, IN_STOCK, key="delivery-1")
    print(f"1. {IN_STOCK} lamps in stock; {WORKERS} worker processes start a checkout each.")

    spawn = multiprocessing.get_context("spawn")  # fresh processes, as separate servers would be
    start, out = spawn.Barrier(WORKERS), spawn.SimpleQueue()
    workers = [
        spawn.Process(target=checkout, args=(dsn, schema, n, start, out)) for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = Counter(out.get() for _ in workers)
    for worker in workers:
        worker.join()
    print(f"2. outcomes: {dict(sorted(outcomes.items()))}")

    p = engine.position("midlands", LAMP)
    print(f"3. on hand {p.on_hand}, held {p.reserved}: oversold? {p.reserved > p.on_hand}")
    print(f"4. ledger check across all processes: {engine.verify() or 'clean'}")
    store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="N processes race for a scarce sku.")
    parser.add_argument("--dsn", default=os.environ.get("OMNIORDER_POSTGRES_DSN", ""))
    dsn = parser.parse_args(argv).dsn
    if not dsn:
        print(
            "To run this example, set OMNIORDER_POSTGRES_DSN=postgresql://user@host/db (or pass "
            '--dsn) and pip install "omniorder[postgres]".'
        )
        return 0
    if MISSING is not None:
        print(f'This example needs pip install "omniorder[postgres]" ({MISSING})')
        return 1
    schema = f"omniorder_example_{uuid.uuid4().hex[:12]}"  # its own, so it disturbs nothing
    try:
        race(dsn, schema)
    finally:
        with connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    print("5. dropped the example's own schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
