"""omniorder: one truth about stock across every sales channel and every location.

Every channel (web, app, chat and call centre, store till, marketplace) reads and writes the same
ledger through one :class:`Engine`, so a unit held for one customer can never be sold to another,
and a hold nobody collects goes back on sale by itself.
"""

from omniorder.engine import Engine
from omniorder.errors import (
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    MissingCapability,
    OmniOrderError,
    ReturnNotAllowed,
    Shortfall,
    StoreError,
    UnknownLocation,
    UnknownOrder,
    UnknownReservation,
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
from omniorder.model.sale import Sale
from omniorder.stores import InMemoryStore, SQLiteStore

__version__ = "0.1.0.dev0"

__all__ = [
    "Capability",
    "Channel",
    "ClockWentBackwards",
    "CommitOutcomeUnknown",
    "ConcurrencyConflict",
    "Discrepancy",
    "Engine",
    "Event",
    "Geo",
    "IdempotencyConflict",
    "InMemoryStore",
    "InsufficientStock",
    "InvalidInput",
    "InvalidTransition",
    "Lane",
    "Line",
    "Location",
    "LocationKind",
    "ManualClock",
    "MissingCapability",
    "Mode",
    "Movement",
    "MovementKind",
    "Network",
    "OmniOrderError",
    "Policy",
    "Position",
    "Reservation",
    "ReservationLine",
    "ReservationState",
    "ReturnNotAllowed",
    "SQLiteStore",
    "Sale",
    "Shortfall",
    "StoreError",
    "SystemClock",
    "UnknownLocation",
    "UnknownOrder",
    "UnknownReservation",
]
