"""The store contract suite: every command and every promise, for any store adapter.

Subclass :class:`StoreContract` in a test module, give it your store, and pytest runs the whole
suite against it::

    from omniorder.testing.contracts import StoreContract

    class TestMyStore(StoreContract):
        durable = True

        def make_store(self):
            return MyStore(...)

        def reopen(self, store):
            return MyStore(...)  # same data, new object

omniorder runs it against ``InMemoryStore``, ``SQLiteStore`` and ``PostgresStore``. It needs
pytest and Hypothesis (test dependencies, not runtime ones).
"""

from omniorder.testing.contracts.atomicity import AtomicityContract, DurabilityContract
from omniorder.testing.contracts.bad_input import BadInputContract
from omniorder.testing.contracts.base import ContractBase, Tamper
from omniorder.testing.contracts.concurrency import ConcurrencyContract
from omniorder.testing.contracts.events import EventContract
from omniorder.testing.contracts.idempotency import IdempotencyContract
from omniorder.testing.contracts.journeys import JourneysContract
from omniorder.testing.contracts.limits import LimitsContract
from omniorder.testing.contracts.orders import OrdersContract
from omniorder.testing.contracts.port import StaleWriteContract, StoreRefusalContract
from omniorder.testing.contracts.reservations import ReservationContract
from omniorder.testing.contracts.returns import ReturnsContract
from omniorder.testing.contracts.sell import SellContract
from omniorder.testing.contracts.stateful import StatefulContract
from omniorder.testing.contracts.stock import StockContract
from omniorder.testing.contracts.table import TableContract

__all__ = [
    "AtomicityContract",
    "BadInputContract",
    "ConcurrencyContract",
    "ContractBase",
    "DurabilityContract",
    "EventContract",
    "IdempotencyContract",
    "JourneysContract",
    "LimitsContract",
    "OrdersContract",
    "ReservationContract",
    "ReturnsContract",
    "SellContract",
    "StaleWriteContract",
    "StatefulContract",
    "StockContract",
    "StoreContract",
    "StoreRefusalContract",
    "TableContract",
    "Tamper",
]


class StoreContract(
    StockContract,
    SellContract,
    ReservationContract,
    TableContract,
    IdempotencyContract,
    EventContract,
    BadInputContract,
    ConcurrencyContract,
    StatefulContract,
    OrdersContract,
    JourneysContract,
    ReturnsContract,
    LimitsContract,
    AtomicityContract,
    DurabilityContract,
    StaleWriteContract,
    StoreRefusalContract,
):
    """Every contract at once: subclass it and implement ``make_store`` (and the other hooks)."""
