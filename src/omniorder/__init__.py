"""omniorder: one truth about stock across every sales channel and every location.

Every channel (web, app, chat and call centre, store till, marketplace) reads and writes the same
ledger through one :class:`Engine`, so a unit held for one customer can never be sold to another,
and a hold nobody collects goes back on sale by itself.
"""

import logging

from omniorder.engine import Engine
from omniorder.errors import (
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidPlan,
    InvalidTransition,
    MissingCapability,
    OmniOrderError,
    ReturnNotAllowed,
    SchemaError,
    Shortfall,
    StoreError,
    UnknownLocation,
    UnknownOrder,
    UnknownReservation,
    UnknownReturn,
    WrongLocation,
)
from omniorder.model import (
    Capability,
    Channel,
    Discrepancy,
    Event,
    Geo,
    Lane,
    Line,
    Location,
    LocationKind,
    ManualClock,
    Mode,
    Movement,
    MovementKind,
    Network,
    Policy,
    Position,
    Reservation,
    ReservationLine,
    ReservationState,
    SystemClock,
)
from omniorder.model.order import (
    LineView,
    Order,
    OrderLine,
    OrderStatus,
    OrderView,
    Pickup,
    Ship,
    ShipToStore,
)
from omniorder.model.returns import (
    Condition,
    Disposition,
    Inspection,
    ReturnAuthorization,
    ReturnPolicy,
    ReturnState,
)
from omniorder.model.sale import Sale
from omniorder.stores import InMemoryStore, SQLiteStore

# A library logs; the application decides where logs go (and nothing prints without it).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0.dev0"

__all__ = [
    "Capability",
    "Channel",
    "ClockWentBackwards",
    "CommitOutcomeUnknown",
    "ConcurrencyConflict",
    "Condition",
    "Discrepancy",
    "Disposition",
    "Engine",
    "Event",
    "Geo",
    "IdempotencyConflict",
    "InMemoryStore",
    "Inspection",
    "InsufficientStock",
    "InvalidInput",
    "InvalidPlan",
    "InvalidTransition",
    "Lane",
    "Line",
    "LineView",
    "Location",
    "LocationKind",
    "ManualClock",
    "MissingCapability",
    "Mode",
    "Movement",
    "MovementKind",
    "Network",
    "OmniOrderError",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderView",
    "Pickup",
    "Policy",
    "Position",
    "Reservation",
    "ReservationLine",
    "ReservationState",
    "ReturnAuthorization",
    "ReturnNotAllowed",
    "ReturnPolicy",
    "ReturnState",
    "SQLiteStore",
    "Sale",
    "SchemaError",
    "Ship",
    "ShipToStore",
    "Shortfall",
    "StoreError",
    "SystemClock",
    "UnknownLocation",
    "UnknownOrder",
    "UnknownReservation",
    "UnknownReturn",
    "WrongLocation",
]
