"""The reservation: stock held at one location, and its strict state machine (DESIGN §2.3).

Every method that changes a reservation is pure: it returns the new reservation and the ledger
movements the change needs, and raises :class:`~omniorder.InvalidTransition` when the table (or a
guard: an expiry, the reservation's mode) forbids it. The engine only writes what they return.

Expiry is exact. A HELD reservation at or past ``expires_at`` *is* expired for every reader and
every command, whether or not a sweep has stored it as EXPIRED yet: :meth:`Reservation.effective`
gives that view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Final

import attrs

from omniorder.model.errors import InvalidInput
from omniorder.model.machine import Table
from omniorder.model.position import MovementKind
from omniorder.model.values import Channel, Line, Mode, _trusted_line

__all__ = [
    "LIVE_STATES",
    "MODE_COMMANDS",
    "OPEN_STATES",
    "RESERVATION_TABLE",
    "SHIP_COMMANDS",
    "Change",
    "Reservation",
    "ReservationCommand",
    "ReservationLine",
    "ReservationState",
]


class ReservationState(StrEnum):
    """The states of a reservation (DESIGN §2.3)."""

    HELD = "HELD"
    """Soft hold (cart, chat agent, call centre); counts in ``reserved``; expires."""
    CONFIRMED = "CONFIRMED"
    """The order is placed: the stock is sold to this customer; counts in ``committed``."""
    READY = "READY"
    """Picked and waiting at the pickup counter until the pickup deadline; ``committed``."""
    IN_TRANSIT = "IN_TRANSIT"
    """A transfer on its way to the store: off the origin's shelf, in the store's ``inbound``."""
    FULFILLED = "FULFILLED"
    """Collected or shipped (terminal)."""
    RELEASED = "RELEASED"
    """Cancelled or rejected; the units are back on sale (terminal)."""
    EXPIRED = "EXPIRED"
    """The hold timed out or the customer never came; back on sale (terminal)."""


class ReservationCommand(StrEnum):
    """The commands of the reservation machine."""

    RESERVE = "reserve"
    PLACE = "place"
    EXTEND = "extend"
    CONFIRM = "confirm"
    MARK_READY = "mark_ready"
    SHIP = "ship"
    COLLECT = "collect"
    RELEASE = "release"
    EXPIRE = "expire"
    REJECT = "reject"
    DISPATCH = "dispatch"
    ARRIVE = "arrive"


_S = ReservationState
_C = ReservationCommand

RESERVATION_TABLE: Final = Table(
    name="reservation",
    states=ReservationState,
    commands=ReservationCommand,
    initial={_C.RESERVE: _S.HELD, _C.PLACE: _S.CONFIRMED, _C.ARRIVE: _S.READY},
    transitions={
        (_S.HELD, _C.EXTEND): _S.HELD,
        (_S.HELD, _C.CONFIRM): _S.CONFIRMED,
        (_S.HELD, _C.RELEASE): _S.RELEASED,
        (_S.HELD, _C.EXPIRE): _S.EXPIRED,
        (_S.CONFIRMED, _C.MARK_READY): _S.READY,
        (_S.CONFIRMED, _C.SHIP): _S.FULFILLED,
        (_S.CONFIRMED, _C.RELEASE): _S.RELEASED,
        (_S.CONFIRMED, _C.REJECT): _S.CONFIRMED,
        (_S.CONFIRMED, _C.DISPATCH): _S.IN_TRANSIT,
        (_S.IN_TRANSIT, _C.ARRIVE): _S.FULFILLED,
        (_S.READY, _C.COLLECT): _S.FULFILLED,
        (_S.READY, _C.EXPIRE): _S.EXPIRED,
        (_S.READY, _C.RELEASE): _S.RELEASED,
    },
    terminal=frozenset({_S.FULFILLED, _S.RELEASED, _S.EXPIRED}),
)
"""``(state, command) -> state`` for reservations: the whole truth (promise 7)."""

MODE_COMMANDS: Final[Mapping[ReservationCommand, frozenset[Mode]]] = {
    _C.MARK_READY: frozenset({Mode.PICKUP}),
    _C.COLLECT: frozenset({Mode.PICKUP}),
    _C.SHIP: frozenset({Mode.SHIP}),
    _C.DISPATCH: frozenset({Mode.TRANSFER}),
    _C.ARRIVE: frozenset({Mode.TRANSFER}),
}
"""Commands that only some modes admit; a command not listed is open to every mode."""

LIVE_STATES: Final = frozenset({_S.HELD, _S.CONFIRMED, _S.READY})
"""States whose units count in a position (``reserved`` for HELD, ``committed`` otherwise)."""

OPEN_STATES: Final = LIVE_STATES | {_S.IN_TRANSIT}
"""Every state that is not final (IN_TRANSIT units count in the destination's ``inbound``)."""

SHIP_COMMANDS: Final[Mapping[Mode, ReservationCommand]] = {
    Mode.SHIP: _C.SHIP,
    Mode.PICKUP: _C.SHIP,  # refused by MODE_COMMANDS: a pickup is collected, not shipped
    Mode.TRANSFER: _C.DISPATCH,
}
"""What ``engine.ship`` does, by mode: a parcel is shipped, a transfer is dispatched."""


class _Keep:
    """Marker: leave ``expires_at`` as it is."""


_KEEP = _Keep()

Change = tuple[MovementKind, str, int]
"""A movement a transition needs: ``(kind, sku, quantity)`` at the reservation's location."""


@attrs.frozen
class ReservationLine:
    """One sku of a reservation.

    Attributes:
        sku: the stock keeping unit.
        quantity: units reserved.
        fulfilled: units shipped or collected.
        released: units given back (released, expired, not collected).
    """

    sku: str
    quantity: int
    fulfilled: int = 0
    released: int = 0

    @property
    def open(self) -> int:
        """Units still held or committed: ``quantity - fulfilled - released``."""
        return self.quantity - self.fulfilled - self.released

    def _settle(self, *, fulfilled: int = 0, released: int = 0) -> ReservationLine:
        """This line with ``fulfilled`` more units fulfilled and ``released`` more released."""
        return ReservationLine(
            self.sku, self.quantity, self.fulfilled + fulfilled, self.released + released
        )


@attrs.frozen
class Reservation:
    """Stock held at one location for one customer.

    Attributes:
        id: unique id.
        location: where the stock is held.
        lines: one :class:`ReservationLine` per sku, sorted by sku.
        channel: the channel that made it.
        mode: how the units leave (:class:`Mode`).
        state: the :class:`ReservationState`.
        created_at: when it was made.
        expires_at: for HELD, when the hold expires; for READY, the pickup deadline; None once
            CONFIRMED; a terminal reservation keeps the last deadline it had.
        order_id: the order it belongs to, if any.
        version: 1 when made, +1 at every transition.
        updated_at: when it last changed state.
        destination: for a TRANSFER, the store the units travel to; else None.
    """

    id: str
    location: str
    lines: tuple[ReservationLine, ...]
    channel: Channel
    mode: Mode
    state: ReservationState
    created_at: datetime
    expires_at: datetime | None
    order_id: str | None = None
    version: int = 1
    updated_at: datetime | None = None
    destination: str | None = None

    @classmethod
    def hold(
        cls,
        *,
        id: str,  # noqa: A002 - the field's name
        location: str,
        quantities: Mapping[str, int],
        channel: Channel,
        mode: Mode,
        now: datetime,
        expires_at: datetime,
        order_id: str | None = None,
        destination: str | None = None,
    ) -> tuple[Reservation, list[Change]]:
        """A new HELD reservation and the HELD movements that reserve its units."""
        state = RESERVATION_TABLE.initial[_C.RESERVE]
        lines: list[ReservationLine] = []
        changes: list[Change] = []
        for sku, units in sorted(quantities.items()):  # one pass: no comprehension calls
            lines.append(ReservationLine(sku, units))
            changes.append((MovementKind.HELD, sku, units))
        made = cls(
            id=id,
            location=location,
            lines=tuple(lines),
            channel=channel,
            mode=mode,
            state=state,
            created_at=now,
            expires_at=expires_at,
            order_id=order_id,
            updated_at=now,
            destination=destination,
        )
        return made, changes

    @classmethod
    def place(
        cls,
        *,
        id: str,  # noqa: A002 - the field's name
        location: str,
        quantities: Mapping[str, int],
        channel: Channel,
        mode: Mode,
        now: datetime,
        order_id: str,
        destination: str | None = None,
    ) -> tuple[Reservation, list[Change]]:
        """A new CONFIRMED reservation of an order and the COMMITTED movements it needs."""
        state = RESERVATION_TABLE.initial[_C.PLACE]
        lines = tuple(ReservationLine(sku, q) for sku, q in sorted(quantities.items()))
        made = cls(
            id=id,
            location=location,
            lines=lines,
            channel=channel,
            mode=mode,
            state=state,
            created_at=now,
            expires_at=None,
            order_id=order_id,
            updated_at=now,
            destination=destination,
        )
        return made, [(MovementKind.COMMITTED, line.sku, line.quantity) for line in lines]

    @property
    def quantities(self) -> dict[str, int]:
        """``{sku: units reserved}``."""
        return {line.sku: line.quantity for line in self.lines}

    def quantity_lines(self) -> tuple[Line, ...]:
        """The units reserved as :class:`Line` values, by sku (what a new reservation's event
        names).

        Its skus and units were checked when it was made (:meth:`hold`, :meth:`place`,
        :meth:`await_pickup` take checked quantities), so they are not checked again.
        """
        made = []
        for line in self.lines:  # a loop, not a comprehension: one call fewer per event
            made.append(_trusted_line(line.sku, line.quantity))
        return tuple(made)

    def open_lines(self) -> tuple[Line, ...]:
        """The units still held or committed as :class:`Line` values, by sku, skipping lines
        with none open (not checked again either: see :meth:`quantity_lines`)."""
        made = []
        for line in self.lines:
            if units := line.open:
                made.append(_trusted_line(line.sku, units))
        return tuple(made)

    @property
    def open_quantities(self) -> dict[str, int]:
        """``{sku: units still held or committed}`` (zero once terminal)."""
        return {line.sku: line.open for line in self.lines}

    @property
    def is_live(self) -> bool:
        """Whether its units still count in the position (HELD, CONFIRMED or READY)."""
        return self.state in LIVE_STATES

    def is_due(self, now: datetime) -> bool:
        """Whether it should be expired at ``now`` (a HELD or READY past ``expires_at``)."""
        return (
            self.state in (_S.HELD, _S.READY)
            and self.expires_at is not None
            and now >= self.expires_at
        )

    @property
    def changed_at(self) -> datetime:
        """When it last changed: its last transition, or its making."""
        return self.updated_at or self.created_at

    def effective(self, now: datetime) -> Reservation:
        """The reservation as every reader must see it at ``now``.

        A HELD reservation at or past its expiry is EXPIRED with every unit released, even if
        the store still holds it as HELD (no sweep has run). Anything else is unchanged.
        """
        if self.state is _S.HELD and self.is_due(now):
            return attrs.evolve(
                self,
                state=_S.EXPIRED,
                lines=tuple(
                    ReservationLine(line.sku, line.quantity, line.fulfilled, line.quantity)
                    for line in self.lines
                ),
            )
        return self

    # -- transitions ---------------------------------------------------------------------------

    def _fire(self, command: ReservationCommand, now: datetime) -> ReservationState:
        seen = self.state
        reason = ""
        if seen is _S.HELD and self.is_due(now):  # what effective(now) shows: EXPIRED
            seen = _S.EXPIRED
            reason = f"the hold expired at {self.expires_at.isoformat() if self.expires_at else ''}"
        target = RESERVATION_TABLE.transitions.get((seen, command))
        if target is None:  # not in the table: fire raises InvalidTransition
            target = RESERVATION_TABLE.fire(seen, command, subject=self.id, reason=reason)
        modes = MODE_COMMANDS.get(command)
        if modes is not None and self.mode not in modes:
            allowed = "/".join(sorted(m.name for m in modes))
            raise RESERVATION_TABLE.refuse(
                seen,
                command,
                subject=self.id,
                reason=f"{command.value} is for {allowed} reservations; this one is "
                f"{self.mode.name}",
            )
        return target

    def _moved(
        self,
        state: ReservationState,
        now: datetime,
        *,
        lines: tuple[ReservationLine, ...] | None = None,
        expires_at: datetime | _Keep | None = _KEEP,
    ) -> Reservation:
        # Made field by field, not with attrs.evolve (which looks every field up again): a
        # transition is on every command's path.
        return Reservation(
            self.id,
            self.location,
            self.lines if lines is None else lines,
            self.channel,
            self.mode,
            state,
            self.created_at,
            self.expires_at if isinstance(expires_at, _Keep) else expires_at,
            self.order_id,
            self.version + 1,
            now,
            self.destination,
        )

    def extend(self, now: datetime, expires_at: datetime) -> Reservation:
        """HELD -> HELD with a new expiry (refused once the hold has expired)."""
        state = self._fire(_C.EXTEND, now)
        return self._moved(state, now, expires_at=expires_at)

    def confirm(self, now: datetime) -> tuple[Reservation, list[Change]]:
        """HELD -> CONFIRMED: the held units become committed (refused once expired)."""
        state = self._fire(_C.CONFIRM, now)
        moves = [(MovementKind.CONFIRMED, line.sku, line.open) for line in self.lines]
        return self._moved(state, now, expires_at=None), moves

    def mark_ready(self, now: datetime, deadline: datetime) -> Reservation:
        """CONFIRMED -> READY (PICKUP mode): waiting at the counter until ``deadline``."""
        state = self._fire(_C.MARK_READY, now)
        return self._moved(state, now, expires_at=deadline)

    @classmethod
    def await_pickup(
        cls,
        *,
        id: str,  # noqa: A002 - the field's name
        transfer: Reservation,
        now: datetime,
        deadline: datetime,
    ) -> tuple[Reservation, list[Change]]:
        """A READY pickup at the transfer's destination for the units that just arrived."""
        assert transfer.destination is not None
        state = RESERVATION_TABLE.initial[_C.ARRIVE]
        lines = tuple(ReservationLine(line.sku, line.open) for line in transfer.lines if line.open)
        made = cls(
            id=id,
            location=transfer.destination,
            lines=lines,
            channel=transfer.channel,
            mode=Mode.PICKUP,
            state=state,
            created_at=now,
            expires_at=deadline,
            order_id=transfer.order_id,
            updated_at=now,
        )
        return made, [(MovementKind.COMMITTED, line.sku, line.quantity) for line in lines]

    def dispatch(self, now: datetime) -> tuple[Reservation, list[Change], list[Change]]:
        """CONFIRMED -> IN_TRANSIT (TRANSFER mode): the units leave for the destination.

        Returns:
            The reservation, the movements at its origin, the movements at the destination.
        """
        state = self._fire(_C.DISPATCH, now)
        here = [(MovementKind.DISPATCHED, line.sku, line.open) for line in self.lines if line.open]
        there = [(MovementKind.INBOUND, line.sku, line.open) for line in self.lines if line.open]
        return self._moved(state, now), here, there

    def arrive(self, now: datetime) -> tuple[Reservation, list[Change]]:
        """IN_TRANSIT -> FULFILLED (TRANSFER mode): the units reached the destination's shelf.

        Returns:
            The reservation and the movements at the destination.
        """
        state = self._fire(_C.ARRIVE, now)
        there = [(MovementKind.ARRIVED, line.sku, line.open) for line in self.lines if line.open]
        lines = tuple(line._settle(fulfilled=line.open) for line in self.lines)
        return self._moved(state, now, lines=lines), there

    def ship(self, now: datetime) -> tuple[Reservation, list[Change]]:
        """CONFIRMED -> FULFILLED (SHIP mode): the parcel leaves the location."""
        state = self._fire(_C.SHIP, now)
        moves = [(MovementKind.FULFILLED, line.sku, line.open) for line in self.lines]
        lines = tuple(line._settle(fulfilled=line.open) for line in self.lines)
        return self._moved(state, now, lines=lines), moves

    def collect(
        self, now: datetime, quantities: Mapping[str, int] | None = None
    ) -> tuple[Reservation, list[Change]]:
        """READY -> FULFILLED: the customer takes ``quantities`` (default: everything).

        The units not collected are released exactly: they go back on sale.

        Raises:
            InvalidTransition: not READY, or the pickup deadline has passed.
            InvalidInput: a sku not in the reservation, more than reserved, or nothing at all.
        """
        state = self._fire(_C.COLLECT, now)
        if self.expires_at is not None and now >= self.expires_at:
            raise RESERVATION_TABLE.refuse(
                self.state,
                _C.COLLECT,
                subject=self.id,
                reason=f"the pickup deadline {self.expires_at.isoformat()} has passed",
            )
        taken = self.open_quantities if quantities is None else self._collectable(quantities)
        moves: list[Change] = []
        lines = []
        for line in self.lines:
            take = taken.get(line.sku, 0)
            rest = line.open - take
            if take:
                moves.append((MovementKind.FULFILLED, line.sku, take))
            if rest:
                moves.append((MovementKind.COMMIT_RELEASED, line.sku, rest))
            lines.append(line._settle(fulfilled=take, released=rest))
        return self._moved(state, now, lines=tuple(lines)), moves

    def _collectable(self, quantities: Mapping[str, int]) -> dict[str, int]:
        open_ = self.open_quantities
        for sku, units in quantities.items():
            if sku not in open_:
                raise InvalidInput(
                    f"reservation {self.id!r} holds no {sku!r}", field="lines", value=sku
                )
            if units > open_[sku]:
                raise InvalidInput(
                    f"cannot collect {units} of {sku!r}: reservation {self.id!r} holds "
                    f"{open_[sku]}",
                    field=f"lines[{sku!r}]",
                    value=units,
                )
        return dict(quantities)

    def reject(
        self, now: datetime, quantities: Mapping[str, int]
    ) -> tuple[Reservation, list[Change]]:
        """CONFIRMED -> CONFIRMED: the location could not pick ``quantities`` (a short pick).

        Those units are released from the reservation and taken off the location's on-hand
        (they are not there); the rest stays committed. Rejecting every open unit leaves a
        reservation with nothing open, which the caller then releases.

        Raises:
            InvalidTransition: not CONFIRMED.
            InvalidInput: a sku not in the reservation, or more than it holds open.
        """
        state = self._fire(_C.REJECT, now)
        open_ = self.open_quantities
        for sku, units in quantities.items():
            if units > open_.get(sku, 0):
                raise InvalidInput(
                    f"cannot reject {units} of {sku!r}: reservation {self.id!r} holds "
                    f"{open_.get(sku, 0)}",
                    field=f"lines[{sku!r}]",
                    value=units,
                )
        moves: list[Change] = []
        for sku, units in sorted(quantities.items()):
            moves += [
                (MovementKind.COMMIT_RELEASED, sku, units),
                (MovementKind.ADJUSTED, sku, -units),
            ]
        lines = tuple(line._settle(released=quantities.get(line.sku, 0)) for line in self.lines)
        return self._moved(state, now, lines=lines), moves

    def release(self, now: datetime) -> tuple[Reservation, list[Change]]:
        """HELD, CONFIRMED or READY -> RELEASED: every open unit goes back on sale."""
        state = self._fire(_C.RELEASE, now)
        return self._give_back(state, now)

    def expire(self, now: datetime) -> tuple[Reservation, list[Change]]:
        """HELD (hold timed out) or READY (no-show) -> EXPIRED, at or after ``expires_at``."""
        target = RESERVATION_TABLE.fire(self.state, _C.EXPIRE, subject=self.id)
        if not self.is_due(now):
            raise RESERVATION_TABLE.refuse(
                self.state, _C.EXPIRE, subject=self.id, reason="it is not due yet"
            )
        return self._give_back(target, now)

    def _give_back(
        self, state: ReservationState, now: datetime
    ) -> tuple[Reservation, list[Change]]:
        kind = MovementKind.HOLD_RELEASED if self.state is _S.HELD else MovementKind.COMMIT_RELEASED
        moves: list[Change] = []
        lines: list[ReservationLine] = []
        for line in self.lines:  # one pass: each line's open units are counted once
            units = line.open
            if units:
                moves.append((kind, line.sku, units))
            lines.append(line._settle(released=units))
        return self._moved(state, now, lines=tuple(lines)), moves
