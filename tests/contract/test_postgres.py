"""The store contract against PostgresStore (a new schema per test, dropped afterwards).

Skipped without ``OMNIORDER_TEST_POSTGRES_DSN``; a failure instead when
``OMNIORDER_REQUIRE_POSTGRES=1`` (as in CI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from omniorder.stores.base import Store
from omniorder.testing.contracts import StoreContract, Tamper
from tests.postgres import drop_schema, new_schema, postgres_dsn

if TYPE_CHECKING:
    from omniorder.stores.postgres import PostgresStore


class TestPostgresStore(StoreContract):
    durable = True
    # Each step is a few network round trips: CI runs 50 examples of 30 steps here.
    stateful_examples = 50
    stateful_steps = 30

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _dsn(cls) -> None:
        cls.dsn = postgres_dsn()

    dsn = ""

    def make_store(self) -> Store:
        from omniorder.stores.postgres import PostgresStore

        return PostgresStore(self.dsn or postgres_dsn(), schema=new_schema(), max_size=12)

    def dispose(self, store: Store) -> None:
        pg = self._pg(store)
        pg.close()
        drop_schema(pg.dsn, pg.schema)

    def reopen(self, store: Store) -> Store:
        from omniorder.stores.postgres import PostgresStore

        pg = self._pg(store)
        return PostgresStore(pg.dsn, schema=pg.schema)

    def tamper(self, store: Store) -> Tamper | None:
        from omniorder.testing.tamper import PostgresTamper

        return PostgresTamper(self._pg(store))

    @staticmethod
    def _pg(store: Store) -> PostgresStore:
        from omniorder.stores.postgres import PostgresStore

        assert isinstance(store, PostgresStore)
        return store
