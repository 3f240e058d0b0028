"""One command's transaction: the only place a command writes stock, reservations and events.

:class:`Work` wraps a unit of work with the command's time and idempotency key, and offers the few
writes a command is made of. Every stock change goes through :meth:`Work.move` (position and
ledger together: the one write path); the transitions several commands share (opening a hold or a
commitment, confirm, release, fulfil, expire, and the ReservationReady announcement) are written
here once, with their events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from omniorder.model.errors import UnknownReservation
from omniorder.model.events import (
    Event,
    ReservationConfirmed,
    ReservationExpired,
    ReservationFulfilled,
    ReservationHeld,
    ReservationPlaced,
    ReservationReady,
    ReservationReleased,
)
from omniorder.model.position import Movement, MovementKind, Position
from omniorder.model.reservation import Change, Reservation, ReservationState
from omniorder.model.values import lines_of
from omniorder.stores.base import PositionKey, UnitOfWork, sorted_keys

__all__ = ["Work", "effective_positions"]

_HELD = (ReservationState.HELD,)


class Work:
    """A command in progress: a unit of work, the command's time and its idempotency key."""

    __slots__ = ("key", "now", "uow")

    def __init__(self, uow: UnitOfWork, now: datetime, key: str | None) -> None:
        self.uow = uow
        self.now = now
        self.key = key

    def emit(self, event: Event) -> None:
        """Append ``event`` to the outbox."""
        self.uow.append_event(event)

    def move(
        self,
        location: str,
        sku: str,
        kind: MovementKind,
        quantity: int,
        reference: str,
        *,
        keep: int = 0,
    ) -> Position:
        """Change one position and append the movement to the ledger, in one step."""
        movement = Movement(0, self.now, location, sku, kind, quantity, reference, self.key)
        return self.uow.move(movement, keep=keep)

    def positions(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Position]:
        """The positions of ``keys`` (zero where none is stored), locked in canonical order.

        Holds on them that are past their expiry are expired first, so every decision made on
        these positions sees exactly the stock that is free at ``now`` (promise 6).
        """
        ordered = sorted_keys(keys)
        self.sweep(ordered)
        stored = self.uow.positions(ordered, for_update=True)
        if len(ordered) == 1:  # one position (a one-line command): stored, or not yet
            return {ordered[0]: stored[0] if stored else Position(*ordered[0])}
        found = {(p.location, p.sku): p for p in stored}
        return {k: found.get(k) or Position(*k) for k in ordered}

    def sweep(self, keys: Collection[PositionKey] | None = None) -> list[Reservation]:
        """Expire every HELD reservation past its expiry (touching ``keys``, or anywhere)."""
        due = self.uow.due_reservations(self.now, states=_HELD, keys=keys, for_update=True)
        return [self.expire(r) for r in due] if due else []

    def expire(self, reservation: Reservation) -> Reservation:
        """Expire a due HELD or READY reservation: units back on sale, ReservationExpired."""
        expired, changes = reservation.expire(self.now)
        self.apply(expired, changes)
        self.save(expired)
        assert reservation.expires_at is not None  # guaranteed by Reservation.expire
        self.emit(
            ReservationExpired(
                at=self.now,
                reservation_id=expired.id,
                location=expired.location,
                channel=expired.channel,
                order_id=expired.order_id,
                previous=reservation.state,
                lines=lines_of({sku: q for _, sku, q in changes}),
                expires_at=reservation.expires_at,
            )
        )
        return expired

    def open(
        self,
        reservation: Reservation,
        changes: list[Change],
        positions: Mapping[PositionKey, Position],
    ) -> Reservation:
        """Write a new HELD or CONFIRMED reservation: its movements (each keeping the units its
        channel may not take, read from ``positions``), the record, and ReservationHeld or
        ReservationPlaced."""
        for kind, sku, units in changes:
            keep = positions[(reservation.location, sku)].buffer(reservation.channel)
            self.move(reservation.location, sku, kind, units, reservation.id, keep=keep)
        self.uow.add_reservation(reservation)
        lines = reservation.quantity_lines()
        if reservation.state is ReservationState.HELD:
            assert reservation.expires_at is not None  # every hold has an expiry
            self.emit(
                ReservationHeld(
                    at=self.now,
                    reservation_id=reservation.id,
                    location=reservation.location,
                    channel=reservation.channel,
                    order_id=reservation.order_id,
                    mode=reservation.mode,
                    lines=lines,
                    expires_at=reservation.expires_at,
                )
            )
        else:
            self.emit(
                ReservationPlaced(
                    at=self.now,
                    reservation_id=reservation.id,
                    location=reservation.location,
                    channel=reservation.channel,
                    order_id=reservation.order_id,
                    mode=reservation.mode,
                    lines=lines,
                )
            )
        return reservation

    def confirm(self, reservation: Reservation) -> Reservation:
        """HELD -> CONFIRMED: the held units are committed; ReservationConfirmed."""
        confirmed, changes = reservation.confirm(self.now)
        self.apply(confirmed, changes)
        self.emit(
            ReservationConfirmed(
                at=self.now,
                reservation_id=reservation.id,
                location=reservation.location,
                channel=reservation.channel,
                order_id=reservation.order_id,
                lines=reservation.open_lines(),
            )
        )
        return self.save(confirmed)

    def release(
        self, reservation: Reservation, reason: str, *, lines: Mapping[str, int] | None = None
    ) -> Reservation:
        """Cancel a live reservation: its open units go back on sale; ReservationReleased names
        them (or ``lines``, when a short pick already took the units and nothing is open)."""
        released, changes = reservation.release(self.now)
        self.apply(released, changes)
        self.emit(
            ReservationReleased(
                at=self.now,
                reservation_id=reservation.id,
                location=reservation.location,
                channel=reservation.channel,
                order_id=reservation.order_id,
                previous=reservation.state,
                lines=reservation.open_lines() if lines is None else lines_of(lines),
                reason=reason,
            )
        )
        return self.save(released)

    def fulfil(self, before: Reservation, after: Reservation) -> Reservation:
        """Store ``after`` (shipped or collected) and emit ReservationFulfilled for what left and
        what went back on sale."""
        taken = {
            line.sku: line.fulfilled - old.fulfilled
            for line, old in zip(after.lines, before.lines, strict=True)
        }
        rest = {
            line.sku: line.released - old.released
            for line, old in zip(after.lines, before.lines, strict=True)
        }
        self.emit(
            ReservationFulfilled(
                at=self.now,
                reservation_id=after.id,
                location=after.location,
                channel=after.channel,
                order_id=after.order_id,
                mode=after.mode,
                fulfilled=lines_of(taken),
                released=lines_of(rest),
            )
        )
        return self.save(after)

    def announce_ready(self, ready: Reservation) -> None:
        """Emit ReservationReady for a READY reservation, with its pickup deadline."""
        assert ready.expires_at is not None  # every READY reservation has a deadline
        self.emit(
            ReservationReady(
                at=self.now,
                reservation_id=ready.id,
                location=ready.location,
                channel=ready.channel,
                order_id=ready.order_id,
                pickup_deadline=ready.expires_at,
                lines=lines_of(ready.open_quantities),
            )
        )

    def reservation(self, reservation_id: str) -> Reservation:
        """The stored reservation, locked for this command.

        Raises:
            UnknownReservation: there is none with this id.
        """
        found = self.uow.reservation(reservation_id, for_update=True)
        if found is None:
            raise UnknownReservation(reservation_id)
        return found

    def apply(self, reservation: Reservation, changes: list[Change], *, keep: int = 0) -> None:
        """Write the movements a reservation's transition needs, at its location."""
        for kind, sku, quantity in changes:
            if quantity:
                self.move(reservation.location, sku, kind, quantity, reservation.id, keep=keep)

    def apply_at(self, location: str, reference: str, changes: list[Change]) -> None:
        """Write movements at another location than the reservation's (a transfer's store)."""
        for kind, sku, quantity in changes:
            if quantity:
                self.move(location, sku, kind, quantity, reference)

    def save(self, reservation: Reservation) -> Reservation:
        """Store a changed reservation (conditional on the version it was changed from)."""
        self.uow.update_reservation(reservation)
        return reservation


def effective_positions(
    uow: UnitOfWork, now: datetime, positions: list[Position]
) -> list[Position]:
    """``positions`` as every reader must see them at ``now``: holds past expiry not counted."""
    keys = [(p.location, p.sku) for p in positions]
    due = uow.due_reservations(now, states=_HELD, keys=keys)
    if not due:
        return positions
    lapsed: defaultdict[PositionKey, int] = defaultdict(int)
    for reservation in due:
        for line in reservation.lines:
            lapsed[(reservation.location, line.sku)] += line.open
    return [
        p.apply(MovementKind.HOLD_RELEASED, lapsed[(p.location, p.sku)])
        if (p.location, p.sku) in lapsed
        else p
        for p in positions
    ]
