"""The command line: the demo tells the story; bad arguments exit 2 with one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from omniorder import Engine, SQLiteStore
from omniorder.cli import main
from omniorder.demo import demo_network
from omniorder.model import RESERVATION_TABLE

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_tells_the_lost_sofa_story_on_sqlite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "story.sqlite3"
    assert main(["demo", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"store: SQLite database {db}" in out
    store = SQLiteStore(db)
    assert len(Engine(demo_network(), store=store).events()) == 8
    store.close()
    assert "the till: refused: insufficient stock: green-velvet-sofa at camden" in out
    assert "collects her sofa" in out
    assert "the hold is EXPIRED the moment it expires" in out
    assert "ledger check: clean" in out
    table = out.split("What every channel saw")[1].split("\n\n")[0].splitlines()
    assert table[2].split() == ["1", "1/1", "1/1", "1/1", "1/1", "1/1"]
    assert table[3].split() == ["2", "0/1", "0/1", "0/1", "0/1", "0/1"]
    assert table[-1].split() == ["8", "0/1", "0/1", "0/1", "0/1", "0/1"]


def test_python_dash_m_runs_the_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "omniorder", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "lost sofa" in done.stdout
    assert "store: SQLite database " in done.stdout


def test_the_demo_refuses_a_database_that_already_has_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "story.sqlite3"
    assert main(["demo", "--db", str(db)]) == 0
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--db", str(db)])
    assert exited.value.code == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["bogus"], ["demo", "--frobnicate"]])
def test_bad_arguments_print_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("omniorder")
    assert "error" in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    assert "lost-sofa" in capsys.readouterr().out


def test_the_readme_diagram_is_the_reservation_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    assert block.group(1).strip() == RESERVATION_TABLE.mermaid().strip()


def test_the_readme_gives_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```console\n(.*?)\n```", readme, re.DOTALL)
    assert commands[0] == "pip install -e . && python -m omniorder demo"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == commands[1]
