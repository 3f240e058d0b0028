"""A store written by the previous schema opens, is migrated, and keeps every promise (issue 15).

The fixtures in ``fixtures/`` were written by omniorder at schema 5 (``write_schema_5.py`` says
how): a store-wide clock row, gap-free counters and event numbers inside the event bodies.
Schema 6 keeps the clock guard on the rows a command writes and numbers events without a row
every command locks; old events keep their numbers and new ones come after them.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from omniorder import Channel, ClockWentBackwards, Engine, ManualClock, SQLiteStore
from omniorder.stores import _sql
from omniorder.stores.base import Store
from omniorder.testing.network import START, STORE_2, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn

FIXTURES = Path(__file__).parent / "fixtures"
OLD_EVENTS = 13
OLD_MOVEMENTS = 10
LAST_TIME = START + timedelta(hours=1)  # the fixture's last command


def _sqlite(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "schema_5.sqlite3"
    shutil.copyfile(FIXTURES / "schema_5.sqlite3", path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (5,)
    store = SQLiteStore(path)
    try:
        with sqlite3.connect(path) as conn:
            latest = _sql.migrations("sqlite")[-1][0]
            assert conn.execute("PRAGMA user_version").fetchone() == (latest,)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            assert "meta" not in tables
        yield store
    finally:
        store.close()


def _postgres() -> Iterator[Store]:
    import psycopg

    from omniorder.stores.postgres import PostgresStore

    dsn = postgres_dsn()
    schema = new_schema()
    script = (FIXTURES / "schema_5.pg.sql").read_text(encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script.replace("omniorder_schema_5", schema).encode())
    try:
        store = PostgresStore(dsn, schema=schema)
        try:
            with psycopg.connect(dsn) as conn:
                tables = {
                    row[0]
                    for row in conn.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (schema,),
                    )
                }
            assert not {"counter", "meta"} & tables
            yield store
        finally:
            store.close()
    finally:
        drop_schema(dsn, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres()


def test_a_store_written_at_schema_5_keeps_its_history_and_verifies(old_store: Store) -> None:
    engine = Engine(sample_network(), store=old_store, clock=ManualClock(LAST_TIME))
    events = engine.events()
    assert [e.seq for e in events] == list(range(1, OLD_EVENTS + 1))
    assert engine.verify() == []
    assert engine.order("order-1").order_id == "order-1"
    assert engine.position(STORE_2, "sofa").reserved == 2  # the live call-centre hold


def test_new_events_are_numbered_after_the_old_ones_and_paging_sees_each_once(
    old_store: Store,
) -> None:
    clock = ManualClock(LAST_TIME + timedelta(minutes=1))
    engine = Engine(sample_network(), store=old_store, clock=clock)
    seen = [e.seq for e in engine.events(limit=5)]
    engine.receive(STORE_2, "sofa", 1)
    engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB)
    while page := engine.events(after=seen[-1], limit=5):
        seen += [e.seq for e in page]
    assert len(seen) == len(set(seen)) == OLD_EVENTS + 2
    assert seen == sorted(seen)
    assert engine.verify() == []
    with old_store.unit_of_work(read_only=True) as uow:
        ledger = [m.seq for m in uow.movements()]
    assert ledger[:OLD_MOVEMENTS] == list(range(1, OLD_MOVEMENTS + 1))
    assert len(ledger) == OLD_MOVEMENTS + 2
    assert ledger == sorted(set(ledger))


def test_the_old_store_wide_time_still_guards_the_clock_on_every_old_row(
    old_store: Store,
) -> None:
    tolerance = old_store.clock_tolerance
    earlier = ManualClock(LAST_TIME - tolerance - timedelta(seconds=1))
    engine = Engine(sample_network(), store=old_store, clock=earlier)
    with pytest.raises(ClockWentBackwards):
        engine.receive(STORE_2, "sofa", 1)
    held = next(r for r in _live(old_store))
    with pytest.raises(ClockWentBackwards):
        engine.release(held)
    later = Engine(sample_network(), store=old_store, clock=ManualClock(LAST_TIME))
    assert later.release(held).id == held


def _live(store: Store) -> list[str]:
    from omniorder.model.reservation import ReservationState

    with store.unit_of_work(read_only=True) as uow:
        return [r.id for r in uow.reservations(states=[ReservationState.HELD])]
