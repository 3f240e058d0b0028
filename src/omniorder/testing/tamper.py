"""Ways to corrupt the built-in stores behind the engine's back (to test ``verify()``)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

from omniorder.model.position import COUNTERS, Position
from omniorder.stores.memory import InMemoryStore
from omniorder.stores.sqlite import SQLiteStore
from omniorder.testing.contracts.base import Tamper

__all__ = ["MemoryTamper", "PostgresTamper", "SQLiteTamper"]


def _counter(name: str) -> str:
    if name not in COUNTERS:
        raise ValueError(f"no counter {name!r}")
    return name


class MemoryTamper(Tamper):
    """Corrupts an :class:`~omniorder.InMemoryStore` in place."""

    def __init__(self, store: InMemoryStore) -> None:
        self._state = store._state  # reaching in is the point

    def set_counter(self, location: str, sku: str, counter: str, value: int) -> bool:
        key = (location, sku)
        position = self._state.positions[key]
        counters = dict(zip(COUNTERS, position.counters(), strict=True))
        counters[_counter(counter)] = value
        self._state.positions[key] = Position(location, sku, **counters)
        return True

    def drop_movement(self, seq: int) -> None:
        del self._state.ledger[seq - 1]


class SQLiteTamper(Tamper):
    """Corrupts a :class:`~omniorder.SQLiteStore` with plain SQL on a connection of its own."""

    def __init__(self, store: SQLiteStore) -> None:
        self._path = store.path

    def _run(self, sql: str, params: tuple[object, ...]) -> None:
        with closing(sqlite3.connect(self._path, isolation_level=None)) as conn:
            conn.execute(sql, params)

    def set_counter(self, location: str, sku: str, counter: str, value: int) -> bool:
        try:
            self._run(
                f"UPDATE position SET {_counter(counter)} = ? WHERE location = ? AND sku = ?",
                (value, location, sku),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def drop_movement(self, seq: int) -> None:
        self._run("DELETE FROM ledger WHERE seq = ?", (seq,))

    def garble_movement(self, seq: int) -> None:
        self._run("UPDATE ledger SET kind = 'teleported' WHERE seq = ?", (seq,))

    def garble_event(self, seq: int) -> None:
        self._run('UPDATE event SET body = \'{"type": "Stock\' WHERE seq = ?', (seq,))


class PostgresTamper(Tamper):
    """Corrupts a :class:`~omniorder.stores.postgres.PostgresStore` with plain SQL."""

    def __init__(self, store: Any) -> None:
        self._dsn = store.dsn
        self._schema = store.schema

    def _run(self, query: str, params: tuple[object, ...]) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
            conn.execute(query, params)

    def set_counter(self, location: str, sku: str, counter: str, value: int) -> bool:
        import psycopg

        try:
            self._run(
                f"UPDATE position SET {_counter(counter)} = %s WHERE location = %s AND sku = %s",
                (value, location, sku),
            )
        except psycopg.errors.CheckViolation:
            return False
        return True

    def drop_movement(self, seq: int) -> None:
        self._run("DELETE FROM ledger WHERE seq = %s", (seq,))

    def garble_movement(self, seq: int) -> None:
        self._run("UPDATE ledger SET kind = 'teleported' WHERE seq = %s", (seq,))

    def garble_event(self, seq: int) -> None:
        # JSONB holds only valid JSON: the damage is a body that is no event.
        self._run("""UPDATE event SET body = '{"type": "Teleported"}' WHERE seq = %s""", (seq,))
