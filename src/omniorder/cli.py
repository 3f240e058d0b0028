"""The command line: ``omniorder`` (or ``python -m omniorder``).

Commands: ``demo`` tells the lost-sofa story against a real engine on a SQLite file;
``simulate`` plays reproducible days of omnichannel trade and prints the KPIs; ``verify`` checks
a database's ledger; ``events`` prints its events as JSON lines; ``diagram`` prints every state
table as Mermaid. Every command has ``--help``; bad arguments print one clear line and exit with
status 2. Tables and progress use ``rich`` when the ``cli`` extra is installed, plain text
otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from omniorder._cli import diagram, records, simulate
from omniorder._cli.demo import CHANNEL_NAMES, Step, run_demo
from omniorder._cli.output import fail
from omniorder.stores.sqlite import SQLiteStore

__all__ = ["main"]


def _format_step(number: int, step: Step) -> list[str]:
    lines = [f"{number}. [{step.at:%a %d %b %H:%M} UTC] {step.title}"]
    lines += [f"     {detail}" for detail in step.details]
    for sku, seen in step.seen.items():
        numbers = "  ".join(f"{CHANNEL_NAMES[c]} {n}" for c, n in seen.items())
        lines.append(f"     {sku:<22} {numbers}")
    return lines


def _summary(steps: list[Step]) -> list[str]:
    skus = list(steps[0].seen)
    width = max(len(name) for name in CHANNEL_NAMES.values()) + 2
    header = f"{'step':<6}" + "".join(f"{name:>{width}}" for name in CHANNEL_NAMES.values())
    rows = [f"What every channel saw, step by step ({' / '.join(skus)}):", header]
    for number, step in enumerate(steps, start=1):
        cells = ("/".join(str(step.seen[sku][c]) for sku in skus) for c in CHANNEL_NAMES)
        rows.append(f"{number:<6}" + "".join(f"{cell:>{width}}" for cell in cells))
    return rows


def _demo(args: argparse.Namespace) -> int:
    path: Path | None = args.db
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="omniorder-demo-")) / "demo.sqlite3"
    elif path.exists() and path.stat().st_size > 0:
        fail(f"demo tells its story on a new database; {path} already exists")
    print("omniorder demo: the lost sofa that cannot be lost")
    print(f"store: SQLite database {path}\n")
    steps: list[Step] = []
    store = SQLiteStore(path)
    try:
        for number, step in enumerate(run_demo(store), start=1):
            steps.append(step)
            print("\n".join(_format_step(number, step)), end="\n\n")
    finally:
        store.close()
    print("\n".join(_summary(steps)))
    print(f"\nThe ledger, reservations and events are in {path}.")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="omniorder",
        description="One truth about stock across every channel and location.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    demo = commands.add_parser(
        "demo",
        help="tell the lost-sofa story against a real engine",
        description="The lost-sofa story, step by step, with what each channel sees.",
    )
    demo.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="the SQLite file to create for the story (default: a new temporary file)",
    )
    demo.set_defaults(run=_demo)
    simulate.add_parser(commands)
    records.add_parsers(commands)
    diagram.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    try:
        status: int = args.run(args)
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
