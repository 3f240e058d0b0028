"""The engine's hold commands: reserve, the reservation lifecycle (extend, confirm, mark_ready,
collect, release) and the expiry sweep."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from omniorder._work import Work
from omniorder.model import checks
from omniorder.model.errors import WrongLocation
from omniorder.model.events import (
    ReservationExtended,
    ReservationHeld,
)
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Capability, Channel, Mode, lines_of

if TYPE_CHECKING:
    from omniorder.engine import Engine

__all__ = ["Holds"]

_MODE_NEEDS = {Mode.PICKUP: Capability.PICKUP, Mode.SHIP: Capability.SHIP}


class Holds:
    """The engine's hold commands (the engine delegates to one of these)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reserve(
        self,
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
        engine = self.engine
        seen_by = engine._channel(channel)
        how = checks.check_enum(Mode, mode, "mode")
        needs = _MODE_NEEDS.get(how)
        if needs is None:
            engine.network.location(location)
        else:
            engine.network.require(location, needs, f"a {how.value} reservation")
        wanted = engine._lines(lines)
        if ttl is not None:
            checks.positive_duration(ttl, "ttl", maximum=engine.policy.max_hold_ttl)
        if order_id is not None:
            checks.identifier(order_id, "order_id")
        engine._check_destination(location, how, destination)
        lifetime = engine.policy.ttl_for(seen_by) if ttl is None else ttl

        def work(w: Work) -> Reservation:
            keys = {(location, sku): units for sku, units in wanted.items()}
            positions = w.positions(keys)
            engine._short(positions, keys, seen_by)
            held, changes = Reservation.hold(
                id=engine._ids("res"),
                location=location,
                quantities=wanted,
                channel=seen_by,
                mode=how,
                now=w.now,
                expires_at=checks.later(w.now, lifetime, "ttl"),
                order_id=order_id,
                destination=destination,
            )
            for kind, sku, units in changes:
                buffer = positions[(location, sku)].buffer(seen_by)
                w.move(location, sku, kind, units, held.id, keep=buffer)
            w.uow.add_reservation(held)
            assert held.expires_at is not None
            w.emit(
                ReservationHeld(
                    at=w.now,
                    reservation_id=held.id,
                    location=location,
                    channel=seen_by,
                    order_id=order_id,
                    mode=how,
                    lines=lines_of(wanted),
                    expires_at=held.expires_at,
                )
            )
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
        return engine._run("reserve", request, key, Reservation, work)

    def extend(self, reservation_id: str, ttl: timedelta, *, key: str | None = None) -> Reservation:
        engine = self.engine
        checks.positive_duration(ttl, "ttl", maximum=engine.policy.max_hold_ttl)

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

        return engine._lifecycle("extend", reservation_id, key, change, ttl=ttl)

    def confirm(self, reservation_id: str, *, key: str | None = None) -> Reservation:
        engine = self.engine

        def change(w: Work, r: Reservation) -> Reservation:
            return w.confirm(r)

        return engine._lifecycle("confirm", reservation_id, key, change)

    def mark_ready(
        self,
        reservation_id: str,
        *,
        pickup_window: timedelta | None = None,
        key: str | None = None,
    ) -> Reservation:
        engine = self.engine
        window = engine._pickup_window(pickup_window)

        def change(w: Work, r: Reservation) -> Reservation:
            ready = w.save(r.mark_ready(w.now, checks.later(w.now, window, "pickup_window")))
            w.announce_ready(ready)
            return ready

        return engine._lifecycle(
            "mark_ready", reservation_id, key, change, pickup_window=pickup_window
        )

    def collect(
        self,
        reservation_id: str,
        lines: Mapping[str, int] | None = None,
        *,
        at: str | None = None,
        key: str | None = None,
    ) -> Reservation:
        engine = self.engine
        taken = None if lines is None else engine._lines(lines)
        if at is not None:
            engine.network.location(at)

        def change(w: Work, r: Reservation) -> Reservation:
            collected, changes = r.collect(w.now, taken)  # the state's refusal comes first
            if at is not None and at != r.location:
                raise WrongLocation(r.id, r.location, at)
            w.apply(collected, changes)
            return engine._fulfilment.fulfilled(w, r, collected)

        return engine._lifecycle("collect", reservation_id, key, change, lines=taken, at=at)

    def release(
        self, reservation_id: str, *, reason: str = "", key: str | None = None
    ) -> Reservation:
        engine = self.engine
        checks.text(reason, "reason")

        def change(w: Work, r: Reservation) -> Reservation:
            return w.release(r, reason)

        return engine._lifecycle("release", reservation_id, key, change, reason=reason)

    def expire_due(self, *, key: str | None = None) -> list[Reservation]:
        engine = self.engine

        def work(w: Work) -> list[Reservation]:
            due = w.uow.due_reservations(
                w.now,
                states=(ReservationState.HELD, ReservationState.READY),
                for_update=True,
                skip_locked=True,
            )
            return [w.expire(r) for r in due]

        return engine._run("expire_due", {}, key, list[Reservation], work)
