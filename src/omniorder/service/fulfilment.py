"""Fulfilment: ship (and dispatch), arrive, and where an order can be collected.

A parcel is shipped from its location (CONFIRMED -> FULFILLED). A ship-to-store transfer is
dispatched from its origin (CONFIRMED -> IN_TRANSIT: off the origin's shelf, into the store's
``inbound``) and arrives at the store (IN_TRANSIT -> FULFILLED), where its units go on hand under
a new READY reservation with a pickup deadline, to be collected or to expire as a no-show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.events import ReservationArrived, ReservationDispatched
from omniorder.model.order import Sourcing
from omniorder.model.reservation import SHIP_COMMANDS, Reservation, ReservationCommand
from omniorder.model.values import Capability, Channel, Geo, lines_of
from omniorder.service.command import command, on_reservation
from omniorder.service.context import Context
from omniorder.service.work import Work, effective_positions
from omniorder.stores.base import UnitOfWork

__all__ = ["arrive", "pickup_options", "ship"]


@command(Reservation)
def ship(
    ctx: Context, reservation_id: str, *, key: str | None = None
) -> Callable[[Work], Reservation]:
    def change(w: Work, r: Reservation) -> Reservation:
        if SHIP_COMMANDS[r.mode] is ReservationCommand.DISPATCH:
            return _dispatch(w, r)
        shipped, changes = r.ship(w.now)
        w.apply(shipped, changes)
        return w.fulfil(r, shipped)

    return on_reservation(reservation_id, change)


def _dispatch(w: Work, r: Reservation) -> Reservation:
    sent, here, there = r.dispatch(w.now)
    assert r.destination is not None  # every TRANSFER reservation has one
    w.apply(sent, here)
    w.apply_at(r.destination, r.id, there)
    w.emit(
        ReservationDispatched(
            at=w.now,
            reservation_id=r.id,
            location=r.location,
            channel=r.channel,
            order_id=r.order_id,
            destination=r.destination,
            lines=lines_of(r.open_quantities),
        )
    )
    return w.save(sent)


@command(Reservation)
def arrive(
    ctx: Context,
    reservation_id: str,
    *,
    pickup_window: timedelta | None = None,
    key: str | None = None,
) -> Callable[[Work], Reservation]:
    window = ctx.policy.pickup_window_for(pickup_window)

    def change(w: Work, r: Reservation) -> Reservation:
        arrived, there = r.arrive(w.now)
        assert r.destination is not None
        w.apply_at(r.destination, r.id, there)
        w.save(arrived)
        ready, changes = Reservation.await_pickup(
            id=ctx.new_id("res"),
            transfer=r,
            now=w.now,
            deadline=checks.later(w.now, window, "pickup_window"),
        )
        w.apply(ready, changes)
        w.uow.add_reservation(ready)
        w.emit(
            ReservationArrived(
                at=w.now,
                reservation_id=r.id,
                location=r.location,
                channel=r.channel,
                order_id=r.order_id,
                destination=r.destination,
                lines=lines_of(ready.quantities),
                ready_reservation_id=ready.id,
            )
        )
        w.announce_ready(ready)
        _track(w, r, ready)
        return ready

    return on_reservation(reservation_id, change)


def _track(w: Work, transfer: Reservation, ready: Reservation) -> None:
    """Add the READY reservation to its order's sourcing, under the transfer's lines."""
    if transfer.order_id is None:
        return
    record = w.uow.order(transfer.order_id, for_update=True)
    if record is None:
        return
    added = tuple(
        Sourcing(s.line_id, ready.id, ready.location, ready.quantities.get(sku, 0))
        for s in record.sourcing
        if s.reservation_id == transfer.id
        for sku in [record.order.line(s.line_id).sku]
        if ready.quantities.get(sku)
    )
    w.uow.update_order(
        attrs.evolve(
            record,
            sourcing=record.sourcing + added,
            updated_at=w.now,
            version=record.version + 1,
        )
    )


def pickup_options(
    ctx: Context, lines: Mapping[str, int], near: Geo, channel: Channel, limit: int
) -> list[str]:
    wanted = checks.lines(lines, max_lines=ctx.policy.max_lines)
    if not isinstance(near, Geo):
        raise InvalidInput("near must be a Geo", field="near", value=near)
    seen_by = checks.check_enum(Channel, channel, "channel")
    checks.positive(limit, "limit")
    stores = ctx.network.nearest(near, capability=Capability.PICKUP)

    def read(uow: UnitOfWork, now: datetime) -> list[str]:
        keys = [(store.id, sku) for store in stores for sku in wanted]
        seen = {
            (p.location, p.sku): p.available(seen_by)
            for p in effective_positions(uow, now, uow.positions(keys))
        }
        able = [
            store.id
            for store in stores
            if all(seen.get((store.id, sku), 0) >= units for sku, units in wanted.items())
        ]
        return able[:limit]

    return ctx.read(read)
