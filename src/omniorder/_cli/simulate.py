"""``omniorder simulate``: reproducible days of omnichannel trade on any store, then the KPIs."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omniorder._cli.output import fail, print_table, progress
from omniorder.engine import Engine
from omniorder.metrics import Report, report
from omniorder.model.errors import OmniOrderError
from omniorder.model.values import Channel
from omniorder.simulate import SimulationConfig, SimulationResult, sim_network, simulate
from omniorder.stores.base import Store
from omniorder.stores.memory import InMemoryStore
from omniorder.stores.sqlite import SQLiteStore

__all__ = ["add_parser"]


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return number


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[tuple[Store, str]]:
    """The empty store the simulation runs on, and a sentence saying where it is."""
    if args.store != "sqlite" and args.db is not None:
        fail("--db is for --store sqlite; use --dsn for postgres")
    if args.store != "postgres" and args.dsn is not None:
        fail("--dsn is for --store postgres")
    store: Store
    try:
        if args.store == "memory":
            store, where = InMemoryStore(), "in memory"
        elif args.store == "sqlite":
            path = args.db or Path(tempfile.mkdtemp(prefix="omniorder-sim-")) / "sim.sqlite3"
            if path.exists() and path.stat().st_size > 0:
                fail(f"simulate needs a new database; {path} already exists")
            store, where = SQLiteStore(path), f"SQLite database {path}"
        else:
            if args.dsn is None:
                fail("--store postgres needs --dsn")
            from omniorder.stores.postgres import PostgresStore

            store = PostgresStore(args.dsn, schema=args.schema)
            where = f"PostgreSQL schema {args.schema}"
    except OmniOrderError as error:
        fail(str(error))
    try:
        with store.unit_of_work(read_only=True) as uow:
            if uow.events(limit=1):
                fail(f"simulate needs an empty store; the {where} has events already")
        yield store, where
    finally:
        store.close()


def _plot(path: Path, result: SimulationResult, kpis: Report) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        fail('--plot needs matplotlib: pip install "omniorder[plot]"')
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    days = [reading.day for reading in result.availability]
    for channel in Channel:
        left.plot(days, [r.by_channel[channel] for r in result.availability], label=channel.value)
    left.set_title("Units each channel may sell, end of day")
    left.set_xlabel("day")
    left.legend()
    header, rows = kpis.rows()
    shown = [row for row in rows if row[-1].endswith("%")][:6]
    width = 0.8 / max(1, len(header) - 2)
    for n, name in enumerate(header[1:-1]):
        values = [_percent(row[n + 1]) for row in shown]
        right.bar([i + n * width for i in range(len(shown))], values, width, label=name)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(shown))])
    right.set_xticklabels([row[0] for row in shown], rotation=20, ha="right", fontsize=8)
    right.set_ylabel("%")
    right.set_title("KPIs by channel")
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _percent(cell: str) -> float:
    return float(cell.rstrip("%")) if cell.endswith("%") else 0.0


def _simulate(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        days=args.days,
        stores=args.stores,
        warehouses=args.warehouses,
        skus=args.skus,
        seed=args.seed,
    )
    with _store(args) as (store, where):
        print(
            f"omniorder simulate: {config.days} days, {config.stores} stores, "
            f"{config.warehouses} warehouses, {config.skus} skus, seed {config.seed}"
        )
        print(f"store: {where}")
        began = time.perf_counter()
        with progress("simulating days", config.days) as tick:
            result = simulate(store, config, progress=tick)
        seconds = time.perf_counter() - began
        events = Engine(sim_network(config), store=store).events()
    refused = ", ".join(f"{n} {name}" for name, n in result.refused.items()) or "none"
    print(
        f"\n{result.commands} commands ({refused} refused: customers who found no stock), "
        f"{len(events)} events, in {seconds:.1f} s"
    )
    header = ["day", *(c.value for c in Channel)]
    rows = [[str(r.day), *(str(r.by_channel[c]) for c in Channel)] for r in result.availability]
    print()
    print_table("Units each channel may sell at the end of each day", header, rows)
    kpis = report(events)
    print()
    print_table("Omnichannel KPIs", *kpis.rows())
    if args.plot is not None:
        _plot(args.plot, result, kpis)
        print(f"\ncharts: {args.plot}")
    return 0


def add_parser(commands: Any) -> None:
    """Add ``simulate`` to the command line's subcommands."""
    sim = commands.add_parser(
        "simulate",
        help="play reproducible days of omnichannel trade and print the KPIs",
        description=(
            "Play days of trade across every channel against a real engine: web, app and "
            "marketplace orders, chat holds that expire or convert, till sales, click-and-collect "
            "with no-shows and partial pickups, ship-from-store, ship-to-store, returns in other "
            "channels and short picks. The same seed gives the same run."
        ),
    )
    sim.add_argument("--days", type=_count, default=7, metavar="N", help="days (default 7)")
    sim.add_argument("--stores", type=_count, default=8, metavar="S", help="stores (default 8)")
    sim.add_argument(
        "--warehouses", type=_count, default=2, metavar="W", help="warehouses (default 2)"
    )
    sim.add_argument("--skus", type=_count, default=40, metavar="K", help="skus (default 40)")
    sim.add_argument("--seed", type=int, default=1, metavar="X", help="random seed (default 1)")
    sim.add_argument(
        "--store",
        choices=["memory", "sqlite", "postgres"],
        default="sqlite",
        help="where the engine keeps everything (default sqlite)",
    )
    sim.add_argument(
        "--db", type=Path, metavar="PATH", help="the new SQLite file (default: a temporary file)"
    )
    sim.add_argument("--dsn", metavar="DSN", help="the PostgreSQL connection string")
    sim.add_argument(
        "--schema",
        default="omniorder_simulation",
        metavar="NAME",
        help="the PostgreSQL schema, which must be empty (default omniorder_simulation)",
    )
    sim.add_argument(
        "--plot",
        type=Path,
        metavar="PNG",
        help='write charts of availability and KPIs by channel (needs "omniorder[plot]")',
    )
    sim.set_defaults(run=_simulate)
