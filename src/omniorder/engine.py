"""The engine: one method per command; each command is one unit of work of the store.

Every channel (web, app, chat or call centre, store till, marketplace) calls the same engine over
the same store, so they all read and change one ledger. A command validates its input first (bad
input raises :class:`~omniorder.InvalidInput` and touches nothing), then runs in one transaction
that writes the positions, the ledger, the reservations, the events and the idempotency record
together, or none of them.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from omniorder._fulfilment import Fulfilment
from omniorder._holds import Holds
from omniorder._idempotency import Claim
from omniorder._ordering import Ordering
from omniorder._returns import Returns
from omniorder._stock import Stock
from omniorder._work import Work, effective_positions
from omniorder.allocation.local import default_solver
from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.protocol import Solver
from omniorder.model import checks
from omniorder.model.audit import Discrepancy, audit
from omniorder.model.clock import Clock, SystemClock
from omniorder.model.errors import (
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    InsufficientStock,
    InvalidInput,
    Shortfall,
    UnknownReservation,
)
from omniorder.model.events import (
    Event,
)
from omniorder.model.network import Network
from omniorder.model.order import Order, OrderView
from omniorder.model.policy import Policy
from omniorder.model.position import Position
from omniorder.model.reservation import OPEN_STATES, Reservation
from omniorder.model.returns import Conditions, Disposition, ReturnAuthorization
from omniorder.model.sale import Sale
from omniorder.model.values import Channel, Geo, Mode
from omniorder.stores.base import Store, UnitOfWork
from omniorder.stores.memory import InMemoryStore

__all__ = ["Engine", "verify_store"]

R = TypeVar("R")

logger = logging.getLogger(__name__)

_BACKOFF = 0.005
"""Seconds before the first retry of a command that lost a race (doubling, jittered)."""
_BACKOFF_CAP = 0.25
"""The longest wait between two retries, in seconds."""


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def verify_store(store: Store) -> list[Discrepancy]:
    """What :meth:`Engine.verify` reports, read from ``store`` alone (no network needed).

    Returns:
        Every discrepancy between the positions, the ledger, the live reservations, the returns
        in transit and the event numbering; empty when the store is healthy (promise 2).
    """
    with store.unit_of_work(read_only=True) as uow:
        return audit(
            uow.positions(),
            uow.movements(),
            uow.reservations(states=OPEN_STATES),
            [e.seq for e in uow.events()],
            uow.returns(),
        )


class Engine:
    """The application service over one network and one store.

    Args:
        network: the locations and lanes.
        store: where state is kept (default: a new :class:`~omniorder.InMemoryStore`).
        solver: sources orders (default: :func:`~omniorder.allocation.default_solver`).
        clock: where time comes from (default: :class:`~omniorder.SystemClock`).
        policy: the declared rules (default: :class:`~omniorder.Policy`); a returns hub it
            names must be in the network (else :class:`~omniorder.UnknownLocation`).
        ids: makes new ids from a prefix (``"res"``, ``"sale"``); default: prefix + uuid4.
        retries: how many times a command that lost a race with another writer is run again
            before :class:`~omniorder.ConcurrencyConflict` reaches the caller.

    Every command that changes state takes ``key=``: run it again with the same key and the same
    request and you get the first result back with nothing applied twice; the same key with a
    different request raises :class:`~omniorder.IdempotencyConflict`.
    """

    def __init__(
        self,
        network: Network,
        *,
        store: Store | None = None,
        solver: Solver | None = None,
        clock: Clock | None = None,
        policy: Policy | None = None,
        ids: Callable[[str], str] | None = None,
        retries: int = 8,
    ) -> None:
        if not isinstance(network, Network):
            raise InvalidInput("network must be a Network", field="network", value=network)
        if policy is not None and not isinstance(policy, Policy):
            raise InvalidInput("policy must be a Policy", field="policy", value=policy)
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidInput("clock must have a now() method", field="clock", value=clock)
        if store is not None and not isinstance(store, Store):
            raise InvalidInput(
                "store must be a Store (unit_of_work(), close(), clock_tolerance)",
                field="store",
                value=store,
            )
        self.network = network
        self.store: Store = InMemoryStore() if store is None else store
        if solver is not None and not isinstance(solver, Solver):
            raise InvalidInput(
                "solver must have a name and solve(problem)", field="solver", value=solver
            )
        self.solver: Solver = default_solver() if solver is None else solver
        self.clock: Clock = SystemClock() if clock is None else clock
        self.policy = Policy() if policy is None else policy
        if self.policy.returns.hub is not None:
            self.network.location(self.policy.returns.hub)  # UnknownLocation if it is not there
        self._ids = ids or _new_id
        self._retries = checks.non_negative(retries, "retries")
        self._jitter = random.Random()
        self._ordering = Ordering(self)
        self._fulfilment = Fulfilment(self)
        self._stock = Stock(self)
        self._holds = Holds(self)
        self._returns = Returns(self)

    # -- plumbing ------------------------------------------------------------------------------

    def _clock_now(self) -> datetime:
        """The clock's time as a UTC instant: every time the engine keeps or compares is UTC."""
        now = self.clock.now()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise InvalidInput(
                "the engine's clock must return timezone-aware datetimes", field="clock", value=now
            )
        return checks.aware(now, "clock")

    def _run(
        self,
        command: str,
        request: Mapping[str, object],
        key: str | None,
        result_type: Any,
        work: Callable[[Work], R],
    ) -> R:
        """Run ``work`` as one unit of work, with the idempotency protocol when keyed.

        A :class:`~omniorder.ConcurrencyConflict` (another writer won a race: a deadlock, a
        serialisation failure, a busy database) rolls the attempt back and runs the command
        again, up to ``retries`` times with jittered exponential backoff.
        """
        if key is not None:
            checks.identifier(key, "key")
        for attempt in itertools.count():
            try:
                return self._attempt(command, request, key, result_type, work)
            except ConcurrencyConflict:
                if attempt >= self._retries:
                    raise
                logger.debug("%s: concurrent change, retry %d", command, attempt + 1)
                time.sleep(self._jitter.uniform(0, min(_BACKOFF_CAP, _BACKOFF * 2**attempt)))
            except CommitOutcomeUnknown as error:
                raise CommitOutcomeUnknown(error.detail, key) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        command: str,
        request: Mapping[str, object],
        key: str | None,
        result_type: Any,
        work: Callable[[Work], R],
    ) -> R:
        with self.store.unit_of_work() as uow:
            now = self._clock_now()
            last = uow.last_time()
            if last is not None and now < last - self.store.clock_tolerance:
                raise ClockWentBackwards(now, last)
            claim: Claim | None = None
            if key is not None:
                claim, first = Claim.take(
                    uow, key, command=command, request=request, result_type=result_type, now=now
                )
                if claim is None:
                    replayed: R = first
                    return replayed
            result = work(Work(uow, now, key))
            uow.record_time(now)
            if claim is not None:
                claim.finish(result, result_type)
            return result

    def _read(self, read: Callable[[UnitOfWork, datetime], R]) -> R:
        with self.store.unit_of_work(read_only=True) as uow:
            return read(uow, self._clock_now())

    def _check_destination(self, origin: str, mode: Mode, destination: str | None) -> None:
        """A TRANSFER needs a store to go to, over a lane from ``origin``; nothing else has one."""
        if mode is not Mode.TRANSFER:
            if destination is not None:
                raise InvalidInput(
                    "only a TRANSFER reservation has a destination",
                    field="destination",
                    value=destination,
                )
            return
        if destination is None:
            raise InvalidInput(
                "a TRANSFER reservation needs a destination store", field="destination"
            )
        self.network.location(destination)
        if self.network.lane(origin, destination) is None:
            raise InvalidInput(
                f"no lane from {origin!r} to {destination!r}",
                field="destination",
                value=destination,
            )

    def _pickup_window(self, pickup_window: timedelta | None) -> timedelta:
        """The pickup window asked for (checked against the policy), or the policy's."""
        if pickup_window is None:
            return self.policy.pickup_window
        return checks.positive_duration(
            pickup_window, "pickup_window", maximum=self.policy.max_pickup_window
        )

    def _channel(self, channel: object) -> Channel:
        return checks.check_enum(Channel, channel, "channel")

    def _lines(self, lines: object) -> dict[str, int]:
        return checks.lines(lines, max_lines=self.policy.max_lines)

    @staticmethod
    def _short(
        positions: Mapping[tuple[str, str], Position],
        wanted: Mapping[tuple[str, str], int],
        channel: Channel,
    ) -> None:
        short = [
            Shortfall(sku, location, units, positions[(location, sku)].available(channel))
            for (location, sku), units in sorted(wanted.items(), key=lambda kv: kv[0][::-1])
            if positions[(location, sku)].available(channel) < units
        ]
        if short:
            raise InsufficientStock(short)

    # -- stock administration ------------------------------------------------------------------

    def receive(
        self, location: str, sku: str, quantity: int, *, key: str | None = None
    ) -> Position:
        """Goods arrived: on-hand of ``sku`` at ``location`` rises by ``quantity``.

        Returns:
            The position after the receipt.

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku or quantity, or an on-hand that would overflow.
        """
        return self._stock.receive(location, sku, quantity, key=key)

    def adjust(
        self,
        location: str,
        sku: str,
        *,
        to: int | None = None,
        delta: int | None = None,
        reason: str,
        key: str | None = None,
    ) -> Position:
        """Correct on-hand (a count, damage, loss): set it ``to`` a value or change it by ``delta``.

        On-hand never goes below the units held or committed (``reserved + committed``): release
        those reservations first.

        Raises:
            UnknownLocation: no such location.
            InvalidInput: neither or both of ``to`` and ``delta``, a bad value, an empty reason.
            InsufficientStock: the change would take on-hand below reserved + committed.
        """
        return self._stock.adjust(location, sku, to=to, delta=delta, reason=reason, key=key)

    def set_safety_stock(
        self, location: str, sku: str, quantity: int, *, key: str | None = None
    ) -> Position:
        """Withhold ``quantity`` units of ``sku`` at ``location`` from the remote channels.

        The store's own till and counter (``Channel.STORE``) still see them.

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku or a negative quantity.
        """
        return self._stock.set_safety_stock(location, sku, quantity, key=key)

    # -- reads ---------------------------------------------------------------------------------

    def position(self, location: str, sku: str) -> Position:
        """The position of ``sku`` at ``location`` now (holds past their expiry not counted).

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku.
        """
        self.network.location(location)
        checks.identifier(sku, "sku")

        def read(uow: UnitOfWork, now: datetime) -> Position:
            found = uow.positions([(location, sku)])
            return effective_positions(uow, now, found)[0] if found else Position(location, sku)

        return self._read(read)

    def availability_by_location(
        self, sku: str, *, channel: Channel = Channel.WEB
    ) -> dict[str, int]:
        """Units of ``sku`` that ``channel`` may sell now, for every location of the network.

        Raises:
            InvalidInput: a bad sku or channel.
        """
        checks.identifier(sku, "sku")
        seen_by = self._channel(channel)

        def read(uow: UnitOfWork, now: datetime) -> dict[str, int]:
            found = effective_positions(uow, now, uow.positions(sku=sku))
            by_location = {p.location: p.available(seen_by) for p in found}
            return {loc.id: by_location.get(loc.id, 0) for loc in self.network.locations}

        return self._read(read)

    def availability(
        self, sku: str, *, channel: Channel = Channel.WEB, location: str | None = None
    ) -> int:
        """Units of ``sku`` that ``channel`` may sell now, at ``location`` or in the whole network.

        ``available = max(0, on_hand - reserved - committed - buffer)`` per location, where the
        buffer is the safety stock for remote channels and 0 for ``Channel.STORE``. Holds past
        their expiry never count, whether or not ``expire_due()`` has run.

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku or channel.
        """
        if location is None:
            return sum(self.availability_by_location(sku, channel=channel).values())
        seen_by = self._channel(channel)
        return self.position(location, sku).available(seen_by)

    def reservation(self, reservation_id: str) -> Reservation:
        """The reservation as it is now: a hold past its expiry shows as EXPIRED.

        Raises:
            UnknownReservation: no such reservation.
            InvalidInput: a bad id.
        """
        checks.identifier(reservation_id, "reservation_id")

        def read(uow: UnitOfWork, now: datetime) -> Reservation:
            found = uow.reservation(reservation_id)
            if found is None:
                raise UnknownReservation(reservation_id)
            return found.effective(now)

        return self._read(read)

    def events(self, after: int = 0, *, limit: int | None = None) -> list[Event]:
        """Events with ``seq > after``, oldest first (at most ``limit``).

        Raises:
            InvalidInput: a negative ``after`` or a ``limit`` below 1.
        """
        checks.non_negative(after, "after")
        if limit is not None:
            checks.positive(limit, "limit")
        return self._read(lambda uow, _: uow.events(after, limit))

    def verify(self) -> list[Discrepancy]:
        """Replay the ledger and compare it with every position and live reservation.

        Returns:
            Every discrepancy found; an empty list when the store is healthy (promise 2).
        """

        return verify_store(self.store)

    # -- selling and holding -------------------------------------------------------------------

    def sell(
        self,
        location: str,
        lines: Mapping[str, int],
        *,
        channel: Channel = Channel.STORE,
        key: str | None = None,
    ) -> Sale:
        """A walk-in sale at the till of ``location``: all lines or none.

        Takes only units that ``channel`` may sell at that location now (by default what the
        store's own till sees), so it never takes units held or committed for anyone else.

        Raises:
            UnknownLocation: no such location.
            MissingCapability: the location has no till (SELL).
            InvalidInput: bad lines or channel.
            InsufficientStock: every line that cannot be sold, with what is available.
        """
        return self._stock.sell(location, lines, channel=channel, key=key)

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
        """Hold stock at one location: every line or none (HELD until confirmed or expired).

        Args:
            location: where the units are held.
            lines: ``{sku: units}``.
            channel: who is holding (its safety-stock rule applies).
            ttl: how long the hold lasts (default: the policy's TTL for the channel).
            mode: how the units will leave (PICKUP needs a counter, SHIP a shipping location).
            order_id: the order it belongs to, if any.
            destination: for a TRANSFER, the store it will travel to (over a lane).
            key: idempotency key.

        Raises:
            UnknownLocation: no such location.
            MissingCapability: the location cannot serve ``mode``.
            InvalidInput: bad lines, channel, mode, order id, or a ttl that is not positive or
                above the policy maximum.
            InsufficientStock: every short line, with what is available to ``channel``.
        """
        return self._holds.reserve(
            location,
            lines,
            channel=channel,
            ttl=ttl,
            mode=mode,
            order_id=order_id,
            destination=destination,
            key=key,
        )

    # -- the reservation lifecycle ---------------------------------------------------------------

    def _lifecycle(
        self,
        command: str,
        reservation_id: str,
        key: str | None,
        change: Callable[[Work, Reservation], Reservation],
        **request: object,
    ) -> Reservation:
        checks.identifier(reservation_id, "reservation_id")

        def work(w: Work) -> Reservation:
            return change(w, w.reservation(reservation_id))

        return self._run(
            command, {"reservation_id": reservation_id, **request}, key, Reservation, work
        )

    def extend(self, reservation_id: str, ttl: timedelta, *, key: str | None = None) -> Reservation:
        """Give a HELD reservation ``ttl`` more time from now (refused once it has expired).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not HELD, or already past its expiry.
            InvalidInput: a ttl that is not positive or above the policy maximum.
        """
        return self._holds.extend(reservation_id, ttl, key=key)

    def confirm(self, reservation_id: str, *, key: str | None = None) -> Reservation:
        """HELD -> CONFIRMED: the held units are sold to this customer (committed).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not HELD, or the hold has expired (even if no sweep has run).
        """
        return self._holds.confirm(reservation_id, key=key)

    def mark_ready(
        self,
        reservation_id: str,
        *,
        pickup_window: timedelta | None = None,
        key: str | None = None,
    ) -> Reservation:
        """CONFIRMED -> READY (a PICKUP reservation): picked and waiting at the counter.

        The pickup deadline is now + ``pickup_window`` (default: the policy's); after it the
        reservation is a no-show that ``expire_due()`` puts back on sale. Emits
        ReservationReady with the deadline, so the customer can be told.

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not CONFIRMED, or not a PICKUP reservation.
            InvalidInput: a window that is not positive or above the policy maximum.
        """
        return self._holds.mark_ready(reservation_id, pickup_window=pickup_window, key=key)

    def collect(
        self,
        reservation_id: str,
        lines: Mapping[str, int] | None = None,
        *,
        at: str | None = None,
        key: str | None = None,
    ) -> Reservation:
        """READY -> FULFILLED: the customer collects ``lines`` (default: everything).

        What is not collected is released exactly and is back on sale in every channel at once.

        Args:
            reservation_id: the pickup.
            lines: ``{sku: units}`` taken; the rest goes back on sale.
            at: the store where the customer stands (checked against the reservation's).
            key: idempotency key.

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not READY, or the pickup deadline has passed.
            WrongLocation: ``at`` is another store than the one where it waits.
            InvalidInput: bad lines, a sku not in the reservation, or more than it holds.
        """
        return self._holds.collect(reservation_id, lines, at=at, key=key)

    def ship(self, reservation_id: str, *, key: str | None = None) -> Reservation:
        """A SHIP reservation's parcel has left (CONFIRMED -> FULFILLED); a TRANSFER has been
        dispatched to its store (CONFIRMED -> IN_TRANSIT: its units are in the store's inbound).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not CONFIRMED, or a PICKUP reservation.
        """
        return self._fulfilment.ship(reservation_id, key)

    def arrive(
        self,
        reservation_id: str,
        *,
        pickup_window: timedelta | None = None,
        key: str | None = None,
    ) -> Reservation:
        """A transfer reached its store: IN_TRANSIT -> FULFILLED, units on hand at the store.

        The units wait at the counter under a new READY reservation (returned) with a pickup
        deadline of now + ``pickup_window`` (default: the policy's); ReservationReady tells the
        customer. Until this, inbound units are never sold.

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not IN_TRANSIT (not dispatched yet, or already arrived).
            InvalidInput: a window that is not positive or above the policy maximum.
        """
        return self._fulfilment.arrive(reservation_id, pickup_window, key)

    def pickup_options(
        self,
        lines: Mapping[str, int],
        *,
        near: Geo,
        channel: Channel = Channel.WEB,
        limit: int = 5,
    ) -> list[str]:
        """Stores with PICKUP that can supply *every* line now, nearest first.

        What a chat agent or a product page asks ("where can I collect this today?"): a store
        that has only some of the lines is never offered. Stock held or committed for others,
        and the channel's safety stock, do not count.

        Raises:
            InvalidInput: bad lines, ``near`` not a Geo, a bad channel or limit.
        """
        return self._fulfilment.pickup_options(lines, near, channel, limit)

    def release(
        self, reservation_id: str, *, reason: str = "", key: str | None = None
    ) -> Reservation:
        """Cancel a HELD, CONFIRMED or READY reservation: every open unit goes back on sale.

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: already FULFILLED, RELEASED or EXPIRED (a hold past its expiry
                is EXPIRED).
            InvalidInput: a reason that is not a printable string.
        """
        return self._holds.release(reservation_id, reason=reason, key=key)

    def expire_due(self, *, key: str | None = None) -> list[Reservation]:
        """Expire every hold past its expiry and every READY pickup past its deadline.

        Holds past their expiry never block a sale even before this runs; this sweep puts the
        no-shows' units back on sale and records every expiry (ReservationExpired).

        Returns:
            The reservations expired now, by (deadline, id).
        """
        return self._holds.expire_due(key=key)

    # -- orders ----------------------------------------------------------------------------------

    def quote(self, order: Order) -> AllocationPlan:
        """Where ``order`` would be sourced now, and at what cost; nothing is written.

        Raises:
            InvalidInput: not an Order, or more lines than the policy allows.
            UnknownLocation: a pickup or ship-to-store line names a store not in the network.
        """
        return self._ordering.quote(order)

    def hold_order(
        self, order: Order, *, ttl: timedelta | None = None, key: str | None = None
    ) -> OrderView:
        """Checkout holds: HELD reservations wherever the solver sources each line.

        The cart's stock is pinned to real locations (never a channel-level pool that a store
        could sell from under it). Holding an order again replaces its holds. All or nothing.

        Raises:
            InsufficientStock: some line cannot be sourced (nothing is held).
            InvalidTransition: the order is already placed.
            InvalidInput: a bad order or ttl.
        """
        return self._ordering.hold_order(order, ttl, key)

    def place_order(self, order: Order, *, key: str | None = None) -> OrderView:
        """Place ``order``: commit its stock where the solver sources it, in one unit of work.

        If ``hold_order`` held this same order, its live holds are confirmed and only the
        lines whose holds expired or were released are sourced again. What cannot be sourced
        is backordered (``Policy.backorders``) or refused. Pickup stock is committed at the
        pickup store, so no later order or till sale can take it.

        Raises:
            InsufficientStock: with backorders off, every line that cannot be sourced; nothing
                is written.
            InvalidTransition: the order is already placed.
            InvalidInput: a bad order.
        """
        return self._ordering.place_order(order, key)

    def order(self, order_id: str) -> OrderView:
        """An order as every channel sees it: each line's sourcing, state and quantities.

        Raises:
            UnknownOrder: no such order.
        """
        return self._ordering.order(order_id)

    def reject(
        self,
        reservation_id: str,
        lines: Mapping[str, int],
        *,
        reason: str,
        key: str | None = None,
    ) -> Reservation:
        """A short pick: the location could not find ``lines`` of a CONFIRMED reservation.

        The location's on-hand is corrected down by those units (StockAdjusted) and the
        reservation keeps the rest (or is RELEASED when nothing is left). If it serves an
        order, the units are sourced again elsewhere (LineResourced) or backordered
        (LineBackordered); holds and commitments of other customers are never taken.

        Returns:
            The reservation after the rejection (``engine.order(...)`` shows the order).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: the reservation is not CONFIRMED.
            InvalidInput: bad lines, more than the reservation holds, or no reason.
        """
        return self._ordering.reject(reservation_id, lines, reason, key)

    # -- returns -------------------------------------------------------------------------------

    def request_return(
        self,
        order_id: str,
        lines: Mapping[str, int],
        *,
        at: str,
        channel: Channel,
        reason: str = "",
        exchange_for: str | None = None,
        key: str | None = None,
    ) -> ReturnAuthorization:
        """A customer asks to return units of an order, at any location with RETURNS.

        Whatever channel the order was placed or fulfilled in (bought online, returned in a
        store, and the reverse). Each order line may return the units that reached the customer
        within ``Policy.returns.window``, less those other return authorisations (all but
        rejected ones) already cover. An eligible request is AUTHORIZED at once, or waits in
        REQUESTED when the policy asks for manual review (ReturnRequested either way).

        Args:
            order_id: the order.
            lines: ``{order line id: units}`` to return.
            at: where the units will be brought back.
            channel: the channel the return is made in (``Channel.STORE`` at a counter).
            reason: the customer's reason.
            exchange_for: the id of a replacement order already placed (an exchange).

        Raises:
            UnknownOrder: no such order (or no such replacement order).
            UnknownLocation: no such location.
            MissingCapability: ``at`` does not take returns.
            ReturnNotAllowed: more units than may be returned, or outside the window; nothing
                is written.
            InvalidInput: bad lines, a line the order lacks, a bad channel or reason.
        """
        return self._returns.request(
            order_id,
            lines,
            at=at,
            channel=channel,
            reason=reason,
            exchange_for=exchange_for,
            key=key,
        )

    def authorize_return(self, rma_id: str, *, key: str | None = None) -> ReturnAuthorization:
        """REQUESTED -> AUTHORIZED: a reviewer accepts the return (manual review only).

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not REQUESTED.
        """
        return self._returns.authorize(rma_id, key)

    def reject_return(
        self, rma_id: str, reason: str, *, key: str | None = None
    ) -> ReturnAuthorization:
        """REQUESTED -> REJECTED: a reviewer refuses the return; its units may be asked again.

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not REQUESTED.
            InvalidInput: an empty reason.
        """
        return self._returns.reject(rma_id, reason, key)

    def receive_return(
        self,
        rma_id: str,
        conditions: Conditions | None = None,
        *,
        key: str | None = None,
    ) -> ReturnAuthorization:
        """AUTHORIZED -> RECEIVED: the units are back; each goes where its condition says.

        Each unit's :class:`~omniorder.Condition` maps through ``Policy.returns`` to a
        :class:`~omniorder.Disposition` (unless an :class:`~omniorder.Inspection` names one):
        RESTOCK puts it on hand at the receiving location, sellable at once in every channel;
        QUARANTINE counts it in the position's quarantine (never sellable) until
        :meth:`resolve_quarantine`; WRITE_OFF records it in the ledger only; TRANSFER sends it
        to the returns hub, inbound there until :meth:`arrive_return`. The refund (price paid
        less the condition's restocking fee, rounded down to the cent) is computed and shown in
        ReturnReceived; :meth:`refund_return` issues it.

        Args:
            conditions: per order line id, a Condition for all its units or Inspections that
                together cover them; lines left out (or None) are SELLABLE.

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not AUTHORIZED.
            InvalidInput: a line not in the return, inspections that do not add up, or a
                TRANSFER without a lane to the hub.
        """
        return self._returns.receive(rma_id, conditions, key)

    def refund_return(self, rma_id: str, *, key: str | None = None) -> ReturnAuthorization:
        """RECEIVED -> CLOSED: the refund is issued (RefundIssued), once.

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not RECEIVED (not received yet, or already refunded).
        """
        return self._returns.refund(rma_id, key)

    def arrive_return(self, rma_id: str, *, key: str | None = None) -> ReturnAuthorization:
        """Returned units sent to the returns hub arrived: on hand there (ReturnArrived).

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidInput: nothing of it is on its way to a hub (or it already arrived).
        """
        return self._returns.arrive(rma_id, key)

    def resolve_quarantine(
        self,
        location: str,
        sku: str,
        quantity: int,
        *,
        disposition: Disposition,
        reason: str = "",
        key: str | None = None,
    ) -> Position:
        """Quarantined units inspected: back on the shelf (RESTOCK) or thrown away (WRITE_OFF).

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku, quantity or reason, or another disposition.
            InsufficientStock: fewer units are in quarantine.
        """
        return self._returns.resolve_quarantine(
            location, sku, quantity, disposition=disposition, reason=reason, key=key
        )

    def return_authorization(self, rma_id: str) -> ReturnAuthorization:
        """The return authorisation with this id.

        Raises:
            UnknownReturn: no such return authorisation.
        """
        return self._returns.get(rma_id)

    def returns(self, order_id: str) -> list[ReturnAuthorization]:
        """Every return authorisation of an order, by id.

        Raises:
            UnknownOrder: no such order.
        """
        return self._returns.of_order(order_id)

    def __repr__(self) -> str:
        return f"Engine({len(self.network.locations)} locations, store={self.store!r})"
