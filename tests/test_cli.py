"""The command line: the demo tells the story; bad arguments exit 2 with one line."""

from __future__ import annotations

import importlib
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from omniorder import Channel, Engine, Event, SQLiteStore
from omniorder._cli.demo import demo_network
from omniorder.cli import main
from omniorder.model import RESERVATION_TABLE
from omniorder.model.order_table import ORDER_TABLE
from omniorder.model.returns import RETURN_TABLE
from omniorder.serialization import converter

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["demo", "simulate", "verify", "events", "diagram"]


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
    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
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
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci.count(commands[1]) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--days", "0"],
        ["simulate", "--days", "two"],
        ["simulate", "--store", "oracle"],
        ["simulate", "--store", "postgres"],
        ["simulate", "--store", "memory", "--db", "x.sqlite3"],
        ["simulate", "--store", "memory", "--dsn", "postgresql://shop"],
        ["simulate", "--db", "no/such/folder/sim.sqlite3"],
        ["events", "--db", "x.sqlite3", "--after", "two"],
        ["verify"],
        ["events", "--db", "x.sqlite3", "--after", "-1"],
        ["diagram", "--table", "orders"],
    ],
)
def test_each_command_refuses_bad_arguments_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("omniorder")


@pytest.fixture
def story(tmp_path: Path) -> Path:
    """A database with the demo's story in it."""
    db = tmp_path / "story.sqlite3"
    assert main(["demo", "--db", str(db)]) == 0
    return db


def test_verify_says_a_healthy_database_is_clean(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["verify", "--db", str(story)]) == 0
    assert "clean" in capsys.readouterr().out


def test_verify_exits_1_and_lists_what_disagrees_with_the_ledger(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(story) as conn:  # a counter changed behind the engine's back
        conn.execute("UPDATE position SET on_hand = on_hand + 3 WHERE location = 'camden'")
    capsys.readouterr()
    assert main(["verify", "--db", str(story)]) == 1
    out = capsys.readouterr().out
    assert "ledger: on_hand of" in out
    assert "discrepancies" in out


def _exit_status(argv: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


@pytest.mark.parametrize("command", ["verify", "events"])
def test_a_file_that_is_not_an_omniorder_database_exits_3_and_is_left_untouched(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "crm.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customer (name TEXT)")
    before = foreign.read_bytes()
    for path in (tmp_path / "missing.sqlite3", foreign):
        assert _exit_status([command, "--db", str(path)]) == 3
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "not an omniorder database" in line
    assert foreign.read_bytes() == before
    with sqlite3.connect(foreign) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["customer"]
    assert not (tmp_path / "missing.sqlite3").exists()


def test_verify_exits_4_on_a_damaged_file_or_row(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(story) as conn:
        conn.execute("UPDATE ledger SET kind = 'teleported' WHERE seq = 2")
    assert _exit_status(["verify", "--db", str(story)]) == 4
    assert "ledger row 2 is damaged" in capsys.readouterr().err
    with story.open("r+b") as file:  # a raw write into the middle of the file
        file.seek(4096 + 100)
        file.write(b"\xff" * 2000)
    assert _exit_status(["verify", "--db", str(story)]) == 4
    assert "damaged" in capsys.readouterr().err


def test_events_prints_json_lines_the_converter_reads_back(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["events", "--db", str(story), "--after", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    events = [converter.structure(json.loads(line), Event) for line in lines]
    assert [e.seq for e in events] == [6, 7, 8]


def test_diagram_prints_every_state_table_from_the_tables_themselves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["diagram"]) == 0
    out = capsys.readouterr().out
    assert RESERVATION_TABLE.mermaid() in out
    assert RETURN_TABLE.mermaid() in out
    assert ORDER_TABLE.mermaid() in out
    assert main(["diagram", "--table", "return"]) == 0
    assert RESERVATION_TABLE.mermaid() not in capsys.readouterr().out


def test_simulate_is_reproducible_and_ends_with_the_kpi_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--days", "2", "--stores", "3", "--skus", "10", "--seed", "5"]
    assert main([*args, "--store", "memory"]) == 0
    first = capsys.readouterr().out
    db = tmp_path / "sim.sqlite3"
    assert main([*args, "--db", str(db), "--plot", str(tmp_path / "kpis.png")]) == 0
    second = capsys.readouterr().out
    assert "Omnichannel KPIs" in first
    for channel in Channel:
        assert channel.value in first.split("Omnichannel KPIs")[1]
    # the same seed gives the same run, on another store
    assert (
        first.split("commands")[0].splitlines()[-1] == second.split("commands")[0].splitlines()[-1]
    )
    assert (
        first.split("Omnichannel KPIs")[1]
        == second.split("Omnichannel KPIs")[1].split("charts:")[0].rstrip() + "\n"
    )
    assert (tmp_path / "kpis.png").stat().st_size > 0
    assert main(["verify", "--db", str(db)]) == 0


def test_simulate_refuses_a_database_that_already_has_data(story: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--db", str(story)])
    assert exited.value.code == 2


def test_importing_omniorder_dunder_main_runs_no_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = importlib.import_module("omniorder.__main__")
    assert module.main is main
    assert capsys.readouterr() == ("", "")


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal, as a shell's stdout or stderr does."""

    def isatty(self) -> bool:
        return True


SIMULATE = ["simulate", "--days", "2", "--stores", "2", "--skus", "3", "--store", "memory"]


def test_on_a_terminal_simulate_draws_rich_tables_and_a_progress_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(SIMULATE) == 0
    drawn = out.getvalue()
    assert "Omnichannel KPIs" in drawn
    assert "\u2503" in drawn or "\u2502" in drawn  # rich's box lines
    assert "simulating days: 1/2" not in err.getvalue()  # a bar, not a line per day


def test_without_the_cli_extra_a_terminal_gets_plain_tables_and_a_line_per_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)  # what a missing extra looks like
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(SIMULATE) == 0
    assert "\u2502" not in out.getvalue()
    assert "Omnichannel KPIs" in out.getvalue()
    assert err.getvalue().splitlines() == ["simulating days: 1/2", "simulating days: 2/2"]


def test_simulate_plot_without_matplotlib_names_the_extra_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert _exit_status([*SIMULATE, "--plot", str(tmp_path / "kpis.png")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert last.startswith("omniorder: error: --plot needs matplotlib")
    assert 'pip install "omniorder[plot]"' in last
    assert not (tmp_path / "kpis.png").exists()


def test_simulate_on_an_unreachable_postgres_exits_2_with_the_store_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("psycopg")
    dsn = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert _exit_status(["simulate", "--store", "postgres", "--dsn", dsn]) == 2
    # libpq's message has a hint on a second line: the CLI joins it into its one line
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("omniorder: error: store failure: ")


def test_verify_exits_4_on_a_file_that_is_not_a_database_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    assert _exit_status(["verify", "--db", str(junk)]) == 4
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert str(junk) in line
    assert junk.read_bytes() == b"this is not a database" * 100


def test_verify_exits_4_and_lists_what_sqlites_integrity_check_finds(
    story: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An index that no longer matches its table: the rows read fine, the file is not sound.
    with sqlite3.connect(story) as conn:
        conn.execute("CREATE INDEX ledger_by_quantity ON ledger (seq)")
    conn.close()
    with sqlite3.connect(story) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX ledger_by_quantity ON ledger (kind)' "
            "WHERE name = 'ledger_by_quantity'"
        )
    conn.close()
    capsys.readouterr()
    assert _exit_status(["verify", "--db", str(story)]) == 4
    captured = capsys.readouterr()
    assert captured.out.startswith("integrity: ")
    assert "the file is damaged" in captured.err


@pytest.fixture
def long_log(tmp_path: Path) -> Path:
    """A database with more events than ``events`` reads in one page (1000)."""
    db = tmp_path / "long.sqlite3"
    store = SQLiteStore(db, synchronous="NORMAL")
    engine = Engine(demo_network(), store=store)
    location = demo_network().locations[0].id
    for n in range(1005):
        engine.receive(location, f"sku-{n % 7}", 1)
    store.close()
    return db


def test_events_streams_a_log_longer_than_a_page_without_losing_or_repeating_an_event(
    long_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["events", "--db", str(long_log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 1006))


def test_a_reader_that_stops_early_ends_events_quietly_with_status_0(long_log: Path) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "omniorder", "events", "--db", str(long_log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert json.loads(reader.stdout.readline())["seq"] == 1
    reader.stdout.close()  # as `| head -1` does
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 0
    assert err == b""
