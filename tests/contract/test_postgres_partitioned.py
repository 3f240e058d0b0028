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
    # The families below run on the plain layout only: each case refuses a command before or
    # at one store call and compares snapshots, which the tables' layout plays no part in (the
    # statements, their transactions and their rollbacks are the same on both). Everything
    # else, the stateful machine included, runs here too.
    test_bad_input_is_refused_with_invalid_input_and_changes_nothing = None  # type: ignore[assignment]
    test_a_failure_at_any_store_call_leaves_the_state_before_or_after = None  # type: ignore[assignment]
    test_a_process_killed_at_any_store_call_leaves_the_state_before_or_after = None  # type: ignore[assignment]
    stateful_examples = 25

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
