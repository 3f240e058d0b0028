"""The engine: one method per command; each command is one unit of work of the store.

Every channel (web, app, chat or call centre, store till, marketplace) calls the same engine over
the same store, so they all read and change one ledger. A command validates its input first (bad
input raises :class:`~omniorder.InvalidInput` and touches nothing), then runs in one transaction
that writes the positions, the ledger, the reservations, the events and the idempotency record
together, or none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from omniorder.allocation.local import default_solver
from omniorder.allocation.plan import AllocationPlan
from omniorder.allocation.protocol import Solver
from omniorder.model import checks
from omniorder.model.audit import Discrepancy
from omniorder.model.clock import Clock, SystemClock
from omniorder.model.errors import InvalidInput
from omniorder.model.events import Event
from omniorder.model.network import Network
from omniorder.model.order import Order, OrderView
from omniorder.model.policy import Policy
from omniorder.model.position import Position
from omniorder.model.reservation import Reservation
from omniorder.model.returns import Conditions, Disposition, ReturnAuthorization
from omniorder.model.sale import Sale
from omniorder.model.values import Channel, Geo, Mode
from omniorder.service import fulfilment, holds, orders, outbox, returns, stock
from omniorder.service.context import Context, new_id
from omniorder.service.outbox import verify_store
from omniorder.stores.base import Store
from omniorder.stores.memory import InMemoryStore

__all__ = ["Engine", "verify_store"]


class Engine:
    """The application service over one network and one store.

    Args:
        network: the locations and lanes.
        store: where state is kept (default: a new :class:`~omniorder.InMemoryStore`).
        solver: sources orders (default: :func:`~omniorder.allocation.default_solver`).
        clock: where time comes from (default: :class:`~omniorder.SystemClock`).
        policy: the declared rules (default: :class:`~omniorder.Policy`); a returns hub it
            names must be in the network (else :class:`~omniorder.UnknownLocation`).
        ids: makes new ids from a prefix (``"res"``, ``"sale"``); default:
            :func:`omniorder.service.context.new_id` (prefix, ``_`` and 32 random hex digits,
            unique across processes and not guessable).
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
        if solver is not None and not isinstance(solver, Solver):
            raise InvalidInput(
                "solver must have a name and solve(problem)", field="solver", value=solver
            )
        chosen_policy = Policy() if policy is None else policy
        if chosen_policy.returns.hub is not None:
            network.location(chosen_policy.returns.hub)  # UnknownLocation if it is not there
        self._ctx = Context(
            network=network,
            store=InMemoryStore() if store is None else store,
            solver=default_solver() if solver is None else solver,
            clock=SystemClock() if clock is None else clock,
            policy=chosen_policy,
            new_id=ids or new_id,
            retries=checks.non_negative(retries, "retries"),
        )

    @property
    def network(self) -> Network:
        """The locations and lanes."""
        return self._ctx.network

    @property
    def store(self) -> Store:
        """Where state is kept."""
        return self._ctx.store

    @property
    def solver(self) -> Solver:
        """What sources orders."""
        return self._ctx.solver

    @property
    def clock(self) -> Clock:
        """Where time comes from."""
        return self._ctx.clock

    @property
    def policy(self) -> Policy:
        """The declared rules."""
        return self._ctx.policy

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
        return stock.receive(self._ctx, location, sku, quantity, key=key)

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
        return stock.adjust(self._ctx, location, sku, to=to, delta=delta, reason=reason, key=key)

    def set_safety_stock(
        self, location: str, sku: str, quantity: int, *, key: str | None = None
    ) -> Position:
        """Withhold ``quantity`` units of ``sku`` at ``location`` from the remote channels.

        The store's own till and counter (``Channel.STORE``) still see them.

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku or a negative quantity.
        """
        return stock.set_safety_stock(self._ctx, location, sku, quantity, key=key)

    # -- reads ---------------------------------------------------------------------------------

    def position(self, location: str, sku: str) -> Position:
        """The position of ``sku`` at ``location`` now (holds past their expiry not counted).

        Raises:
            UnknownLocation: no such location.
            InvalidInput: a bad sku.
        """
        return stock.position(self._ctx, location, sku)

    def availability_by_location(
        self, sku: str, *, channel: Channel = Channel.WEB
    ) -> dict[str, int]:
        """Units of ``sku`` that ``channel`` may sell now, for every location of the network.

        Raises:
            InvalidInput: a bad sku or channel.
        """
        return stock.availability_by_location(self._ctx, sku, channel)

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
        return stock.availability(self._ctx, sku, channel, location)

    def reservation(self, reservation_id: str) -> Reservation:
        """The reservation as it is now: a hold past its expiry shows as EXPIRED.

        Raises:
            UnknownReservation: no such reservation.
            InvalidInput: a bad id.
        """
        return holds.reservation(self._ctx, reservation_id)

    def events(self, after: int = 0, *, limit: int | None = None) -> list[Event]:
        """Events with ``seq > after``, oldest first (at most ``limit``).

        Raises:
            InvalidInput: a negative ``after`` or a ``limit`` below 1.
        """
        return outbox.events(self._ctx, after, limit)

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
        return stock.sell(self._ctx, location, lines, channel=channel, key=key)

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
        return holds.reserve(
            self._ctx,
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

    def extend(self, reservation_id: str, ttl: timedelta, *, key: str | None = None) -> Reservation:
        """Give a HELD reservation ``ttl`` more time from now (refused once it has expired).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not HELD, or already past its expiry.
            InvalidInput: a ttl that is not positive or above the policy maximum.
        """
        return holds.extend(self._ctx, reservation_id, ttl, key=key)

    def confirm(self, reservation_id: str, *, key: str | None = None) -> Reservation:
        """HELD -> CONFIRMED: the held units are sold to this customer (committed).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not HELD, or the hold has expired (even if no sweep has run).
        """
        return holds.confirm(self._ctx, reservation_id, key=key)

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
        return holds.mark_ready(self._ctx, reservation_id, pickup_window=pickup_window, key=key)

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
        return holds.collect(self._ctx, reservation_id, lines, at=at, key=key)

    def ship(self, reservation_id: str, *, key: str | None = None) -> Reservation:
        """A SHIP reservation's parcel has left (CONFIRMED -> FULFILLED); a TRANSFER has been
        dispatched to its store (CONFIRMED -> IN_TRANSIT: its units are in the store's inbound).

        Raises:
            UnknownReservation: no such reservation.
            InvalidTransition: not CONFIRMED, or a PICKUP reservation.
        """
        return fulfilment.ship(self._ctx, reservation_id, key=key)

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
        return fulfilment.arrive(self._ctx, reservation_id, pickup_window=pickup_window, key=key)

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
        return fulfilment.pickup_options(self._ctx, lines, near, channel, limit)

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
        return holds.release(self._ctx, reservation_id, reason=reason, key=key)

    def expire_due(self, *, key: str | None = None) -> list[Reservation]:
        """Expire every hold past its expiry and every READY pickup past its deadline.

        Holds past their expiry never block a sale even before this runs; this sweep puts the
        no-shows' units back on sale and records every expiry (ReservationExpired).

        Returns:
            The reservations expired now, by (deadline, id).
        """
        return holds.expire_due(self._ctx, key=key)

    # -- orders ----------------------------------------------------------------------------------

    def quote(self, order: Order) -> AllocationPlan:
        """Where ``order`` would be sourced now, and at what cost; nothing is written.

        Raises:
            InvalidInput: not an Order, or more lines than the policy allows.
            UnknownLocation: a pickup or ship-to-store line names a store not in the network.
        """
        return orders.quote(self._ctx, order)

    def hold_order(
        self, order: Order, *, ttl: timedelta | None = None, key: str | None = None
    ) -> OrderView:
        """Checkout holds: HELD reservations wherever the solver sources each line.

        The cart's stock is pinned to real locations (never a channel-level pool that a store
        could sell from under it). All or nothing.

        Holding an order again (its cart perhaps changed) replaces its live holds; what the
        order already sold stays: a hold confirmed on its own (or READY, in transit, fulfilled)
        keeps covering the line that takes its sku to the same place (matched by sku and
        destination, so line ids may change), and only the units it does not cover are held
        anew. See docs/concepts/orders.md, "Changing a held cart".

        Raises:
            InsufficientStock: some line cannot be sourced (nothing is held).
            InvalidTransition: the order is already placed.
            InvalidInput: a bad order or ttl; or the cart asks for fewer units of a line than
                the order already sold for it, or drops such a line (every such line is named;
                nothing is written: release that reservation first).
        """
        return orders.hold_order(self._ctx, order, ttl=ttl, key=key)

    def place_order(self, order: Order, *, key: str | None = None) -> OrderView:
        """Place ``order``: commit its stock where the solver sources it, in one unit of work.

        If ``hold_order`` held this same order, its live holds are confirmed and only the
        lines whose holds expired or were released are sourced again. If the cart changed
        since, its live holds are released instead, and only what the order already sold is
        kept: a hold confirmed on its own (or READY, in transit, fulfilled) keeps covering the
        line that takes its sku to the same place (line ids may change), and only the units it
        does not cover are sourced. What cannot be sourced is backordered
        (``Policy.backorders``) or refused. Pickup stock is committed at the pickup store, so
        no later order or till sale can take it.

        Raises:
            InsufficientStock: with backorders off, every line that cannot be sourced; nothing
                is written.
            InvalidTransition: the order is already placed.
            InvalidInput: a bad order; or a changed cart asks for fewer units of a line than the
                order already sold for it, or drops such a line (every such line is named;
                nothing is written: release that reservation first).
        """
        return orders.place_order(self._ctx, order, key=key)

    def order(self, order_id: str) -> OrderView:
        """An order as every channel sees it: each line's sourcing, state and quantities.

        Raises:
            UnknownOrder: no such order.
        """
        return orders.order(self._ctx, order_id)

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
        return orders.reject(self._ctx, reservation_id, lines, reason=reason, key=key)

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
        return returns.request_return(
            self._ctx,
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
        return returns.authorize_return(self._ctx, rma_id, key=key)

    def reject_return(
        self, rma_id: str, reason: str, *, key: str | None = None
    ) -> ReturnAuthorization:
        """REQUESTED -> REJECTED: a reviewer refuses the return; its units may be asked again.

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not REQUESTED.
            InvalidInput: an empty reason.
        """
        return returns.reject_return(self._ctx, rma_id, reason, key=key)

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
        return returns.receive_return(self._ctx, rma_id, conditions, key=key)

    def refund_return(self, rma_id: str, *, key: str | None = None) -> ReturnAuthorization:
        """RECEIVED -> CLOSED: the refund is issued (RefundIssued), once.

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidTransition: not RECEIVED (not received yet, or already refunded).
        """
        return returns.refund_return(self._ctx, rma_id, key=key)

    def arrive_return(self, rma_id: str, *, key: str | None = None) -> ReturnAuthorization:
        """Returned units sent to the returns hub arrived: on hand there (ReturnArrived).

        Raises:
            UnknownReturn: no such return authorisation.
            InvalidInput: nothing of it is on its way to a hub (or it already arrived).
        """
        return returns.arrive_return(self._ctx, rma_id, key=key)

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
        return returns.resolve_quarantine(
            self._ctx, location, sku, quantity, disposition=disposition, reason=reason, key=key
        )

    def return_authorization(self, rma_id: str) -> ReturnAuthorization:
        """The return authorisation with this id.

        Raises:
            UnknownReturn: no such return authorisation.
        """
        return returns.return_authorization(self._ctx, rma_id)

    def returns(self, order_id: str) -> list[ReturnAuthorization]:
        """Every return authorisation of an order, by id.

        Raises:
            UnknownOrder: no such order.
        """
        return returns.returns_of_order(self._ctx, order_id)

    def __repr__(self) -> str:
        return f"Engine({len(self.network.locations)} locations, store={self.store!r})"
