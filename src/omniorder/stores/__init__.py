"""Persistence: the :class:`Store` port and its adapters.

``InMemoryStore`` is here; ``SQLiteStore`` (the embedded default) and ``PostgresStore``
(``omniorder.stores.postgres``, extra ``postgres``) follow the same contract.
"""

from omniorder.stores.base import IdempotencyRecord, PositionKey, Store, UnitOfWork
from omniorder.stores.memory import InMemoryStore
from omniorder.stores.sqlite import SQLiteStore

__all__ = [
    "IdempotencyRecord",
    "InMemoryStore",
    "PositionKey",
    "SQLiteStore",
    "Store",
    "UnitOfWork",
]
