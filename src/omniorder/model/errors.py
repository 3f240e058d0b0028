"""The error tree of DESIGN §6.

Every error raised by omniorder derives from :class:`OmniOrderError` and carries structured
fields, not only a message. Errors that resemble a built-in also subclass it: :class:`InvalidInput`
is a :class:`ValueError`; the ``Unknown*`` errors are :class:`LookupError`.

The tree lives in the pure ``model`` layer (so domain rules can raise it) and is re-exported by
:mod:`omniorder.errors` and :mod:`omniorder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

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


class OmniOrderError(Exception):
    """Base class of every error omniorder raises.

    Subclasses keep their data in attributes; ``str(error)`` is a one-line human message.
    Errors pickle (they cross process boundaries in multi-process deployments and tests).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the structured fields, not from ``args`` (which holds only the message).
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[OmniOrderError], state: dict[str, Any]) -> OmniOrderError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class InvalidInput(OmniOrderError, ValueError):
    """A caller passed a value the command cannot accept; nothing was written.

    Attributes:
        field: the argument or field at fault (``"quantity"``, ``"lines['sofa']"``, ...), or
            ``""`` when the problem is not about one field.
        value: the offending value, as given (its ``repr`` is in the message).
        problems: every problem found, for inputs validated as a whole (JSON payloads).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str = "",
        value: object = None,
        problems: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.problems = tuple(problems) or (message,)


class MissingCapability(InvalidInput):
    """The location lacks the capability the command needs (a till to sell, a counter to pick up).

    Attributes:
        location: the location id.
        capability: the value of the missing :class:`~omniorder.Capability` (``"sell"``, ...).
    """

    def __init__(self, location: str, capability: str, command: str) -> None:
        super().__init__(
            f"{command} needs a location with {capability.upper()}; {location!r} has none",
            field="location",
            value=location,
        )
        self.location = location
        self.capability = capability
        self.command = command


class WrongLocation(InvalidInput):
    """A reservation was asked for somewhere it is not (collecting at another store).

    Attributes:
        reservation_id: the reservation.
        location: where it actually is.
        at: where it was asked for.
    """

    def __init__(self, reservation_id: str, location: str, at: str) -> None:
        super().__init__(
            f"reservation {reservation_id!r} waits at {location!r}, not at {at!r}",
            field="at",
            value=at,
        )
        self.reservation_id = reservation_id
        self.location = location
        self.at = at


class ClockWentBackwards(InvalidInput):
    """The clock reads earlier than the last change of a row the command writes (a position, a
    reservation, an order or a return, beyond the store's ``clock_tolerance``); nothing was
    written.

    Attributes:
        now: what the clock said.
        last: the time of that row's last change.
    """

    def __init__(self, now: object, last: object) -> None:
        super().__init__(
            f"the clock reads {now}, earlier than the last stored change {last}",
            field="clock",
            value=now,
        )
        self.now = now
        self.last = last


class UnknownLocation(OmniOrderError, LookupError):
    """No location with this id is in the network.

    Attributes:
        location: the id asked for.
    """

    def __init__(self, location: str) -> None:
        super().__init__(f"unknown location {location!r}")
        self.location = location


class UnknownReservation(OmniOrderError, LookupError):
    """No reservation with this id exists.

    Attributes:
        reservation_id: the id asked for.
    """

    def __init__(self, reservation_id: str) -> None:
        super().__init__(f"unknown reservation {reservation_id!r}")
        self.reservation_id = reservation_id


class UnknownOrder(OmniOrderError, LookupError):
    """No order with this id exists.

    Attributes:
        order_id: the id asked for.
    """

    def __init__(self, order_id: str) -> None:
        super().__init__(f"unknown order {order_id!r}")
        self.order_id = order_id


class UnknownReturn(OmniOrderError, LookupError):
    """No return authorisation with this id exists.

    Attributes:
        rma_id: the id asked for.
    """

    def __init__(self, rma_id: str) -> None:
        super().__init__(f"unknown return authorisation {rma_id!r}")
        self.rma_id = rma_id


@attrs.frozen
class Shortfall:
    """One line that cannot be served.

    Attributes:
        sku: the stock keeping unit.
        location: where it was asked for.
        requested: the units asked for.
        available: the units that could be given at that moment.
    """

    sku: str
    location: str
    requested: int
    available: int


class InsufficientStock(OmniOrderError):
    """Not enough stock for one or more lines; nothing was written.

    Attributes:
        lines: every short line (never only the first), as :class:`Shortfall` values.
    """

    def __init__(self, lines: Sequence[Shortfall]) -> None:
        shorts = "; ".join(
            f"{s.sku} at {s.location}: requested {s.requested}, available {s.available}"
            for s in lines
        )
        super().__init__(f"insufficient stock: {shorts}")
        self.lines = tuple(lines)


class InvalidTransition(OmniOrderError):
    """The state machine does not allow this command in this state; nothing was written.

    Attributes:
        machine: the name of the state table (``"reservation"``, ...).
        state: the state's value (``"HELD"``, ...), as the caller would observe it.
        command: the command's value (``"confirm"``, ...).
        subject: the id of the reservation (or other record), ``""`` if none.
        reason: why, when the table alone does not say it (an expiry passed, a wrong mode).
    """

    def __init__(
        self, machine: str, state: str, command: str, *, subject: str = "", reason: str = ""
    ) -> None:
        what = f"{machine} {subject!r}" if subject else machine
        because = f": {reason}" if reason else ""
        super().__init__(f"cannot {command} {what} in state {state}{because}")
        self.machine = machine
        self.state = state
        self.command = command
        self.subject = subject
        self.reason = reason


class InvalidPlan(OmniOrderError):
    """The engine's solver returned a plan that breaks the rules of ``validate``; nothing was
    written. A bug in the solver, not in the caller's input or the store.

    Attributes:
        solver: the solver's name.
        order_id: the order it was sourcing.
        problems: what ``validate`` found wrong.
    """

    def __init__(self, solver: str, order_id: str, problems: list[str]) -> None:
        super().__init__(
            f"solver {solver!r} returned an invalid plan for {order_id!r}: "
            + "; ".join(problems[:5])
        )
        self.solver = solver
        self.order_id = order_id
        self.problems = problems


class ReturnNotAllowed(OmniOrderError):
    """A return request is not eligible under the return policy; nothing was written.

    Attributes:
        order_id: the order the return was asked for.
        reason: why it is refused.
    """

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"return for order {order_id!r} not allowed: {reason}")
        self.order_id = order_id
        self.reason = reason


class IdempotencyConflict(OmniOrderError):
    """An idempotency key was reused for a different command or a different request.

    Attributes:
        key: the idempotency key.
        command: the command now attempted.
        stored_command: the command first recorded under the key.
        differences: the request fields whose values differ from the first request.
    """

    def __init__(
        self, key: str, command: str, stored_command: str, differences: Sequence[str]
    ) -> None:
        if command != stored_command:
            detail = f"it was first used for {stored_command}, not {command}"
        else:
            detail = "the request differs in " + ", ".join(differences)
        super().__init__(f"idempotency key {key!r} already used: {detail}")
        self.key = key
        self.command = command
        self.stored_command = stored_command
        self.differences = tuple(differences)


class ConcurrencyConflict(OmniOrderError):
    """Another writer changed the same records first and retrying did not resolve it.

    Nothing was written; retrying the command (with the same key) is safe.

    Attributes:
        detail: what collided.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(f"concurrent change: {detail}; nothing was written, retry")
        self.detail = detail


class StoreError(OmniOrderError):
    """The store failed for a reason that is not the caller's input (disk, network, database).

    The driver's own exception is chained as ``__cause__``. Nothing was written.

    Attributes:
        detail: what failed.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(f"store failure: {detail}")
        self.detail = detail


class SchemaError(StoreError):
    """The database is not one this omniorder can use: it holds no omniorder schema (another
    application's file, or an empty one opened read-only), or a schema newer than this release.

    Nothing was created or changed in it.

    Attributes:
        detail: what was found instead.
    """


class CommitOutcomeUnknown(StoreError):
    """The connection was lost while committing: the command may or may not have been applied.

    Retry with the same idempotency ``key``: that is safe, and returns the first result if the
    commit had in fact succeeded.

    Attributes:
        key: the idempotency key of the command, if one was given.
    """

    def __init__(self, detail: str, key: str | None) -> None:
        super().__init__(detail)
        hint = "retry with the same key" if key else "pass key= to make such retries safe"
        self.message = f"commit outcome unknown ({detail}); {hint}"
        self.args = (self.message,)
        self.key = key
