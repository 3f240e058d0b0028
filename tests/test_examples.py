"""Every script in ``examples/`` runs to the end and tells its story.

Each example runs as its own process, as a reader would run it (``python examples/NN_name.py``
from the repository root), and must exit 0 with the key line of its story on stdout. A new
example is picked up by the glob; give it a key line in ``KEY_LINES``.

The PostgreSQL example gets ``OMNIORDER_TEST_POSTGRES_DSN`` as its ``OMNIORDER_POSTGRES_DSN``;
without one it is skipped (a failure when ``OMNIORDER_REQUIRE_POSTGRES=1``), like every other
PostgreSQL test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import postgres_dsn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NEEDS_POSTGRES = {"08_postgres_many_processes.py"}
DSN_FOR_EXAMPLES = "OMNIORDER_POSTGRES_DSN"

KEY_LINES: dict[str, list[str]] = {
    "01_lost_sofa.py": [
        "the till refuses: insufficient stock: green-velvet-sofa at camden",
        "res-1 is FULFILLED",
        "res-2 is EXPIRED",
        "green-velvet-armchair on sale -> web 1, app 1, store 1, call_center 1, marketplace 1",
        "ledger check: clean",
    ],
    "02_click_and_collect.py": [
        "offered: ['islington', 'croydon']",
        "ReservationReady -> notify the customer: order o-2001 is ready at islington",
        "reading-lamp on sale at islington -> web 2, app 2, store 2, call_center 2, marketplace 2",
        "line 1 reading-lamp: ordered 2, collected 1 in store, released 1",
    ],
    "03_chat_hold_expires.py": [
        "the policy gives call-centre holds 48 hours",
        "[Fri 09:00] expired: desk on sale -> web 1, app 1, store 1, call_center 1, marketplace 1",
        "refused: cannot confirm reservation 'res-1' in state EXPIRED",
        "swept ['res-1']",
    ],
    "04_return_in_store.py": [
        "ordered in web, returned in store: AUTHORIZED",
        "received as sellable and restocked: on hand 1, quarantine 0; on sale: web 1, till 1",
        "sold 1 at camden",
        "received damaged -> quarantine: on hand 0, quarantine 1; on sale: web 0, till 0",
        "order line 1: fulfilled 2, returned 2",
    ],
    "05_ship_to_store.py": [
        "res-1 is IN_TRANSIT",
        "at Bristol: inbound 1, on hand 0, committed 0; till may sell 0",
        "res-2 is READY",
        "['midlands transfer FULFILLED', 'bristol pickup FULFILLED']",
    ],
    "06_compare_solvers.py": [
        "1. 30 orders, 98 units, 7 locations, max 2 origins.",
        "local-search ",
        "Why the default solver sourced",
    ],
    "07_custom_solver.py": [
        "stores-first  cost  18.80, takes {'leeds': 1, 'manchester': 2}",
        "o-5001 is PLACED: {'leeds': 1, 'manchester': 2}",
        "refused, nothing written:",
    ],
    "08_postgres_many_processes.py": [
        "2. outcomes: {'held': 3, 'refused': 5}",
        "oversold? False",
        "ledger check across all processes: clean",
        "dropped the example's own schema",
    ],
}


def _run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env_without_dsn() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != DSN_FOR_EXAMPLES}


def test_the_examples_are_all_found() -> None:
    assert len(EXAMPLES) >= 8
    assert {path.name for path in EXAMPLES} >= set(KEY_LINES)


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_an_example_runs_and_tells_its_story(script: Path) -> None:
    env = _env_without_dsn()
    if script.name in NEEDS_POSTGRES:
        env[DSN_FOR_EXAMPLES] = postgres_dsn()
    done = _run(script, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "an example must say what happens"
    for line in KEY_LINES.get(script.name, []):
        assert line in done.stdout, f"{line!r} not in the output:\n{done.stdout}"


def test_every_example_has_a_story_in_its_docstring() -> None:
    for script in EXAMPLES:
        text = script.read_text(encoding="utf-8")
        assert text.startswith('"""'), f"{script.name} has no module docstring"
        assert 'if __name__ == "__main__":' in text, f"{script.name} has no main guard"


@pytest.mark.parametrize("script", sorted(NEEDS_POSTGRES))
def test_a_postgres_example_without_a_database_says_how_to_run_it(script: str) -> None:
    done = _run(ROOT / "examples" / script, _env_without_dsn())
    assert done.returncode == 0, done.stderr
    assert DSN_FOR_EXAMPLES in done.stdout
    assert len(done.stdout.strip().splitlines()) == 1
