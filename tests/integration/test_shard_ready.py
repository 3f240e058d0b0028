"""Shard-ready (DESIGN §4, issue 15): every hot table's primary key begins with sku, a schema can
be created with its hot tables hash-partitioned by sku, and a command on one sku reads and writes
only that sku's partition (skipped without ``OMNIORDER_TEST_POSTGRES_DSN``).

A store written at schema 6 (the ledger keyed by seq alone) opens, is migrated by 0007 and works;
0007 run again changes nothing. A schema keeps the layout it was created with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniorder import Channel, Engine, InvalidInput, ManualClock, Mode
from omniorder.stores import _sql
from omniorder.testing.network import STORE_1, STORE_2, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOT = ("position", "ledger", "reservation_line")


@pytest.fixture
def schema() -> Iterator[tuple[str, str]]:
    dsn = postgres_dsn()
    name = new_schema()
    try:
        yield dsn, name
    finally:
        drop_schema(dsn, name)


def _keys(conn: Any, schema: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint AS k "
        "JOIN pg_class AS c ON c.oid = k.conrelid "
        "WHERE k.contype = 'p' AND c.relnamespace = %s::regnamespace",
        (schema,),
    )
    return dict(rows.fetchall())


def _indexes(conn: Any, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
        (schema, table),
    )
    return {row[0] for row in rows}


def test_a_store_written_at_schema_6_is_keyed_by_sku_first_and_0007_runs_again(
    schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from psycopg import sql

    from omniorder.stores.postgres import PostgresStore

    dsn, name = schema
    clock = ManualClock(START)
    with monkeypatch.context() as patch:
        patch.setattr(
            "omniorder.stores.postgres.migrations",
            lambda dialect: [step for step in _sql.migrations(dialect) if step[0] <= 6],
        )
        old = PostgresStore(dsn, schema=name)
        engine = Engine(sample_network(), store=old, clock=clock)
        engine.receive(STORE_2, "sofa", 3)
        held = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, mode=Mode.SHIP)
        engine.confirm(held.id)
        old.close()
    with psycopg.connect(dsn) as conn:
        assert _keys(conn, name)["ledger"] == "PRIMARY KEY (seq)"
        assert "ledger_by_position" in _indexes(conn, name, "ledger")
    store = PostgresStore(dsn, schema=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            keys = _keys(conn, name)
            assert keys["ledger"] == "PRIMARY KEY (sku, location, seq)"
            for table in HOT:
                assert keys[table].startswith("PRIMARY KEY (sku, location"), keys
            assert _indexes(conn, name, "ledger") == {"ledger_pkey", "ledger_by_seq"}
            # Safe to run again: the same schema afterwards.
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(name)))
            conn.execute(dict(_sql.migrations("postgres"))[7].encode())
            assert _keys(conn, name) == keys
            assert _indexes(conn, name, "ledger") == {"ledger_pkey", "ledger_by_seq"}
        engine = Engine(sample_network(), store=store, clock=clock)
        clock.advance(timedelta(minutes=1))
        engine.ship(held.id)
        engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB)
        with store.unit_of_work(read_only=True) as uow:
            ledger = [m.seq for m in uow.movements()]
        assert len(ledger) == 5
        assert ledger == sorted(set(ledger))
        assert engine.verify() == []
    finally:
        store.close()


def test_a_schema_keeps_the_layout_it_was_created_with(schema: tuple[str, str]) -> None:
    import psycopg

    from omniorder.stores.postgres import PostgresStore

    dsn, name = schema
    PostgresStore(dsn, schema=name, partitions=3).close()
    with psycopg.connect(dsn) as conn:
        for table in HOT:
            partitions = conn.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass",
                (f"{name}.{table}",),
            ).fetchone()
            assert partitions == (3,)
        assert _keys(conn, name)["ledger_p0"] == "PRIMARY KEY (sku, location, seq)"
    PostgresStore(dsn, schema=name, partitions=3).close()
    PostgresStore(dsn, schema=name).close()  # None: whatever layout the schema has
    with pytest.raises(InvalidInput, match="layout is chosen when it is created") as refused:
        PostgresStore(dsn, schema=name, partitions=4)
    assert refused.value.field == "partitions"
    plain = new_schema()
    try:
        PostgresStore(dsn, schema=plain).close()
        with pytest.raises(InvalidInput, match="position: 0"):
            PostgresStore(dsn, schema=plain, partitions=3)
    finally:
        drop_schema(dsn, plain)


@pytest.mark.parametrize("partitions", [0, -1, True, 2.0, "4", 1025])
def test_a_bad_number_of_partitions_is_refused_before_connecting(partitions: Any) -> None:
    from omniorder.stores.postgres import PostgresStore

    with pytest.raises(InvalidInput) as refused:
        PostgresStore("postgresql://nobody@127.0.0.1:1/none", partitions=partitions)
    assert refused.value.field == "partitions"


class _Recorder:
    """A connection stand-in that records each statement (and its parameters) it forwards."""

    def __init__(self, conn: Any, seen: list[tuple[Any, Any]]) -> None:
        self.conn = conn
        self.seen = seen

    def execute(self, query: Any, params: Any = None) -> Any:
        self.seen.append((query, params))
        return self.conn.execute(query, params)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        yield self  # executemany, one statement at a time

    def executemany(self, query: Any, rows: Any) -> None:
        for row in rows:
            self.execute(query, row)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_command_on_one_sku_reads_and_writes_only_its_partition(
    schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement on a hot table that receive, reserve (and its sweep of a lapsed hold),
    confirm, ship and release of one sku send, after other skus filled every partition:
    ``EXPLAIN`` names no partition but the sku's own. The statements name sku, so PostgreSQL
    prunes the other partitions (as a distributed engine routes them to one shard)."""
    import psycopg
    from psycopg import sql

    from omniorder.stores import postgres

    dsn, name = schema
    store = postgres.PostgresStore(dsn, schema=name, partitions=4)
    try:
        clock = ManualClock(START)
        engine = Engine(sample_network(), store=store, clock=clock)
        for n in range(40):  # enough skus for every partition
            engine.receive(STORE_1, f"filler-{n}", 1)
        engine.receive(STORE_2, "sofa", 5)
        engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=timedelta(minutes=1))
        clock.advance(timedelta(minutes=2))
        seen: list[tuple[Any, Any]] = []
        opened = postgres._PgUnitOfWork.__init__

        def recording(self: Any, conn: Any, **options: Any) -> None:
            recorder: Any = _Recorder(conn, seen)
            opened(self, recorder, **options)

        with monkeypatch.context() as patch:
            patch.setattr(postgres._PgUnitOfWork, "__init__", recording)
            engine.receive(STORE_2, "sofa", 1, key="k-receive")
            held = engine.reserve(STORE_2, {"sofa": 2}, channel=Channel.WEB, mode=Mode.SHIP)
            engine.confirm(held.id)
            engine.ship(held.id)
            other = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB)
            engine.release(other.id)
            engine.availability("sofa")
        with psycopg.connect(dsn) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(name)))
            row = conn.execute(
                "SELECT tableoid::regclass::text FROM position WHERE sku = 'sofa'"
            ).fetchone()
            assert row is not None
            own = str(row[0])
            filled = conn.execute("SELECT count(DISTINCT tableoid) FROM position").fetchone()
            assert filled == (4,)
            partition = own.rsplit("_", 1)[1]  # p0 .. p3
            checked, pruned = 0, 0
            for query, params in seen:
                text = query if isinstance(query, str) else query.as_string(conn)
                if not re.search(r"\b(position|ledger|reservation_line)\b", text):
                    continue
                plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {text}", params))
                touched = set(re.findall(r"\b(?:position|ledger|reservation_line)_(p\d+)\b", plan))
                assert touched <= {partition}, f"{text}\n{plan}"
                checked += 1
                pruned += touched == {partition}
        assert checked > 15
        assert pruned > 10  # the reads and updates name their partition
    finally:
        store.close()
