"""The store contract against SQLiteStore (a new database file per test)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from omniorder import SQLiteStore
from omniorder.stores.base import Store
from omniorder.testing.contracts import StoreContract, Tamper
from omniorder.testing.tamper import SQLiteTamper


class TestSQLiteStore(StoreContract):
    durable = True
    # Each step reads the whole store back to compare it with the model: CI runs 100 examples
    # of 50 steps here (the in-memory store runs the profile's 200).
    stateful_examples = 100

    def make_store(self) -> Store:
        return SQLiteStore(Path(tempfile.mkdtemp(prefix="omniorder-test-")) / "store.sqlite3")

    def dispose(self, store: Store) -> None:
        assert isinstance(store, SQLiteStore)
        store.close()
        shutil.rmtree(store.path.parent, ignore_errors=True)

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        return SQLiteStore(store.path)

    def tamper(self, store: Store) -> Tamper | None:
        assert isinstance(store, SQLiteStore)
        return SQLiteTamper(store)
