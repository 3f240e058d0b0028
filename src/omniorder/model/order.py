"""Orders, their lines and how each line reaches the customer (DESIGN §2.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

import attrs

from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Channel, Geo, Mode

__all__ = [
    "Fulfilment",
    "LineQuantity",
    "LineReservation",
    "LineView",
    "Order",
    "OrderLine",
    "OrderRecord",
    "OrderStatus",
    "OrderView",
    "Pickup",
    "Ship",
    "ShipToStore",
    "Sourcing",
    "mode_of",
    "order_view",
]


def _check_geo(_: object, __: attrs.Attribute[Geo], value: Geo) -> None:
    if not isinstance(value, Geo):
        raise InvalidInput("to must be a Geo", field="to", value=value)


def _check_store(_: object, __: attrs.Attribute[str], value: str) -> None:
    checks.identifier(value, "at")


@attrs.frozen
class Ship:
    """A parcel to the customer, from any location that ships.

    Attributes:
        to: where the customer is.
    """

    to: Geo = attrs.field(validator=_check_geo)


@attrs.frozen
class Pickup:
    """Click-and-collect at a store, from that store's own stock.

    Attributes:
        at: the store (it must have a pickup counter).
    """

    at: str = attrs.field(validator=_check_store)


@attrs.frozen
class ShipToStore:
    """Collect at a store; the stock is transferred there from another location over a lane.

    Attributes:
        at: the store where the customer collects.
    """

    at: str = attrs.field(validator=_check_store)


Fulfilment = Ship | Pickup | ShipToStore
"""How one order line reaches the customer."""


def mode_of(fulfilment: Fulfilment) -> Mode:
    """The reservation mode that serves ``fulfilment`` at the sourcing location."""
    if isinstance(fulfilment, Ship):
        return Mode.SHIP
    if isinstance(fulfilment, Pickup):
        return Mode.PICKUP
    return Mode.TRANSFER


def _check_id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    checks.identifier(value, attribute.name)


def _check_quantity(_: object, __: attrs.Attribute[int], value: int) -> None:
    checks.positive(value)


def _price(value: Decimal | int) -> Decimal:
    return checks.money(value, "unit_price")


def _check_fulfilment(_: object, __: attrs.Attribute[Fulfilment], value: Fulfilment) -> None:
    if not isinstance(value, Ship | Pickup | ShipToStore):
        raise InvalidInput(
            "fulfilment must be Ship, Pickup or ShipToStore", field="fulfilment", value=value
        )


@attrs.frozen
class OrderLine:
    """One sku of an order and how it reaches the customer.

    Attributes:
        id: unique within the order.
        sku: the stock keeping unit.
        quantity: units ordered (at least 1).
        unit_price: what the customer pays per unit (a Decimal; refunds are computed from it).
        fulfilment: :class:`Ship`, :class:`Pickup` or :class:`ShipToStore`.
    """

    id: str = attrs.field(validator=_check_id)
    sku: str = attrs.field(validator=_check_id)
    quantity: int = attrs.field(validator=_check_quantity)
    unit_price: Decimal = attrs.field(converter=_price)
    fulfilment: Fulfilment = attrs.field(validator=_check_fulfilment)

    @property
    def slot(self) -> tuple[str, str]:
        """Where it is headed: ``("ship", "")``, ``("pickup", store)``, ``("transfer", store)``.

        An order has at most one line per sku and slot.
        """
        target = "" if isinstance(self.fulfilment, Ship) else self.fulfilment.at
        return (mode_of(self.fulfilment).value, target)


def _lines(value: object) -> tuple[OrderLine, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput("lines must be a sequence of OrderLine", field="lines", value=value)
    found = tuple(value)
    for line in found:
        if not isinstance(line, OrderLine):
            raise InvalidInput("lines must be OrderLine values", field="lines", value=line)
    return found


def _channel(value: Channel | str) -> Channel:
    return checks.check_enum(Channel, value, "channel")


def _check_customer(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        checks.identifier(value, "customer")


@attrs.frozen
class Order:
    """What a customer ordered, in one channel.

    Attributes:
        id: unique order id.
        channel: the channel it was ordered in.
        lines: one or more :class:`OrderLine`; line ids are unique, an order has at most one
            line per sku and destination slot (see :attr:`OrderLine.slot`), and all its
            shipped lines go to one address.
        customer: who ordered, if known.

    Raises:
        InvalidInput: no lines, a duplicate line id, a repeated sku for the same slot, or
            shipped lines to different addresses.
    """

    id: str = attrs.field(validator=_check_id)
    channel: Channel = attrs.field(converter=_channel)
    lines: tuple[OrderLine, ...] = attrs.field(converter=_lines)
    customer: str | None = attrs.field(default=None, validator=_check_customer)

    def __attrs_post_init__(self) -> None:
        if not self.lines:
            raise InvalidInput("an order needs at least one line", field="lines", value=())
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise InvalidInput(f"order {self.id!r} repeats a line id", field="lines", value=ids)
        slots = [(line.sku, line.slot) for line in self.lines]
        if len(set(slots)) != len(slots):
            raise InvalidInput(
                f"order {self.id!r} has the same sku twice for one destination; merge the lines",
                field="lines",
                value=slots,
            )
        addresses = {line.fulfilment.to for line in self.lines if isinstance(line.fulfilment, Ship)}
        if len(addresses) > 1:
            raise InvalidInput(
                f"order {self.id!r} ships to several addresses; split it into one order each",
                field="lines",
                value=addresses,
            )

    def line(self, line_id: str) -> OrderLine:
        """The line with this id.

        Raises:
            InvalidInput: no such line.
        """
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput(
            f"order {self.id!r} has no line {line_id!r}", field="line_id", value=line_id
        )

    @property
    def ship_to(self) -> Geo | None:
        """The delivery address of the shipped lines, or None if nothing is shipped."""
        for line in self.lines:
            if isinstance(line.fulfilment, Ship):
                return line.fulfilment.to
        return None


class OrderStatus(StrEnum):
    """Where an order stands as a whole; :data:`~omniorder.model.ORDER_TABLE` says which order
    command is legal in each status."""

    HELD = "HELD"
    """Its stock is held for checkout (``hold_order``); nothing is sold yet."""
    PLACED = "PLACED"
    """Placed: its reservations are confirmed (or its lines backordered); terminal for the
    status, while its units go on through the reservation machine."""


@attrs.frozen
class Sourcing:
    """Units of one order line held or committed by one reservation.

    Attributes:
        line_id: the order line.
        reservation_id: the reservation holding them.
        location: where.
        quantity: how many units it was made for.
        resourced: whether it replaced units a location rejected.
    """

    line_id: str
    reservation_id: str
    location: str
    quantity: int
    resourced: bool = False


@attrs.frozen
class LineQuantity:
    """Units of one order line.

    Attributes:
        line_id: the line.
        quantity: how many.
    """

    line_id: str
    quantity: int


@attrs.frozen
class OrderRecord:
    """What the store keeps about an order: the order, how it is sourced, what is missing.

    Attributes:
        order: the order as placed (or held).
        status: HELD (checkout holds) or PLACED.
        sourcing: every reservation ever made for its lines, in the order they were made.
        backordered: units per line nobody could give (lines appear once, summed).
        resourced: units per line moved elsewhere after a location rejected them.
        created_at: when it was first held or placed.
        updated_at: when it last changed.
        version: 1 when made, +1 at every change.
    """

    order: Order
    status: OrderStatus
    sourcing: tuple[Sourcing, ...]
    created_at: datetime
    updated_at: datetime
    backordered: tuple[LineQuantity, ...] = ()
    resourced: tuple[LineQuantity, ...] = ()
    version: int = 1

    @property
    def id(self) -> str:
        """The order id."""
        return self.order.id

    def backordered_units(self, line_id: str) -> int:
        """Units of ``line_id`` backordered."""
        return sum(b.quantity for b in self.backordered if b.line_id == line_id)

    def resourced_units(self, line_id: str) -> int:
        """Units of ``line_id`` re-sourced after a rejection."""
        return sum(r.quantity for r in self.resourced if r.line_id == line_id)


def _counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(value.items())))


@attrs.frozen
class LineReservation:
    """One reservation serving an order line.

    Attributes:
        reservation_id: the reservation.
        location: where it holds the units.
        state: its state now (a hold past its expiry shows as EXPIRED).
        mode: PICKUP, SHIP or TRANSFER.
        units: how many units of the line it was made for.
    """

    reservation_id: str
    location: str
    state: ReservationState
    mode: Mode
    units: int


@attrs.frozen
class LineView:
    """One order line, across every location and reservation that serves it.

    Attributes:
        line_id: the line.
        sku: its sku.
        quantity: units ordered.
        sourced: ``{location: units}`` held, committed or already fulfilled there.
        fulfilled: units shipped or collected.
        released: units given back (released, expired, rejected, not collected).
        backordered: units nobody could give.
        resourced: units moved to another location after a rejection.
        reservations: every reservation that served the line, in the order they were made.
        fulfilled_in: the channel the customer got the units in: ``Channel.STORE`` when
            collected at a counter, the order's channel when shipped; None before.
        returned: units the customer brought back (received on a return authorisation).
    """

    line_id: str
    sku: str
    quantity: int
    sourced: Mapping[str, int] = attrs.field(converter=_counts, hash=False)
    fulfilled: int = 0
    released: int = 0
    backordered: int = 0
    resourced: int = 0
    reservations: tuple[LineReservation, ...] = ()
    fulfilled_in: Channel | None = None
    returned: int = 0


@attrs.frozen
class OrderView:
    """One order as every channel sees it.

    Attributes:
        order_id: the order.
        channel: the channel it was ordered in.
        status: HELD or PLACED.
        lines: one :class:`LineView` per order line, in order.
        reservation_ids: every reservation made for it, in the order they were made.
    """

    order_id: str
    channel: Channel
    status: OrderStatus
    lines: tuple[LineView, ...]
    reservation_ids: tuple[str, ...]

    def line(self, line_id: str) -> LineView:
        """The view of one line.

        Raises:
            InvalidInput: no such line.
        """
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise InvalidInput(
            f"order {self.order_id!r} has no line {line_id!r}", field="line_id", value=line_id
        )


def order_view(
    record: OrderRecord,
    reservations: Mapping[str, Reservation],
    returned: Mapping[str, int] | None = None,
) -> OrderView:
    """The view of ``record``, given its reservations as readers see them now.

    A ship-to-store line is sourced at its origin until the transfer arrives, then at the
    store, where the customer collects it; the transfer's own delivery to the store is not the
    customer's fulfilment.

    Args:
        record: the stored order.
        reservations: every reservation of the order by id (with the expiry view applied).
        returned: units received back per line id.
    """
    lines = []
    for line in record.order.lines:
        sourced: dict[str, int] = {}
        fulfilled = released = 0
        served: list[LineReservation] = []
        fulfilled_in: Channel | None = None
        for s in record.sourcing:
            if s.line_id != line.id:
                continue
            reservation = reservations[s.reservation_id]
            held = next((x for x in reservation.lines if x.sku == line.sku), None)
            if held is None:  # sourcing kept for another version of the line
                continue
            served.append(
                LineReservation(
                    reservation.id,
                    reservation.location,
                    reservation.state,
                    reservation.mode,
                    s.quantity,
                )
            )
            released += held.released
            if reservation.mode is Mode.TRANSFER:
                if reservation.state is not ReservationState.FULFILLED:  # not arrived yet
                    kept = held.quantity - held.released
                    if kept:
                        sourced[s.location] = sourced.get(s.location, 0) + kept
                continue
            kept = held.quantity - held.released
            if kept:
                sourced[s.location] = sourced.get(s.location, 0) + kept
            if held.fulfilled:
                fulfilled += held.fulfilled
                fulfilled_in = (
                    Channel.STORE if reservation.mode is Mode.PICKUP else record.order.channel
                )
        lines.append(
            LineView(
                line.id,
                line.sku,
                line.quantity,
                sourced,
                fulfilled,
                released,
                record.backordered_units(line.id),
                record.resourced_units(line.id),
                tuple(served),
                fulfilled_in,
                (returned or {}).get(line.id, 0),
            )
        )
    ids = tuple(dict.fromkeys(s.reservation_id for s in record.sourcing))
    return OrderView(record.id, record.order.channel, record.status, tuple(lines), ids)
