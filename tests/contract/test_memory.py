"""The store contract against InMemoryStore."""

from __future__ import annotations

from omniorder import InMemoryStore
from omniorder.stores.base import Store
from omniorder.testing.contracts import StoreContract, Tamper
from omniorder.testing.tamper import MemoryTamper


class TestInMemoryStore(StoreContract):
    def make_store(self) -> Store:
        return InMemoryStore()

    def tamper(self, store: Store) -> Tamper | None:
        assert isinstance(store, InMemoryStore)
        return MemoryTamper(store)
