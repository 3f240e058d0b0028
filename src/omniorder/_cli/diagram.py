"""``omniorder diagram``: every state table as Mermaid, generated from the tables themselves."""

from __future__ import annotations

import argparse
from typing import Any

from omniorder.model.machine import Table
from omniorder.model.order_table import ORDER_TABLE
from omniorder.model.reservation import RESERVATION_TABLE
from omniorder.model.returns import RETURN_TABLE

__all__ = ["TABLES", "add_parser"]

TABLES: dict[str, Table[Any, Any]] = {
    "reservation": RESERVATION_TABLE,
    "return": RETURN_TABLE,
    "order": ORDER_TABLE,
}
"""Every state table, by name."""


def _diagram(args: argparse.Namespace) -> int:
    names = [args.table] if args.table else list(TABLES)
    blocks = [f"%% the {name} table\n{TABLES[name].mermaid()}" for name in names]
    print("\n\n".join(blocks))
    return 0


def add_parser(commands: Any) -> None:
    """Add ``diagram`` to the command line's subcommands."""
    diagram = commands.add_parser(
        "diagram",
        help="print every state table as a Mermaid diagram",
        description="Print the state tables (reservation, return) as Mermaid stateDiagram-v2.",
    )
    diagram.add_argument("--table", choices=sorted(TABLES), help="only this table")
    diagram.set_defaults(run=_diagram)
