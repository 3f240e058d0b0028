"""Holds: reserve, the reservation lifecycle (extend, confirm, mark_ready, collect, release), the
expiry sweep, and reading a reservation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from omniorder.model import checks
from omniorder.model.errors import UnknownReservation, WrongLocation
from omniorder.model.events import ReservationExtended
from omniorder.model.position import check_available
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Capability, Channel, Mode
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

_MODE_NEEDS = {Mode.PICKUP: Capability.PICKUP, Mode.SHIP: Capability.SHIP}


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
) -> Reservation:
    seen_by = checks.check_enum(Channel, channel, "channel")
    how = checks.check_enum(Mode, mode, "mode")
    needs = _MODE_NEEDS.get(how)
    if needs is None:
        ctx.network.location(location)
    else:
        ctx.network.require(location, needs, f"a {how.value} reservation")
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

    request = {
        "location": location,
        "lines": wanted,
        "channel": seen_by,
        "ttl": ttl,
        "mode": how,
        "order_id": order_id,
        "destination": destination,
    }
    return ctx.run("reserve", request, key, Reservation, work)


def extend(
    ctx: Context, reservation_id: str, ttl: timedelta, *, key: str | None = None
) -> Reservation:
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

    return ctx.lifecycle("extend", reservation_id, key, change, ttl=ttl)


def confirm(ctx: Context, reservation_id: str, *, key: str | None = None) -> Reservation:

    def change(w: Work, r: Reservation) -> Reservation:
        return w.confirm(r)

    return ctx.lifecycle("confirm", reservation_id, key, change)


def mark_ready(
    ctx: Context,
    reservation_id: str,
    *,
    pickup_window: timedelta | None = None,
    key: str | None = None,
) -> Reservation:
    window = ctx.policy.pickup_window_for(pickup_window)

    def change(w: Work, r: Reservation) -> Reservation:
        ready = w.save(r.mark_ready(w.now, checks.later(w.now, window, "pickup_window")))
        w.announce_ready(ready)
        return ready

    return ctx.lifecycle("mark_ready", reservation_id, key, change, pickup_window=pickup_window)


def collect(
    ctx: Context,
    reservation_id: str,
    lines: Mapping[str, int] | None = None,
    *,
    at: str | None = None,
    key: str | None = None,
) -> Reservation:
    taken = None if lines is None else checks.lines(lines, max_lines=ctx.policy.max_lines)
    if at is not None:
        ctx.network.location(at)

    def change(w: Work, r: Reservation) -> Reservation:
        collected, changes = r.collect(w.now, taken)  # the state's refusal comes first
        if at is not None and at != r.location:
            raise WrongLocation(r.id, r.location, at)
        w.apply(collected, changes)
        return w.fulfil(r, collected)

    return ctx.lifecycle("collect", reservation_id, key, change, lines=taken, at=at)


def release(
    ctx: Context, reservation_id: str, *, reason: str = "", key: str | None = None
) -> Reservation:
    checks.text(reason, "reason")

    def change(w: Work, r: Reservation) -> Reservation:
        return w.release(r, reason)

    return ctx.lifecycle("release", reservation_id, key, change, reason=reason)


def expire_due(ctx: Context, *, key: str | None = None) -> list[Reservation]:

    def work(w: Work) -> list[Reservation]:
        due = w.uow.due_reservations(
            w.now,
            states=(ReservationState.HELD, ReservationState.READY),
            for_update=True,
            skip_locked=True,
        )
        return [w.expire(r) for r in due]

    return ctx.run("expire_due", {}, key, list[Reservation], work)


def reservation(ctx: Context, reservation_id: str) -> Reservation:
    """The reservation as it is now: a hold past its expiry shows as EXPIRED."""
    checks.identifier(reservation_id, "reservation_id")

    def read(uow: UnitOfWork, now: datetime) -> Reservation:
        found = uow.reservation(reservation_id)
        if found is None:
            raise UnknownReservation(reservation_id)
        return found.effective(now)

    return ctx.read(read)
