"""The store contract against PostgresStore on a schema whose hot tables (position, ledger,
reservation_line) are hash-partitioned by sku (``partitions=4``): the stand-in, on one server, for
a schema distributed by sku (Citus). Every test of the PostgreSQL contract runs here unchanged.

Skipped without ``OMNIORDER_TEST_POSTGRES_DSN``; a failure instead when
``OMNIORDER_REQUIRE_POSTGRES=1`` (as in CI).
"""

from __future__ import annotations

from omniorder.stores.base import Store
from tests.contract import test_postgres
from tests.postgres import new_schema, postgres_dsn

PARTITIONS = 4


# The module, not the class: a class imported here would be collected (and run) twice.
class TestPartitionedPostgresStore(test_postgres.TestPostgresStore):
    def make_store(self) -> Store:
        from omniorder.stores.postgres import PostgresStore

        return PostgresStore(
            self.dsn or postgres_dsn(), schema=new_schema(), max_size=12, partitions=PARTITIONS
        )

    def reopen(self, store: Store) -> Store:
        from omniorder.stores.postgres import PostgresStore

        pg = self._pg(store)
        # Opening it again checks the layout it was created with.
        return PostgresStore(pg.dsn, schema=pg.schema, partitions=PARTITIONS)
