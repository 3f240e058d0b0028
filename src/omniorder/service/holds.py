"""Holds: reserve, the reservation lifecycle (extend, confirm, mark_ready, collect, release), the
expiry sweep, and reading a reservation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from omniorder.model import checks
from omniorder.model.errors import UnknownReservation, WrongLocation
from omniorder.model.events import ReservationExtended
from omniorder.model.position import check_available
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Capability, Channel, Mode
from omniorder.service.command import command, on_reservation
from omniorder.service.context import Context
from omniorder.service.work import Work
from omniorder.stores.base import UnitOfWork

__all__ = [
    "collect",
    "confirm",
    "expire_due",
    "extend",
    "mark_ready",
    "release",
    "reservation",
    "reserve",
]

_MODE_NEEDS = {
    Mode.PICKUP: (Capability.PICKUP, "a pickup reservation"),
    Mode.SHIP: (Capability.SHIP, "a ship reservation"),
}
"""The capability a reservation's mode needs at its location, and the command it is needed for
(a TRANSFER's origin needs none: its lane is checked instead)."""


@command(Reservation)
def reserve(
    ctx: Context,
    location: str,
    lines: Mapping[str, int],
    *,
    channel: Channel,
    ttl: timedelta | None = None,
    mode: Mode = Mode.PICKUP,
    order_id: str | None = None,
    destination: str | None = None,
    key: str | None = None,
) -> Callable[[Work], Reservation]:
    seen_by = checks.check_enum(Channel, channel, "channel")
    how = checks.check_enum(Mode, mode, "mode")
    needs = _MODE_NEEDS.get(how)
    if needs is None:
        ctx.network.location(location)
    else:
        ctx.network.require(location, *needs)
    wanted = checks.lines(lines, max_lines=ctx.policy.max_lines)
    if ttl is not None:
        checks.positive_duration(ttl, "ttl", maximum=ctx.policy.max_hold_ttl)
    if order_id is not None:
        checks.identifier(order_id, "order_id")
    ctx.network.check_destination(location, how, destination)
    lifetime = ctx.policy.ttl_for(seen_by) if ttl is None else ttl

    def work(w: Work) -> Reservation:
        keys = {(location, sku): units for sku, units in wanted.items()}
        positions = w.positions(keys)
        check_available(positions, keys, seen_by)
        held, changes = Reservation.hold(
            id=ctx.new_id("res"),
            location=location,
            quantities=wanted,
            channel=seen_by,
            mode=how,
            now=w.now,
            expires_at=checks.later(w.now, lifetime, "ttl"),
            order_id=order_id,
            destination=destination,
        )
        w.open(held, changes, positions)
        return held

    return work


@command(Reservation)
def extend(
    ctx: Context, reservation_id: str, ttl: timedelta, *, key: str | None = None
) -> Callable[[Work], Reservation]:
    checks.positive_duration(ttl, "ttl", maximum=ctx.policy.max_hold_ttl)

    def change(w: Work, r: Reservation) -> Reservation:
        extended = w.save(r.extend(w.now, checks.later(w.now, ttl, "ttl")))
        assert extended.expires_at is not None
        w.emit(
            ReservationExtended(
                at=w.now,
                reservation_id=r.id,
                location=r.location,
                channel=r.channel,
                order_id=r.order_id,
                expires_at=extended.expires_at,
            )
        )
        return extended

    return on_reservation(reservation_id, change)


@command(Reservation)
def confirm(
    ctx: Context, reservation_id: str, *, key: str | None = None
) -> Callable[[Work], Reservation]:
    return on_reservation(reservation_id, lambda w, r: w.confirm(r))


@command(Reservation)
def mark_ready(
    ctx: Context,
    reservation_id: str,
    *,
    pickup_window: timedelta | None = None,
    key: str | None = None,
) -> Callable[[Work], Reservation]:
    window = ctx.policy.pickup_window_for(pickup_window)

    def change(w: Work, r: Reservation) -> Reservation:
        ready = w.save(r.mark_ready(w.now, checks.later(w.now, window, "pickup_window")))
        w.announce_ready(ready)
        return ready

    return on_reservation(reservation_id, change)


@command(Reservation)
def collect(
    ctx: Context,
    reservation_id: str,
    lines: Mapping[str, int] | None = None,
    *,
    at: str | None = None,
    key: str | None = None,
) -> Callable[[Work], Reservation]:
    taken = None if lines is None else checks.lines(lines, max_lines=ctx.policy.max_lines)
    if at is not None:
        ctx.network.location(at)

    def change(w: Work, r: Reservation) -> Reservation:
        collected, changes = r.collect(w.now, taken)  # the state's refusal comes first
        if at is not None and at != r.location:
            raise WrongLocation(r.id, r.location, at)
        w.apply(collected, changes)
        return w.fulfil(r, collected)

    return on_reservation(reservation_id, change)


@command(Reservation)
def release(
    ctx: Context, reservation_id: str, *, reason: str = "", key: str | None = None
) -> Callable[[Work], Reservation]:
    checks.text(reason, "reason")
    return on_reservation(reservation_id, lambda w, r: w.release(r, reason))


@command(list[Reservation])
def expire_due(ctx: Context, *, key: str | None = None) -> Callable[[Work], list[Reservation]]:

    def work(w: Work) -> list[Reservation]:
        due = w.uow.due_reservations(
            w.now,
            states=(ReservationState.HELD, ReservationState.READY),
            for_update=True,
            skip_locked=True,
        )
        return [w.expire(r) for r in due]

    return work


def reservation(ctx: Context, reservation_id: str) -> Reservation:
    """The reservation as it is now: a hold past its expiry shows as EXPIRED."""
    checks.identifier(reservation_id, "reservation_id")

    def read(uow: UnitOfWork, now: datetime) -> Reservation:
        found = uow.reservation(reservation_id)
        if found is None:
            raise UnknownReservation(reservation_id)
        return found.effective(now)

    return ctx.read(read)
