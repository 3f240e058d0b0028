"""What the stores say about files and names that are not theirs, damaged, or wrong.

A health check reports damage (a problem list, or a typed StoreError with the cause), never a
driver's exception; a database that is not omniorder's is refused and left as it was; a name the
database would change is refused before anything is created.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from omniorder import Engine, InvalidInput, SchemaError, SQLiteStore, StoreError
from omniorder.testing.network import STORE_1, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master"))


def _shop(path: Path) -> None:
    store = SQLiteStore(path)
    Engine(sample_network(), store=store).receive(STORE_1, "lamp", 3)
    store.close()


@pytest.mark.parametrize("read_only", [False, True])
def test_another_applications_database_is_refused_and_left_as_it_was(
    tmp_path: Path, read_only: bool
) -> None:
    foreign = tmp_path / "crm.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customer (name TEXT)")
        conn.execute("INSERT INTO customer VALUES ('Julia')")
    before = foreign.read_bytes()
    with pytest.raises(SchemaError, match="not an omniorder database"):
        SQLiteStore(foreign, read_only=read_only)
    assert foreign.read_bytes() == before
    assert _tables(foreign) == ["customer"]


def test_a_read_only_store_never_writes_and_refuses_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with pytest.raises(SchemaError):
        SQLiteStore(empty, read_only=True)
    assert empty.stat().st_size == 0
    shop = tmp_path / "shop.sqlite3"
    _shop(shop)
    store = SQLiteStore(shop, read_only=True)
    engine = Engine(sample_network(), store=store)
    try:
        assert engine.position(STORE_1, "lamp").on_hand == 3
        assert engine.verify() == []
        with pytest.raises(StoreError, match="readonly"):
            engine.receive(STORE_1, "lamp", 1)
    finally:
        store.close()


def test_the_integrity_check_reports_a_malformed_file_instead_of_raising(tmp_path: Path) -> None:
    shop = tmp_path / "shop.sqlite3"
    _shop(shop)
    store = SQLiteStore(shop)
    assert store.integrity_check() == []
    store.close()
    with shop.open("r+b") as file:  # scribble over the pages after the schema's first one
        file.seek(4096)
        file.write(b"\xa5" * 8192)
    store = SQLiteStore(shop)
    try:
        problems = store.integrity_check()
    finally:
        store.close()
    assert problems
    assert all(isinstance(p, str) and p for p in problems)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"path": None}, "path"),
        ({"path": "a\x00b"}, "path"),
        ({"path": ""}, "path"),
        ({"path": 5}, "path"),
        ({"busy_timeout": 5}, "busy_timeout"),
        ({"busy_timeout": timedelta(seconds=-1)}, "busy_timeout"),
        ({"synchronous": "OFF"}, "synchronous"),
        ({"read_only": "yes"}, "read_only"),
    ],
)
def test_a_sqlite_store_checks_its_arguments_like_a_command(
    tmp_path: Path, arguments: dict[str, object], field: str
) -> None:
    given: dict[str, object] = {"path": tmp_path / "shop.sqlite3", **arguments}
    with pytest.raises(InvalidInput) as refused:
        SQLiteStore(**given)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert not (tmp_path / "shop.sqlite3").exists()


@pytest.mark.parametrize(
    "schema",
    [
        "s" * 64,  # PostgreSQL would cut it to 63 bytes: two such names would share a schema
        "schéma",
        "1shop",
        "shop-1",
        "",
        None,
    ],
)
def test_a_schema_name_postgresql_would_change_is_refused(schema: object) -> None:
    from omniorder.stores.postgres import PostgresStore

    with pytest.raises(InvalidInput) as refused:
        PostgresStore("postgresql://nowhere.invalid/db", schema=schema)  # type: ignore[arg-type]
    assert refused.value.field == "schema"


def test_the_longest_schema_name_postgresql_keeps_is_accepted() -> None:
    from omniorder.stores.postgres import PostgresStore

    dsn = postgres_dsn()
    name = new_schema()
    name += "x" * (63 - len(name))
    store = PostgresStore(dsn, schema=name)
    try:
        Engine(sample_network(), store=store).receive(STORE_1, "lamp", 1)
        import psycopg

        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (name,)
            ).fetchone()
        assert row == (1,)
    finally:
        store.close()
        drop_schema(dsn, name)
