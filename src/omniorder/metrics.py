"""Omnichannel KPIs computed from the event log alone (DESIGN §8): is our omnichannel working?

:func:`report` reads events in ``seq`` order (``engine.events()``, or any iterable of them) and
returns a :class:`Report`: one :class:`ChannelKPIs` per :class:`~omniorder.Channel` and one
overall. It is a pure function: no I/O, no clock, and event types it has no use for are skipped.

Attribution: every figure belongs to the channel the business began in. An order, its units,
shipments, short picks and returns belong to the channel it was ordered in (``OrderPlaced``;
a return made in a store for a web order counts for web, as a cross-channel return); a hold or a
pickup to the channel of its reservation; a till sale to ``StockSold.channel``. Each channel is
counted once, so the overall counts are the sums of the channels' and the overall ratios are
computed from those sums (never averaged).

Cohorts: a subject counts when its beginning is in the events given: an order its
``OrderPlaced``, a hold its ``ReservationHeld``, a pickup its ``ReservationReady``. Later events
count only with their subject, so a report over ``engine.events(after=n)`` describes what began
after ``n`` and every ratio stays within [0, 1]. One limit: ``ReservationConfirmed`` carries no
mode, so the units of checkout holds confirmed by an order in the slice but held before it
count in ``units_committed`` and in no mode's units.

Ratios are plain floats, numerator / denominator as each :class:`ChannelKPIs` property says, and
``None`` (never 0, never NaN) when the denominator is 0.

Example:
    >>> from decimal import Decimal
    >>> from omniorder import Channel, Engine, Geo, ManualClock, Order, OrderLine, Ship
    >>> from omniorder.testing.network import START, WAREHOUSE, sample_network
    >>> engine = Engine(sample_network(), clock=ManualClock(START))
    >>> _ = engine.receive(WAREHOUSE, "lamp", 3)
    >>> line = OrderLine("1", "lamp", 2, Decimal("20.00"), Ship(Geo(51.5, -0.1)))
    >>> _ = engine.place_order(Order("o-1", Channel.WEB, [line]))
    >>> web = report(engine.events()).by_channel[Channel.WEB]
    >>> web.orders, web.ship_units, web.fill_rate, web.return_rate
    (1, 2, 1.0, None)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

import attrs

from omniorder.model.events import (
    Event,
    LineResourced,
    OrderPlaced,
    ReservationConfirmed,
    ReservationExpired,
    ReservationFulfilled,
    ReservationHeld,
    ReservationPlaced,
    ReservationReady,
    ReservationReleased,
    ReturnReceived,
    StockSold,
)
from omniorder.model.reservation import ReservationState
from omniorder.model.values import Channel, Line, Mode

__all__ = ["ChannelKPIs", "Report", "report"]

_MODE_FIELD: Final = {Mode.SHIP: "ship", Mode.PICKUP: "pickup", Mode.TRANSFER: "ship_to_store"}
"""The field prefix of each reservation mode's order and unit counts."""

_NONE: Final = "—"
"""How a ratio without a denominator is shown."""


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _units(lines: Iterable[Line]) -> int:
    return sum(line.quantity for line in lines)


@attrs.frozen
class ChannelKPIs:
    """One channel's figures (or every channel's, in :attr:`Report.overall`).

    Every attribute is a count (0 when nothing happened); the ratios are properties built from
    them (see each one).

    Attributes:
        orders: orders placed (``OrderPlaced``).
        units_ordered: units those orders asked for (committed plus backordered).
        units_committed: units committed at placement (``OrderPlaced.lines``).
        units_backordered: units backordered at placement (``OrderPlaced.backordered``).
        ship_orders: placed orders with units committed to a SHIP reservation at placement.
        ship_units: units committed to SHIP reservations at placement.
        pickup_orders: placed orders with units committed to a PICKUP reservation (collected
            at the store that holds them).
        pickup_units: units committed to PICKUP reservations at placement.
        ship_to_store_orders: placed orders with units committed to a TRANSFER reservation.
        ship_to_store_units: units committed to TRANSFER reservations at placement.
        till_sales: walk-in sales at a till (``StockSold``).
        till_units: units sold at a till.
        orders_shipped: placed orders with at least one unit shipped (``ReservationFulfilled``
            of a SHIP reservation, including units re-sourced after a short pick).
        split_shipments: of those, the orders shipped from more than one location.
        holds_placed: holds made (``ReservationHeld``: a chat agent's or a cart's hold, and
            the checkout holds of ``hold_order``).
        holds_confirmed: of those, holds confirmed into a sale (``ReservationConfirmed``).
        holds_expired: of those, holds that timed out (``ReservationExpired``, previous HELD).
        holds_released: of those, holds cancelled (``ReservationReleased``, previous HELD).
        pickups_ready: pickups that became READY at a counter (``ReservationReady``,
            click-and-collect and ship-to-store alike).
        pickups_on_time: of those, pickups collected (at least one unit, ``ReservationFulfilled``)
            before their pickup deadline.
        no_shows: of those, pickups never collected (``ReservationExpired``, previous READY).
        orders_short_picked: placed orders with at least one line a location could not pick
            (``LineResourced``, whether the units were then re-sourced or backordered).
        units_fulfilled: units of placed orders that left: shipped or collected
            (``ReservationFulfilled.fulfilled``; a transfer's arrival is not a fulfilment, its
            collection at the store is).
        units_returned: units of placed orders received back (``ReturnReceived``).
        returns: returns of placed orders received (one per return authorisation).
        cross_channel_returns: of those, returns made in another channel than the order's.
    """

    orders: int = 0
    units_ordered: int = 0
    units_committed: int = 0
    units_backordered: int = 0
    ship_orders: int = 0
    ship_units: int = 0
    pickup_orders: int = 0
    pickup_units: int = 0
    ship_to_store_orders: int = 0
    ship_to_store_units: int = 0
    till_sales: int = 0
    till_units: int = 0
    orders_shipped: int = 0
    split_shipments: int = 0
    holds_placed: int = 0
    holds_confirmed: int = 0
    holds_expired: int = 0
    holds_released: int = 0
    pickups_ready: int = 0
    pickups_on_time: int = 0
    no_shows: int = 0
    orders_short_picked: int = 0
    units_fulfilled: int = 0
    units_returned: int = 0
    returns: int = 0
    cross_channel_returns: int = 0

    @property
    def fill_rate(self) -> float | None:
        """``units_committed / units_ordered``: the share of ordered units not backordered."""
        return _ratio(self.units_committed, self.units_ordered)

    @property
    def split_shipment_rate(self) -> float | None:
        """``split_shipments / orders_shipped``: shipped orders that left from 2+ locations."""
        return _ratio(self.split_shipments, self.orders_shipped)

    @property
    def hold_conversion(self) -> float | None:
        """``holds_confirmed / holds_placed``: hold-to-order conversion."""
        return _ratio(self.holds_confirmed, self.holds_placed)

    @property
    def hold_expiry_rate(self) -> float | None:
        """``holds_expired / holds_placed``: holds that nobody confirmed in time."""
        return _ratio(self.holds_expired, self.holds_placed)

    @property
    def pickup_on_time_rate(self) -> float | None:
        """``pickups_on_time / pickups_ready``: READY pickups collected before the deadline."""
        return _ratio(self.pickups_on_time, self.pickups_ready)

    @property
    def no_show_rate(self) -> float | None:
        """``no_shows / pickups_ready``: READY pickups that expired uncollected."""
        return _ratio(self.no_shows, self.pickups_ready)

    @property
    def short_pick_rate(self) -> float | None:
        """``orders_short_picked / orders``: placed orders with a short pick (per order)."""
        return _ratio(self.orders_short_picked, self.orders)

    @property
    def return_rate(self) -> float | None:
        """``units_returned / units_fulfilled``: units that came back, of those that left."""
        return _ratio(self.units_returned, self.units_fulfilled)

    @property
    def cross_channel_return_share(self) -> float | None:
        """``cross_channel_returns / returns``: returns made in another channel than bought."""
        return _ratio(self.cross_channel_returns, self.returns)


_ROWS: Final[tuple[tuple[str, str], ...]] = (
    ("orders placed", "orders"),
    ("units ordered", "units_ordered"),
    ("units committed", "units_committed"),
    ("units backordered", "units_backordered"),
    ("fill rate", "fill_rate"),
    ("ship orders", "ship_orders"),
    ("ship units", "ship_units"),
    ("pickup orders", "pickup_orders"),
    ("pickup units", "pickup_units"),
    ("ship-to-store orders", "ship_to_store_orders"),
    ("ship-to-store units", "ship_to_store_units"),
    ("till sales", "till_sales"),
    ("till units", "till_units"),
    ("orders shipped", "orders_shipped"),
    ("split shipments", "split_shipments"),
    ("split-shipment rate", "split_shipment_rate"),
    ("holds placed", "holds_placed"),
    ("holds confirmed", "holds_confirmed"),
    ("holds expired", "holds_expired"),
    ("holds released", "holds_released"),
    ("hold-to-order conversion", "hold_conversion"),
    ("hold expiry rate", "hold_expiry_rate"),
    ("pickups ready", "pickups_ready"),
    ("pickups collected on time", "pickups_on_time"),
    ("pickup no-shows", "no_shows"),
    ("pickup on-time rate", "pickup_on_time_rate"),
    ("no-show rate", "no_show_rate"),
    ("orders short-picked", "orders_short_picked"),
    ("short-pick rate", "short_pick_rate"),
    ("units fulfilled", "units_fulfilled"),
    ("units returned", "units_returned"),
    ("return rate", "return_rate"),
    ("returns received", "returns"),
    ("cross-channel returns", "cross_channel_returns"),
    ("cross-channel return share", "cross_channel_return_share"),
)
"""The human table: one (label, ChannelKPIs attribute) per row, in reading order."""


def _cell(value: object) -> str:
    if value is None:
        return _NONE
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


@attrs.frozen
class Report:
    """The omnichannel KPIs of an event log.

    Attributes:
        overall: every channel together (counts summed, ratios from the sums).
        by_channel: one entry per :class:`~omniorder.Channel`, every channel present (zeros
            where nothing happened), in the enum's order.
    """

    overall: ChannelKPIs
    by_channel: Mapping[Channel, ChannelKPIs]

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """The report as a human table: one row per KPI, one column per channel, then "all".

        Returns:
            The header (``"KPI"``, each channel's value, ``"all"``) and the rows; counts are
            integers, ratios percentages with one decimal (``"87.5%"``), ``"—"`` for None.
        """
        columns = [*(self.by_channel[channel] for channel in Channel), self.overall]
        header = ["KPI", *(channel.value for channel in Channel), "all"]
        body = [[label, *(_cell(getattr(kpis, name)) for kpis in columns)] for label, name in _ROWS]
        return header, body

    def format(self) -> str:
        """The table of :meth:`rows` as aligned plain text (labels left, figures right)."""
        header, body = self.rows()
        table = [header, *body]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            first, *rest = cells
            parts = [first.ljust(widths[0])]
            parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * width for width in widths)
        return "\n".join([line(header), rule, *(line(row) for row in body)])


class _Tally:
    """The counts of one pass over the log, and what it remembers to pair events up."""

    def __init__(self) -> None:
        self.counts: dict[Channel, Counter[str]] = {channel: Counter() for channel in Channel}
        self.modes: dict[str, Mode] = {}  # reservation -> mode (held or placed)
        self.units: dict[str, int] = {}  # reservation -> units committed (placed or confirmed)
        self.holds: dict[str, Channel] = {}  # hold in the cohort -> its channel
        self.ready: dict[str, tuple[Channel, datetime]] = {}  # pickup -> channel, deadline
        self.orders: dict[str, Channel] = {}  # order in the cohort -> its channel
        self.shipped_from: dict[str, set[str]] = {}  # order -> locations that shipped
        self.short_picked: set[str] = set()

    def add(self, event: Event) -> None:
        """Count one event (those of no use to any KPI are skipped)."""
        match event:
            case OrderPlaced():
                self._order(event)
            case ReservationHeld():
                self.modes[event.reservation_id] = event.mode
                self.holds[event.reservation_id] = event.channel
                self.counts[event.channel]["holds_placed"] += 1
            case ReservationPlaced():
                self.modes[event.reservation_id] = event.mode
                self.units[event.reservation_id] = _units(event.lines)
            case ReservationConfirmed():
                self.units[event.reservation_id] = _units(event.lines)
                self._hold_ended(event.reservation_id, "holds_confirmed")
            case ReservationReleased() if event.previous is ReservationState.HELD:
                self._hold_ended(event.reservation_id, "holds_released")
            case ReservationExpired():
                self._expired(event)
            case ReservationReady() if event.reservation_id not in self.ready:
                self.ready[event.reservation_id] = (event.channel, event.pickup_deadline)
                self.counts[event.channel]["pickups_ready"] += 1
            case ReservationFulfilled():
                self._fulfilled(event)
            case LineResourced() if event.order_id in self.orders:
                self.short_picked.add(event.order_id)
            case StockSold():
                self.counts[event.channel]["till_sales"] += 1
                self.counts[event.channel]["till_units"] += _units(event.lines)
            case ReturnReceived() if event.order_id in self.orders:
                counts = self.counts[self.orders[event.order_id]]
                counts["returns"] += 1
                counts["units_returned"] += sum(units.quantity for units in event.units)
                counts["cross_channel_returns"] += int(event.channel != event.ordered_in)

    def _order(self, event: OrderPlaced) -> None:
        self.orders[event.order_id] = event.channel
        counts = self.counts[event.channel]
        committed, backordered = _units(event.lines), _units(event.backordered)
        counts["orders"] += 1
        counts["units_committed"] += committed
        counts["units_backordered"] += backordered
        counts["units_ordered"] += committed + backordered
        by_mode: Counter[Mode] = Counter()
        for reservation_id in event.reservation_ids:
            # A placed reservation is written with OrderPlaced; a confirmed hold's mode is known
            # only if its ReservationHeld is in the log (see the module's note on cohorts).
            if reservation_id in self.modes:
                by_mode[self.modes[reservation_id]] += self.units.get(reservation_id, 0)
        for mode, units in by_mode.items():
            counts[f"{_MODE_FIELD[mode]}_orders"] += 1
            counts[f"{_MODE_FIELD[mode]}_units"] += units

    def _hold_ended(self, reservation_id: str, outcome: str) -> None:
        channel = self.holds.pop(reservation_id, None)  # a hold ends once
        if channel is not None:
            self.counts[channel][outcome] += 1

    def _expired(self, event: ReservationExpired) -> None:
        if event.previous is ReservationState.HELD:
            self._hold_ended(event.reservation_id, "holds_expired")
        elif event.previous is ReservationState.READY and event.reservation_id in self.ready:
            channel, _ = self.ready.pop(event.reservation_id)
            self.counts[channel]["no_shows"] += 1

    def _fulfilled(self, event: ReservationFulfilled) -> None:
        units = _units(event.fulfilled)
        pickup = self.ready.pop(event.reservation_id, None)
        if pickup is not None and units and event.at < pickup[1]:
            self.counts[pickup[0]]["pickups_on_time"] += 1
        order_id = event.order_id
        if order_id is None or order_id not in self.orders or event.mode is Mode.TRANSFER:
            return
        self.counts[self.orders[order_id]]["units_fulfilled"] += units
        if event.mode is Mode.SHIP and units:
            self.shipped_from.setdefault(order_id, set()).add(event.location)

    def report(self) -> Report:
        """The KPIs of everything added so far (the tally itself is left as it is)."""
        by_channel = {channel: Counter(counts) for channel, counts in self.counts.items()}
        for order_id, locations in self.shipped_from.items():
            counts = by_channel[self.orders[order_id]]
            counts["orders_shipped"] += 1
            counts["split_shipments"] += int(len(locations) > 1)
        for order_id in self.short_picked:
            by_channel[self.orders[order_id]]["orders_short_picked"] += 1
        total: Counter[str] = Counter()
        for counts in by_channel.values():
            total.update(counts)
        return Report(
            overall=ChannelKPIs(**total),
            by_channel={channel: ChannelKPIs(**by_channel[channel]) for channel in Channel},
        )


def report(events: Iterable[Event]) -> Report:
    """The omnichannel KPIs of ``events`` (in ``seq`` order), per channel and overall.

    See the module's description for how figures are attributed to channels and which events
    a slice of the log counts.

    Args:
        events: any iterable of events, oldest first (``engine.events()``); event types no KPI
            uses, and events of subjects that began before the first one, are skipped.

    Returns:
        The :class:`Report`; an empty log gives zero counts and None ratios.
    """
    tally = _Tally()
    for event in events:
        tally.add(event)
    return tally.report()
