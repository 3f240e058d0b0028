"""The command line: ``omniorder`` (or ``python -m omniorder``).

Commands: ``demo`` tells the lost-sofa story against a real engine. Every command has ``--help``;
bad arguments print one clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from omniorder.demo import CHANNEL_NAMES, Step, run_demo
from omniorder.stores.memory import InMemoryStore

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


def _demo(_: argparse.Namespace) -> int:
    print("omniorder demo: the lost sofa that cannot be lost (in-memory store)\n")
    steps: list[Step] = []
    store = InMemoryStore()
    try:
        for number, step in enumerate(run_demo(store), start=1):
            steps.append(step)
            print("\n".join(_format_step(number, step)), end="\n\n")
    finally:
        store.close()
    print("\n".join(_summary(steps)))
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
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
