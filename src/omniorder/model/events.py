"""Events: what happened, written to the store's outbox in the same transaction as the change.

Every event has a sequence number ``seq`` (given by the store: growing in reading order, gaps
allowed) and the time
``at`` it happened. Events are frozen; in JSON they are a tagged union (``"type"`` is the class
name; see :mod:`omniorder.serialization`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

import attrs

from omniorder.model.reservation import ReservationState
from omniorder.model.returns import Condition, Disposition, ReturnState
from omniorder.model.values import Channel, Line, Mode

__all__ = [
    "EVENT_TYPES",
    "Event",
    "InspectedUnits",
    "LineBackordered",
    "LineRefund",
    "LineResourced",
    "LocationUnits",
    "OrderHeld",
    "OrderPlaced",
    "QuarantineResolved",
    "RefundIssued",
    "ReservationArrived",
    "ReservationConfirmed",
    "ReservationDispatched",
    "ReservationEvent",
    "ReservationExpired",
    "ReservationExtended",
    "ReservationFulfilled",
    "ReservationHeld",
    "ReservationPlaced",
    "ReservationReady",
    "ReservationReleased",
    "ReturnArrived",
    "ReturnAuthorized",
    "ReturnEvent",
    "ReturnReceived",
    "ReturnRejected",
    "ReturnRequested",
    "ReturnUnits",
    "SafetyStockSet",
    "StockAdjusted",
    "StockReceived",
    "StockSold",
]


@attrs.frozen(kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        seq: the event's place in the log: growing in reading order from 1, with gaps allowed
            (0 until the store appends it).
        at: when it happened (the engine clock's time of the command).
    """

    seq: int = 0
    at: datetime


@attrs.frozen(kw_only=True)
class StockReceived(Event):
    """Goods arrived at a location.

    Attributes:
        location: where.
        sku: what.
        quantity: how many units.
    """

    location: str
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class StockAdjusted(Event):
    """On-hand was corrected (a count, damage, a short pick).

    Attributes:
        location: where.
        sku: what.
        delta: the signed change to on-hand.
        on_hand: on-hand after the change.
        reason: why, as given by the caller.
    """

    location: str
    sku: str
    delta: int
    on_hand: int
    reason: str


@attrs.frozen(kw_only=True)
class SafetyStockSet(Event):
    """The safety stock withheld from remote channels changed.

    Attributes:
        location: where.
        sku: what.
        quantity: the new safety stock.
    """

    location: str
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class StockSold(Event):
    """A walk-in sale at a till.

    Attributes:
        sale_id: the sale's id.
        location: the store whose till sold.
        channel: the channel the sale is booked in (``Channel.STORE`` for a till).
        lines: what was sold.
    """

    sale_id: str
    location: str
    channel: Channel
    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class ReservationEvent(Event):
    """Base of the events of one reservation.

    Attributes:
        reservation_id: the reservation.
        location: where its stock is.
        channel: the channel that made it.
        order_id: its order, if any.
    """

    reservation_id: str
    location: str
    channel: Channel
    order_id: str | None = None


@attrs.frozen(kw_only=True)
class ReservationHeld(ReservationEvent):
    """Stock was put on hold.

    Attributes:
        mode: how the units will leave.
        lines: what is held.
        expires_at: when the hold expires unless confirmed or extended.
    """

    mode: Mode
    lines: tuple[Line, ...]
    expires_at: datetime


@attrs.frozen(kw_only=True)
class ReservationExtended(ReservationEvent):
    """A hold was given more time.

    Attributes:
        expires_at: the new expiry.
    """

    expires_at: datetime


@attrs.frozen(kw_only=True)
class ReservationConfirmed(ReservationEvent):
    """A hold became a sale: the units are committed to the customer.

    Attributes:
        lines: what is committed.
    """

    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class ReservationReady(ReservationEvent):
    """A pickup is waiting at the counter: tell the customer, with the deadline.

    Attributes:
        pickup_deadline: when it becomes a no-show.
        lines: what is waiting.
    """

    pickup_deadline: datetime
    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class ReservationFulfilled(ReservationEvent):
    """Units were shipped or collected; any not collected went back on sale.

    Attributes:
        mode: how they left.
        fulfilled: what left.
        released: what was not collected and went back on sale.
    """

    mode: Mode
    fulfilled: tuple[Line, ...]
    released: tuple[Line, ...] = ()


@attrs.frozen(kw_only=True)
class ReservationReleased(ReservationEvent):
    """A reservation was cancelled: its units are back on sale.

    Attributes:
        previous: the state it was released from.
        lines: what went back on sale.
        reason: why, as given by the caller.
    """

    previous: ReservationState
    lines: tuple[Line, ...]
    reason: str = ""


@attrs.frozen(kw_only=True)
class ReservationExpired(ReservationEvent):
    """A hold timed out, or a pickup was never collected: its units are back on sale.

    Attributes:
        previous: HELD (hold timed out) or READY (no-show).
        lines: what went back on sale.
        expires_at: the deadline that passed.
    """

    previous: ReservationState
    lines: tuple[Line, ...]
    expires_at: datetime


@attrs.frozen(kw_only=True)
class ReservationPlaced(ReservationEvent):
    """An order's stock was committed at a location directly (no hold before it).

    Attributes:
        mode: how the units will leave.
        lines: what is committed.
    """

    mode: Mode
    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class ReservationDispatched(ReservationEvent):
    """A transfer left its origin for a store: the units are in the store's inbound.

    Attributes:
        destination: the store it travels to.
        lines: what travels.
    """

    destination: str
    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class ReservationArrived(ReservationEvent):
    """A transfer reached its store: the units wait at the counter under a new reservation.

    Attributes:
        destination: the store it reached.
        lines: what arrived.
        ready_reservation_id: the READY reservation the customer collects.
    """

    destination: str
    lines: tuple[Line, ...]
    ready_reservation_id: str


@attrs.frozen(kw_only=True)
class OrderHeld(Event):
    """An order's stock is held for checkout, where the solver sourced it.

    Attributes:
        order_id: the order.
        channel: the channel it is ordered in.
        reservation_ids: the holds, one per location and mode.
    """

    order_id: str
    channel: Channel
    reservation_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class OrderPlaced(Event):
    """An order is placed: its stock is committed (and what could not be, backordered).

    Attributes:
        order_id: the order.
        channel: the channel it was ordered in.
        reservation_ids: its confirmed reservations.
        lines: units committed, by sku.
        backordered: units backordered, by sku.
    """

    order_id: str
    channel: Channel
    reservation_ids: tuple[str, ...]
    lines: tuple[Line, ...]
    backordered: tuple[Line, ...] = ()


@attrs.frozen(kw_only=True)
class LineBackordered(Event):
    """Units of an order line that no location can give now.

    Attributes:
        order_id: the order.
        line_id: the line.
        sku: its sku.
        quantity: units backordered.
        reason: why.
    """

    order_id: str
    line_id: str
    sku: str
    quantity: int
    reason: str


@attrs.frozen(kw_only=True)
class LineResourced(Event):
    """A location could not pick units of an order line; they were sourced elsewhere.

    Attributes:
        order_id: the order.
        line_id: the line.
        sku: its sku.
        quantity: units the location rejected.
        from_location: the location that rejected them.
        to: where they come from now (units not listed are backordered).
        reason: why the location rejected them.
    """

    order_id: str
    line_id: str
    sku: str
    quantity: int
    from_location: str
    to: tuple[LocationUnits, ...]
    reason: str


@attrs.frozen
class LocationUnits:
    """Units at one location.

    Attributes:
        location: where.
        quantity: how many.
    """

    location: str
    quantity: int


@attrs.frozen
class ReturnUnits:
    """Units of one order line in a return.

    Attributes:
        line_id: the order line.
        sku: its sku.
        quantity: how many units.
    """

    line_id: str
    sku: str
    quantity: int


@attrs.frozen
class InspectedUnits:
    """Returned units of one order line found in one condition, and what was done with them.

    Attributes:
        line_id: the order line.
        sku: its sku.
        condition: what they were found like.
        disposition: what was done with them.
        quantity: how many units.
    """

    line_id: str
    sku: str
    condition: Condition
    disposition: Disposition
    quantity: int


@attrs.frozen
class LineRefund:
    """The refund of one order line.

    Attributes:
        line_id: the order line.
        amount: what it refunds.
    """

    line_id: str
    amount: Decimal


@attrs.frozen(kw_only=True)
class ReturnEvent(Event):
    """Base of the events of a return authorisation.

    Attributes:
        rma_id: the return authorisation.
        order_id: the order the units were bought in.
    """

    rma_id: str
    order_id: str


@attrs.frozen(kw_only=True)
class ReturnRequested(ReturnEvent):
    """A customer asked to return units (in any channel, at a location with RETURNS).

    Attributes:
        location: where the units will be brought back.
        channel: the channel the return is made in.
        ordered_in: the channel the order was placed in (a cross-channel return when they
            differ).
        lines: the units, per order line.
        state: AUTHORIZED (eligible, authorised at once) or REQUESTED (waits for review).
        reason: the customer's reason.
        exchange_for: a replacement order, for an exchange.
    """

    location: str
    channel: Channel
    ordered_in: Channel
    lines: tuple[ReturnUnits, ...]
    state: ReturnState
    reason: str = ""
    exchange_for: str | None = None


@attrs.frozen(kw_only=True)
class ReturnAuthorized(ReturnEvent):
    """A reviewer authorised a return that waited in REQUESTED."""


@attrs.frozen(kw_only=True)
class ReturnRejected(ReturnEvent):
    """A reviewer rejected a return.

    Attributes:
        reason: why.
    """

    reason: str


@attrs.frozen(kw_only=True)
class ReturnReceived(ReturnEvent):
    """Returned units were received and inspected; each went where its disposition says.

    Attributes:
        location: where they were received.
        channel: the channel the return was made in.
        ordered_in: the channel the order was placed in.
        units: per order line and condition, what was done with them.
        refund: what the return refunds (issued by ``refund_return``: RefundIssued).
    """

    location: str
    channel: Channel
    ordered_in: Channel
    units: tuple[InspectedUnits, ...]
    refund: Decimal


@attrs.frozen(kw_only=True)
class RefundIssued(ReturnEvent):
    """The refund of a return was issued (once per return authorisation).

    Attributes:
        amount: the total refunded.
        lines: the refund per order line.
    """

    amount: Decimal
    lines: tuple[LineRefund, ...]


@attrs.frozen(kw_only=True)
class ReturnArrived(ReturnEvent):
    """Returned units sent to the returns hub arrived there (on hand at the hub).

    Attributes:
        location: the hub.
        from_location: where the return was received.
        lines: the units, per sku.
    """

    location: str
    from_location: str
    lines: tuple[Line, ...]


@attrs.frozen(kw_only=True)
class QuarantineResolved(Event):
    """Quarantined units were inspected: back on the shelf, or written off.

    Attributes:
        location: where.
        sku: what.
        quantity: how many units.
        disposition: RESTOCK (on hand, sellable) or WRITE_OFF (gone).
        reason: why.
    """

    location: str
    sku: str
    quantity: int
    disposition: Disposition
    reason: str = ""


EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    StockReceived,
    StockAdjusted,
    SafetyStockSet,
    StockSold,
    ReservationHeld,
    ReservationExtended,
    ReservationConfirmed,
    ReservationReady,
    ReservationFulfilled,
    ReservationReleased,
    ReservationExpired,
    ReservationPlaced,
    ReservationDispatched,
    ReservationArrived,
    OrderHeld,
    OrderPlaced,
    LineBackordered,
    LineResourced,
    ReturnRequested,
    ReturnAuthorized,
    ReturnRejected,
    ReturnReceived,
    RefundIssued,
    ReturnArrived,
    QuarantineResolved,
)
"""Every concrete event class, in the order they were introduced (the JSON tagged union)."""
