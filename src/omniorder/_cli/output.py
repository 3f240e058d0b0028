"""Terminal output for the command line: rich tables and progress with the ``cli`` extra, plain
text without it, and the one-line error that exits with status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

__all__ = ["fail", "print_table", "progress"]


def fail(message: str, status: int = 2) -> NoReturn:
    """Print ``omniorder: error: message`` on stderr, on one line (a driver's multi-line message
    is joined with "; "), and exit with ``status`` (2: usage)."""
    one_line = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"omniorder: error: {one_line}", file=sys.stderr)
    raise SystemExit(status)


def _rich_console() -> object | None:
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on stdout: rich when it is installed and stdout is a terminal, else plain text."""
    console = _rich_console()
    if console is not None and sys.stdout.isatty():
        from rich.table import Table

        table = Table(title=title)
        for n, name in enumerate(header):
            table.add_column(name, justify="left" if n == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)  # type: ignore[attr-defined]
        return
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(title)
    for row in [header, *rows]:
        cells = [
            f"{cell:<{widths[i]}}" if i == 0 else f"{cell:>{widths[i]}}"
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress reporter ``(done, total)``: a rich bar on a terminal, else a line per step on
    stderr (so that stdout stays the result)."""
    if _rich_console() is not None and sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda done, _: bar.update(task, completed=done)
        return

    def plain(done: int, of: int) -> None:
        print(f"{label}: {done}/{of}", file=sys.stderr, flush=True)

    yield plain
