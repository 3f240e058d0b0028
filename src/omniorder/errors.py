"""Every error omniorder raises (DESIGN §6), importable from here and from ``omniorder``.

::

    OmniOrderError
    ├── InvalidInput (ValueError)         bad arguments; nothing was written
    │   ├── MissingCapability             the location cannot do what the command needs
    │   ├── WrongLocation                 a reservation asked for where it is not
    │   └── ClockWentBackwards            the clock reads earlier than a row's last change
    ├── UnknownLocation (LookupError)
    ├── UnknownReservation (LookupError)
    ├── UnknownReturn (LookupError)
    ├── UnknownOrder (LookupError)
    ├── InsufficientStock                 lists every short line (Shortfall values)
    ├── InvalidTransition                 carries machine, state and command
    ├── InvalidPlan                       the solver broke validate's rules (a solver bug)
    ├── ReturnNotAllowed
    ├── IdempotencyConflict               names what differs from the first request
    ├── ConcurrencyConflict               another writer won; retry (with the same key)
    └── StoreError                        the back end failed; the driver's error is chained
        ├── SchemaError                   not an omniorder database, or a newer schema
        └── CommitOutcomeUnknown          the commit may have happened: retry with the same key
"""

from omniorder.model.errors import (
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

__all__ = [
    "ClockWentBackwards",
    "CommitOutcomeUnknown",
    "ConcurrencyConflict",
    "IdempotencyConflict",
    "InsufficientStock",
    "InvalidInput",
    "InvalidPlan",
    "InvalidTransition",
    "MissingCapability",
    "OmniOrderError",
    "ReturnNotAllowed",
    "SchemaError",
    "Shortfall",
    "StoreError",
    "UnknownLocation",
    "UnknownOrder",
    "UnknownReservation",
    "UnknownReturn",
    "WrongLocation",
]
