"""``omniorder verify`` and ``omniorder events``: read what a SQLite database holds."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omniorder._cli.output import fail
from omniorder.engine import verify_store
from omniorder.model.errors import OmniOrderError, SchemaError, StoreError
from omniorder.serialization import converter
from omniorder.stores.sqlite import SQLiteStore

__all__ = ["add_parsers"]


NOT_OMNIORDER = 3
"""Exit status when the file is not an omniorder database (missing, empty, foreign, newer)."""
DAMAGED = 4
"""Exit status when the database cannot be read (a damaged file or row)."""


@contextmanager
def _existing(path: Path) -> Iterator[SQLiteStore]:
    """The store in an existing omniorder database, opened read-only: nothing is ever created,
    migrated or written in the file, whatever it holds."""
    if not path.is_file() or path.stat().st_size == 0:
        fail(f"{path} is not an omniorder database (no such file, or empty)", NOT_OMNIORDER)
    try:
        store = SQLiteStore(path, read_only=True)
    except SchemaError as error:
        fail(f"{path}: {error.detail}", NOT_OMNIORDER)
    except OmniOrderError as error:
        fail(f"{path}: {error}", DAMAGED)
    try:
        yield store
    except StoreError as error:
        fail(f"{path}: {error}", DAMAGED)
    finally:
        store.close()


def _verify(args: argparse.Namespace) -> int:
    with _existing(args.db) as store:
        damage = store.integrity_check()
        if damage:
            for problem in damage:
                print(f"integrity: {problem}")
            fail(f"{args.db}: the file is damaged ({len(damage)} problems)", DAMAGED)
        found = verify_store(store)
        with store.unit_of_work(read_only=True) as uow:
            positions, movements = len(uow.positions()), len(uow.movements())
    if not found:
        print(f"{args.db}: clean: {positions} positions agree with {movements} ledger movements")
        return 0
    for discrepancy in found:
        print(f"{discrepancy.kind}: {discrepancy.detail}")
    print(f"{args.db}: {len(found)} discrepancies")
    return 1


def _events(args: argparse.Namespace) -> int:
    with _existing(args.db) as store:
        after = args.after
        while True:  # in pages, so that a large log streams
            with store.unit_of_work(read_only=True) as uow:
                page = uow.events(after=after, limit=1000)
            for event in page:
                body: dict[str, Any] = converter.unstructure(event)
                print(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
            if len(page) < 1000:
                return 0
            after = page[-1].seq


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value}")
    return number


def add_parsers(commands: Any) -> None:
    """Add ``verify`` and ``events`` to the command line's subcommands."""
    verify = commands.add_parser(
        "verify",
        help="replay a database's ledger and compare it with every position",
        description=(
            "Replay the ledger of an omniorder SQLite database and compare it with every "
            "position, live reservation and return in transit, without writing to the file. "
            "Exit status 0 when clean, 1 with the discrepancies listed, 3 when the file is not "
            "an omniorder database, 4 when it cannot be read (damaged)."
        ),
    )
    verify.add_argument("--db", type=Path, required=True, metavar="PATH", help="the database")
    verify.set_defaults(run=_verify)
    events = commands.add_parser(
        "events",
        help="print a database's events as JSON lines",
        description=(
            "Print the events of an omniorder SQLite database, one JSON object a line, without "
            "writing to the file. Exit status 3 when the file is not an omniorder database, 4 "
            "when it cannot be read (damaged)."
        ),
    )
    events.add_argument("--db", type=Path, required=True, metavar="PATH", help="the database")
    events.add_argument(
        "--after",
        type=_non_negative,
        default=0,
        metavar="N",
        help="only events with a sequence number above N (default 0: all)",
    )
    events.set_defaults(run=_events)
