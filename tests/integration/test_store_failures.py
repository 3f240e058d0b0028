"""What a caller sees when the database itself fails: typed errors only, never a driver's.

A connection lost while committing is the one case where the caller cannot know whether the
command was applied: it gets CommitOutcomeUnknown, and retrying with the same key is safe.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from omniorder import (
    Channel,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    Engine,
    ManualClock,
    SchemaError,
    SQLiteStore,
    StoreError,
)
from omniorder.model.position import Movement, MovementKind
from omniorder.stores.sqlite import wal_reset_bug_fixed
from omniorder.testing import take_snapshot
from omniorder.testing.network import START, STORE_1, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_a_database_is_a_store_error_and_is_left_alone(
    tmp_path: Path, read_only: bool
) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(junk, read_only=read_only)
    assert junk.read_bytes() == b"this is not a database" * 100


def test_a_database_in_a_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path / "missing" / "shop.sqlite3")


def test_a_schema_newer_than_this_omniorder_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    SQLiteStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    for read_only in (False, True):
        with pytest.raises(SchemaError, match="upgrade omniorder"):
            SQLiteStore(db, read_only=read_only)


def test_reopening_a_database_keeps_its_data_and_schema(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db, synchronous="NORMAL")
    Engine(sample_network(), store=store).receive(STORE_1, "lamp", 3)
    store.close()
    again = SQLiteStore(db)
    assert Engine(sample_network(), store=again).position(STORE_1, "lamp").on_hand == 3
    assert again.integrity_check() == []
    again.close()


def test_a_writer_that_waits_too_long_gets_a_concurrency_conflict(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db, busy_timeout=timedelta(milliseconds=20))
    engine = Engine(sample_network(), store=store, retries=1)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ConcurrencyConflict):
            engine.receive(STORE_1, "lamp", 1)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert engine.receive(STORE_1, "lamp", 1).on_hand == 1
    store.close()


def test_the_wal_reset_fix_is_recognised_by_version() -> None:
    assert not wal_reset_bug_fixed((3, 40, 1))
    assert not wal_reset_bug_fixed((3, 51, 2))
    assert wal_reset_bug_fixed((3, 51, 3))
    assert wal_reset_bug_fixed((3, 50, 7))
    assert not wal_reset_bug_fixed((3, 50, 6))
    assert wal_reset_bug_fixed((3, 44, 6))
    assert wal_reset_bug_fixed((3, 52, 0))


def test_the_linked_sqlite_is_logged_quietly_unless_processes_share_a_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omniorder.stores import sqlite as module

    monkeypatch.setattr(module, "wal_reset_bug_fixed", lambda: False)
    monkeypatch.setattr(module, "_warned_versions", set())
    with caplog.at_level(logging.DEBUG, logger="omniorder.stores.sqlite"):
        SQLiteStore(tmp_path / "a.sqlite3").close()
        SQLiteStore(tmp_path / "b.sqlite3").close()
        module._log_version(forked=True)  # what a store used across fork() says, once
        module._log_version(forked=True)
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.funcName == "_log_version"]
    assert [level for level, _ in said] == [logging.INFO, logging.WARNING]
    assert "several processes" in said[1][1]


def test_a_sqlite_with_the_wal_reset_fix_is_logged_once_at_info_and_never_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omniorder.stores import sqlite as module

    # The linked library is what it is; this is the answer a fixed one (3.51.3+) gives.
    monkeypatch.setattr(module, "wal_reset_bug_fixed", lambda: True)
    monkeypatch.setattr(module, "_warned_versions", set())
    with caplog.at_level(logging.DEBUG, logger="omniorder.stores.sqlite"):
        SQLiteStore(tmp_path / "a.sqlite3").close()
        SQLiteStore(tmp_path / "b.sqlite3").close()
        module._log_version(forked=True)
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.funcName == "_log_version"]
    assert said == [
        (logging.INFO, f"omniorder SQLiteStore: linked SQLite {sqlite3.sqlite_version}")
    ]


def test_a_store_used_across_fork_opens_its_own_connection_in_the_child(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    code = f"""
import os, sys
from omniorder import Engine, SQLiteStore
from omniorder.testing.network import STORE_1, sample_network
store = SQLiteStore({str(db)!r})
engine = Engine(sample_network(), store=store)
engine.receive(STORE_1, "lamp", 1)
child = os.fork()
if child == 0:
    engine.receive(STORE_1, "lamp", 2)
    os._exit(0)
_, status = os.waitpid(child, 0)
assert os.waitstatus_to_exitcode(status) == 0
print(engine.receive(STORE_1, "lamp", 4).on_hand)
store.close()
"""
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["7"]
    store = SQLiteStore(db)
    assert Engine(sample_network(), store=store).verify() == []
    store.close()


def test_an_empty_database_made_by_another_tool_is_given_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    with sqlite3.connect(db) as conn:  # a valid SQLite file with no tables left in it
        conn.execute("CREATE TABLE scratch (x)")
        conn.execute("DROP TABLE scratch")
    conn.close()
    assert db.stat().st_size > 0
    store = SQLiteStore(db)
    assert Engine(sample_network(), store=store).receive(STORE_1, "lamp", 1).on_hand == 1
    assert repr(store) == f"SQLiteStore({str(db)!r})"
    store.close()


def test_opening_a_database_while_another_writer_holds_it_is_a_store_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shop.sqlite3"
    SQLiteStore(db).close()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="cannot prepare"):
            SQLiteStore(db, busy_timeout=timedelta(0))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    SQLiteStore(db).close()  # free again, it opens


def test_a_second_unit_of_work_in_the_same_thread_is_refused_and_the_first_still_commits(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "shop.sqlite3")
    engine = Engine(sample_network(), store=store)
    with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(StoreError, match="already open in this thread"), store.unit_of_work():
            pass
        assert uow.events() == []
    assert engine.receive(STORE_1, "lamp", 1).on_hand == 1
    store.close()


def test_asking_a_sqlite_store_for_due_reservations_that_never_expire_is_a_store_error(
    tmp_path: Path,
) -> None:
    from omniorder import ReservationState

    store = SQLiteStore(tmp_path / "shop.sqlite3")
    with store.unit_of_work(read_only=True) as uow:
        with pytest.raises(StoreError, match="reservations expire"):
            uow.due_reservations(START, states=[ReservationState.CONFIRMED])
        assert uow.due_reservations(START, states=[ReservationState.HELD], keys=[]) == []
    store.close()


def test_the_package_logger_has_a_null_handler_and_prints_nothing_by_itself() -> None:
    import omniorder

    handlers = logging.getLogger(omniorder.__name__).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_the_test_helpers_say_which_extra_they_need_when_it_is_missing() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import omniorder.testing"
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert ran.returncode != 0
    assert 'pip install "omniorder[testing]"' in ran.stderr


def test_an_unreachable_postgres_is_a_store_error() -> None:
    pytest.importorskip("psycopg")
    from omniorder.stores.postgres import PostgresStore

    with pytest.raises(StoreError):
        PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    dsn = postgres_dsn()
    schema = new_schema()
    yield dsn, schema
    drop_schema(dsn, schema)


def _losing(dsn: str, schema: str, *, applied: bool) -> Any:
    """A PostgresStore whose next commit loses its connection, before or after applying."""
    import psycopg

    from omniorder.stores.postgres import PostgresStore

    class Losing(PostgresStore):
        armed = False

        def _commit(self, conn: psycopg.Connection[Any], uow: Any) -> None:
            if not self.armed:
                return super()._commit(conn, uow)
            self.armed = False
            if applied:
                super()._commit(conn, uow)
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            with psycopg.connect(dsn, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            return super()._commit(conn, uow)

    return Losing(dsn, schema=schema)


@pytest.mark.parametrize("applied", [False, True], ids=["lost-before", "lost-after"])
def test_a_connection_lost_while_committing_says_retry_with_the_same_key(
    pg: tuple[str, str], applied: bool
) -> None:
    store = _losing(*pg, applied=applied)
    engine = Engine(sample_network(), store=store, clock=ManualClock(START))
    engine.receive(STORE_1, "lamp", 5)
    before = take_snapshot(store)
    store.armed = True
    with pytest.raises(CommitOutcomeUnknown) as raised:
        engine.sell(STORE_1, {"lamp": 2}, key="till-7")
    assert raised.value.key == "till-7"
    assert "retry with the same key" in str(raised.value)
    assert (take_snapshot(store) == before) is not applied
    engine.sell(STORE_1, {"lamp": 2}, key="till-7")
    assert engine.position(STORE_1, "lamp").on_hand == 3  # sold once, whatever happened
    assert engine.verify() == []
    store.close()


def test_a_waiting_write_on_a_row_not_as_it_was_read_aborts_the_whole_command(
    pg: tuple[str, str],
) -> None:
    """A movement on a locked position is decided in Python and its write waits for the
    commit's round trip; the write checks on the server that the row is as it was read. Here
    the remembered row is made stale by hand (no other writer can change a locked row): the
    commit is refused with ConcurrencyConflict and nothing is written."""
    from omniorder.stores.postgres import PostgresStore

    store = PostgresStore(pg[0], schema=pg[1])
    engine = Engine(sample_network(), store=store, clock=ManualClock(START))
    engine.receive(STORE_1, "lamp", 5)
    before = take_snapshot(store)
    stock = Movement(0, START, STORE_1, "lamp", MovementKind.RECEIVED, 1, "stale", None)

    def move_on_a_stale_row() -> None:
        with store.unit_of_work() as uow:
            (position,) = uow.positions([(STORE_1, "lamp")], for_update=True)
            changed = uow._held[(STORE_1, "lamp")][1]
            uow._held[(STORE_1, "lamp")] = (attrs.evolve(position, on_hand=6), changed)
            uow.move(stock)

    with pytest.raises(ConcurrencyConflict):
        move_on_a_stale_row()
    assert take_snapshot(store) == before
    store.close()


def test_a_version_2_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    """Schema files are applied in order; a rebuilt table keeps every row."""
    from omniorder.stores._sql import migrations

    source = SQLiteStore(tmp_path / "source.sqlite3")
    engine = Engine(sample_network(), store=source, clock=ManualClock(START))
    engine.receive(STORE_1, "lamp", 2)
    held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
    source.close()
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as conn:  # version 2, as an older omniorder left it ...
        for version, script in migrations("sqlite")[:2]:
            conn.executescript(script)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("ATTACH DATABASE ? AS source", (str(tmp_path / "source.sqlite3"),))
        for table in ("position", "ledger", "reservation", "reservation_line", "event"):
            columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})"))
            copy = f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM source.{table}"
            conn.execute(copy)
        conn.commit()  # ... with the rows in its columns
        conn.execute("DETACH DATABASE source")
    again = SQLiteStore(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations("sqlite"))
    engine = Engine(sample_network(), store=again, clock=ManualClock(START))
    assert engine.reservation(held.id).quantities == {"lamp": 1}
    assert engine.verify() == []
    assert again.integrity_check() == []
    again.close()
