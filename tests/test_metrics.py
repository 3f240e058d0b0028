"""The omnichannel KPIs of DESIGN §8, read from the event log of a real engine.

One day of trading (``_a_day``) drives every journey a KPI counts; each test works its figures
out by hand from that story and asserts them exactly.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniorder import (
    Channel,
    Engine,
    Geo,
    ManualClock,
    Mode,
    OmniOrderError,
    Order,
    OrderLine,
    Pickup,
    Policy,
    Ship,
    ShipToStore,
)
from omniorder.metrics import ChannelKPIs, Report, report
from omniorder.model.events import (
    Event,
    OrderPlaced,
    ReservationEvent,
    ReservationFulfilled,
    ReservationHeld,
    StockReceived,
)
from omniorder.model.reservation import ReservationState
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network

S = ReservationState
PRICE = Decimal("25.00")
HOME = Geo(51.50, -0.12)
RATIOS = (
    "fill_rate",
    "split_shipment_rate",
    "hold_conversion",
    "hold_expiry_rate",
    "pickup_on_time_rate",
    "no_show_rate",
    "short_pick_rate",
    "return_rate",
    "cross_channel_return_share",
)
WEB, APP, STORE, CHAT, MARKETPLACE = (
    Channel.WEB,
    Channel.APP,
    Channel.STORE,
    Channel.CALL_CENTER,
    Channel.MARKETPLACE,
)


def _order(
    order_id: str,
    channel: Channel,
    sku: str,
    units: int,
    fulfilment: Ship | Pickup | ShipToStore,
) -> Order:
    return Order(order_id, channel, [OrderLine("1", sku, units, PRICE, fulfilment)])


def _a_day() -> list[Event]:
    """Web, app, chat and till business at Camden (STORE_1), Leeds (STORE_2) and the warehouse.

    web  w-1  3 lamps shipped: 2 from the warehouse + 1 from Leeds (split); 1 returned in store
    web  w-2  1 vase shipped: Leeds short-picks it, it is re-sourced to and shipped from the
              warehouse (one location shipped: not split)
    web  w-3  1 mug picked up at Camden, collected on time
    web  w-4  1 mug held at checkout (hold_order), then placed: the hold is confirmed
    app  a-1  4 chairs shipped, only 3 in stock: 1 backordered; 1 returned through the app
    app  a-2  1 mug picked up at Camden: a no-show
    app  a-3  1 sofa shipped to Camden from the warehouse, arrives, collected on time
    chat      2 holds of a green sofa at Leeds: one confirmed, one expires
    till      2 candles sold at Camden
    """
    clock = ManualClock(START)
    engine = Engine(sample_network(), clock=clock, policy=Policy(backorders=True))
    for location, sku, units in [
        (WAREHOUSE, "lamp", 2),
        (STORE_2, "lamp", 1),
        (WAREHOUSE, "chair", 3),
        (STORE_2, "vase", 1),
        (STORE_1, "mug", 3),
        (WAREHOUSE, "sofa", 1),
        (STORE_2, "green-sofa", 2),
        (STORE_1, "candle", 5),
    ]:
        engine.receive(location, sku, units)

    for rid in engine.place_order(_order("w-1", WEB, "lamp", 3, Ship(HOME))).reservation_ids:
        engine.ship(rid)
    for rid in engine.place_order(_order("a-1", APP, "chair", 4, Ship(HOME))).reservation_ids:
        engine.ship(rid)

    (leeds,) = engine.place_order(_order("w-2", WEB, "vase", 1, Ship(HOME))).reservation_ids
    engine.receive(WAREHOUSE, "vase", 1)
    engine.reject(leeds, {"vase": 1}, reason="not on the shelf")
    (resourced,) = [
        r.reservation_id
        for r in engine.order("w-2").line("1").reservations
        if r.location == WAREHOUSE
    ]
    engine.ship(resourced)

    (collected,) = engine.place_order(_order("w-3", WEB, "mug", 1, Pickup(STORE_1))).reservation_ids
    engine.mark_ready(collected, pickup_window=timedelta(days=2))
    engine.collect(collected, at=STORE_1)
    (no_show,) = engine.place_order(_order("a-2", APP, "mug", 1, Pickup(STORE_1))).reservation_ids
    engine.mark_ready(no_show, pickup_window=timedelta(days=1))
    checkout = _order("w-4", WEB, "mug", 1, Pickup(STORE_1))
    engine.hold_order(checkout)
    engine.place_order(checkout)

    sofa = _order("a-3", APP, "sofa", 1, ShipToStore(STORE_1))
    (transfer,) = engine.place_order(sofa).reservation_ids
    engine.ship(transfer)
    engine.collect(engine.arrive(transfer).id, at=STORE_1)

    kept = engine.reserve(STORE_2, {"green-sofa": 1}, channel=CHAT, ttl=timedelta(hours=2))
    engine.confirm(kept.id)
    engine.reserve(STORE_2, {"green-sofa": 1}, channel=CHAT, ttl=timedelta(hours=1))
    engine.sell(STORE_1, {"candle": 2})

    clock.advance(timedelta(days=1))
    expired = engine.expire_due()  # the second chat hold and the a-2 no-show
    assert len(expired) == 2

    bought_online = engine.request_return("w-1", {"1": 1}, at=STORE_1, channel=STORE)
    engine.receive_return(bought_online.id)
    same_channel = engine.request_return("a-1", {"1": 1}, at=STORE_2, channel=APP)
    engine.receive_return(same_channel.id)
    assert engine.verify() == []
    return engine.events()


@pytest.fixture(scope="module")
def day() -> Report:
    return report(_a_day())


def test_orders_and_units_are_counted_by_channel_and_fulfilment_mode(day: Report) -> None:
    web, app = day.by_channel[WEB], day.by_channel[APP]
    # web: w-1 ships 3, w-2 ships 1; w-3 and w-4 pick up 1 each
    assert (web.orders, web.ship_orders, web.ship_units) == (4, 2, 4)
    assert (web.pickup_orders, web.pickup_units, web.ship_to_store_orders) == (2, 2, 0)
    # app: a-1 ships the 3 chairs it could commit; a-2 picks up 1; a-3 is shipped to store
    assert (app.orders, app.ship_orders, app.ship_units) == (3, 1, 3)
    assert (app.pickup_orders, app.pickup_units) == (1, 1)
    assert (app.ship_to_store_orders, app.ship_to_store_units) == (1, 1)
    # the till sold 2 candles once, in the store channel; nobody else used a till
    till = day.by_channel[STORE]
    assert (till.till_sales, till.till_units, till.orders) == (1, 2, 0)
    # overall: 4 + 3 orders; ship 4 + 3 units; pickup 2 + 1; ship-to-store 1; till 2
    overall = day.overall
    assert (overall.orders, overall.ship_units, overall.pickup_units) == (7, 7, 3)
    assert (overall.ship_to_store_units, overall.till_sales, overall.till_units) == (1, 1, 2)


def test_fill_rate_counts_backordered_units_as_unfilled(day: Report) -> None:
    web, app = day.by_channel[WEB], day.by_channel[APP]
    # web: 3 + 1 + 1 + 1 = 6 units ordered, all committed
    assert (web.units_ordered, web.units_committed, web.units_backordered) == (6, 6, 0)
    assert web.fill_rate == 1.0
    # app: 4 chairs (3 committed, 1 backordered) + 1 mug + 1 sofa = 6 ordered, 5 committed
    assert (app.units_ordered, app.units_committed, app.units_backordered) == (6, 5, 1)
    assert app.fill_rate == 5 / 6
    # overall: 11 of 12
    assert day.overall.fill_rate == 11 / 12


def test_an_order_shipped_from_two_locations_is_a_split_shipment(day: Report) -> None:
    web = day.by_channel[WEB]
    # web: w-1 left from the warehouse and Leeds (split); w-2 only from the warehouse, because
    # Leeds never shipped the vase it short-picked
    assert (web.orders_shipped, web.split_shipments, web.split_shipment_rate) == (2, 1, 0.5)
    # app: a-1 shipped from the warehouse only; a-3 was a transfer, not a parcel
    assert day.by_channel[APP].split_shipment_rate == 0.0
    # overall: 1 split of 3 shipped orders
    assert day.overall.split_shipment_rate == 1 / 3


def test_hold_conversion_and_expiry_are_measured_per_channel(day: Report) -> None:
    chat, web = day.by_channel[CHAT], day.by_channel[WEB]
    # chat: 2 holds, 1 confirmed, 1 expired
    assert (chat.holds_placed, chat.holds_confirmed, chat.holds_expired) == (2, 1, 1)
    assert (chat.hold_conversion, chat.hold_expiry_rate) == (0.5, 0.5)
    # web: w-4's checkout hold became the order
    assert (web.holds_placed, web.hold_conversion, web.hold_expiry_rate) == (1, 1.0, 0.0)
    # app never held anything
    assert (day.by_channel[APP].hold_conversion, day.by_channel[APP].hold_expiry_rate) == (
        None,
        None,
    )
    # overall: 2 of 3 confirmed, 1 of 3 expired, none released
    overall = day.overall
    assert (overall.hold_conversion, overall.hold_expiry_rate) == (2 / 3, 1 / 3)
    assert overall.holds_released == 0


def test_pickups_are_collected_on_time_or_are_no_shows(day: Report) -> None:
    web, app = day.by_channel[WEB], day.by_channel[APP]
    # web: w-3 was ready and collected
    assert (web.pickups_ready, web.pickups_on_time, web.no_shows) == (1, 1, 0)
    assert (web.pickup_on_time_rate, web.no_show_rate) == (1.0, 0.0)
    # app: a-2 never came; a-3's sofa waited at Camden after its transfer and was collected
    assert (app.pickups_ready, app.pickups_on_time, app.no_shows) == (2, 1, 1)
    assert (app.pickup_on_time_rate, app.no_show_rate) == (0.5, 0.5)
    # overall: 2 of 3 on time, 1 of 3 no-show
    assert (day.overall.pickup_on_time_rate, day.overall.no_show_rate) == (2 / 3, 1 / 3)


def test_the_short_pick_rate_is_per_placed_order(day: Report) -> None:
    # web: w-2 of 4 orders; app: none of 3; overall 1 of 7
    assert day.by_channel[WEB].orders_short_picked == 1
    assert day.by_channel[WEB].short_pick_rate == 1 / 4
    assert day.by_channel[APP].short_pick_rate == 0.0
    assert day.overall.short_pick_rate == 1 / 7


def test_returns_count_for_the_channel_the_order_was_placed_in(day: Report) -> None:
    web, app = day.by_channel[WEB], day.by_channel[APP]
    # web: 3 lamps + 1 vase + 1 mug left (w-4 is not collected yet); 1 lamp came back in store
    assert (web.units_fulfilled, web.units_returned, web.return_rate) == (5, 1, 1 / 5)
    assert (web.returns, web.cross_channel_returns, web.cross_channel_return_share) == (1, 1, 1.0)
    # app: 3 chairs + 1 sofa left; 1 chair came back through the app itself
    assert (app.units_fulfilled, app.units_returned, app.return_rate) == (4, 1, 1 / 4)
    assert (app.returns, app.cross_channel_returns, app.cross_channel_return_share) == (1, 0, 0.0)
    # the store took the web return, but it counts for web, where the lamp was bought
    assert day.by_channel[STORE].returns == 0
    # overall: 2 of 9 units; 1 of 2 returns cross-channel
    assert (day.overall.return_rate, day.overall.cross_channel_return_share) == (2 / 9, 0.5)


def test_every_channel_is_reported_in_enum_order_and_the_overall_sums_them(day: Report) -> None:
    assert list(day.by_channel) == list(Channel)
    assert day.by_channel[MARKETPLACE] == ChannelKPIs()
    for field in attrs.fields(ChannelKPIs):
        parts = sum(getattr(kpis, field.name) for kpis in day.by_channel.values())
        assert getattr(day.overall, field.name) == parts, field.name


def test_an_empty_log_gives_zero_counts_and_no_ratios() -> None:
    empty = report([])
    assert empty.overall == ChannelKPIs()
    assert all(kpis == ChannelKPIs() for kpis in empty.by_channel.values())
    assert all(getattr(empty.overall, name) is None for name in RATIOS)
    assert set(attrs.astuple(empty.overall)) == {0}


def test_events_no_kpi_uses_are_ignored() -> None:
    @attrs.frozen(kw_only=True)
    class Unheard(Event):
        """An event type from a newer version."""

        what: str

    events = _a_day()
    noise: list[Event] = [
        Unheard(at=START, what="?"),
        StockReceived(at=START, location=STORE_1, sku="lamp", quantity=1),
    ]
    assert report([*noise, *events, *noise]) == report(events)


def test_report_reads_any_iterable_once_and_gives_the_same_answer_every_time() -> None:
    events = _a_day()
    assert report(e for e in events) == report(events) == report(tuple(events))


def test_a_slice_of_the_log_counts_only_what_began_in_it() -> None:
    events = _a_day()
    (first_chat_hold, _) = [
        i for i, e in enumerate(events) if isinstance(e, ReservationHeld) and e.channel is CHAT
    ]
    tail = report(events[first_chat_hold:])
    # in the slice: the 2 chat holds (1 confirmed, 1 expired) and the till sale; the a-2
    # no-show and the two returns belong to a pickup and orders that began before it
    assert tail.by_channel[CHAT] == ChannelKPIs(holds_placed=2, holds_confirmed=1, holds_expired=1)
    assert tail.by_channel[STORE] == ChannelKPIs(till_sales=1, till_units=2)
    assert tail.by_channel[WEB] == tail.by_channel[APP] == ChannelKPIs()


def test_the_table_has_a_row_per_kpi_and_a_column_per_channel_and_all(day: Report) -> None:
    header, rows = day.rows()
    assert header == ["KPI", "web", "app", "store", "call_center", "marketplace", "all"]
    by_label = {row[0]: row[1:] for row in rows}
    # 6/6, 5/6, none, none, none, 11/12
    assert by_label["fill rate"] == ["100.0%", "83.3%", "—", "—", "—", "91.7%"]
    assert by_label["till units"] == ["0", "0", "2", "0", "0", "2"]
    assert by_label["hold-to-order conversion"] == ["100.0%", "—", "—", "50.0%", "—", "66.7%"]
    assert all(len(row) == len(header) for row in rows)


def test_the_formatted_table_names_every_channel_and_kpi(day: Report) -> None:
    text = day.format()
    _, rows = day.rows()
    for channel in Channel:
        assert channel.value in text.splitlines()[0]
    for row in rows:
        assert row[0] in text
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert len({len(line) for line in lines[:2]}) == 1  # the rule is as wide as the header


# -- any log the engine can write -------------------------------------------------------------

SKUS = ("lamp", "mug")
LOCATIONS = (STORE_1, STORE_2, WAREHOUSE)
FULFILMENTS = (Ship(HOME), Pickup(STORE_1), Pickup(STORE_2), ShipToStore(STORE_1))
COMMANDS = (  # the fruitful ones first: Hypothesis leans towards the start of the list
    "order",
    "ship",
    "ready",
    "collect",
    "give_back",
    "later",
    "checkout",
    "place_held",
    "hold",
    "confirm",
    "arrive",
    "reject",
    "release",
    "sell",
    "receive",
)


class _Shop:
    """Engine commands driven by drawn numbers; refused commands are part of the game."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.engine = Engine(sample_network(), clock=self.clock, policy=Policy(backorders=True))
        self.held: list[Order] = []
        self.made = 0
        for location in LOCATIONS:
            for sku in SKUS:
                self.engine.receive(location, sku, 4)

    def play(self, command: str, n: int, units: int, channel: Channel) -> None:
        with contextlib.suppress(OmniOrderError):
            getattr(self, command)(n, units, channel)

    def _rid(self, n: int, state: ReservationState, *modes: Mode) -> str:
        """The ``n``-th reservation (modulo) now in ``state`` (and one of ``modes``, if given),
        so that most commands can succeed."""
        log = self.engine.events()
        ids = dict.fromkeys(e.reservation_id for e in log if isinstance(e, ReservationEvent))
        found = [self.engine.reservation(rid) for rid in ids]
        rids = [r.id for r in found if r.state is state and (not modes or r.mode in modes)]
        return rids[n % len(rids)] if rids else "none"

    def _new_order(self, n: int, units: int, channel: Channel) -> Order:
        self.made += 1
        fulfilment = FULFILMENTS[n % len(FULFILMENTS)]
        # Up to 6 units: more than one location has at the start, so some orders split.
        return _order(f"o-{self.made}", channel, SKUS[n % len(SKUS)], 2 * units, fulfilment)

    def receive(self, n: int, units: int, _: Channel) -> None:
        self.engine.receive(LOCATIONS[n % len(LOCATIONS)], SKUS[n % len(SKUS)], units)

    def order(self, n: int, units: int, channel: Channel) -> None:
        self.engine.place_order(self._new_order(n, units, channel))

    def checkout(self, n: int, units: int, channel: Channel) -> None:
        order = self._new_order(n, units, channel)
        self.engine.hold_order(order, ttl=timedelta(hours=units))
        self.held.append(order)

    def place_held(self, n: int, _: int, __: Channel) -> None:
        if self.held:
            self.engine.place_order(self.held[n % len(self.held)])

    def hold(self, n: int, units: int, channel: Channel) -> None:
        sku = SKUS[n % len(SKUS)]
        self.engine.reserve(STORE_2, {sku: units}, channel=channel, ttl=timedelta(hours=1))

    def confirm(self, n: int, _: int, __: Channel) -> None:
        self.engine.confirm(self._rid(n, S.HELD))

    def ready(self, n: int, units: int, _: Channel) -> None:
        self.engine.mark_ready(
            self._rid(n, S.CONFIRMED, Mode.PICKUP), pickup_window=timedelta(hours=units)
        )

    def collect(self, n: int, _: int, __: Channel) -> None:
        self.engine.collect(self._rid(n, S.READY))

    def ship(self, n: int, _: int, __: Channel) -> None:
        self.engine.ship(self._rid(n, S.CONFIRMED, Mode.SHIP, Mode.TRANSFER))

    def arrive(self, n: int, _: int, __: Channel) -> None:
        self.engine.arrive(self._rid(n, S.IN_TRANSIT))

    def reject(self, n: int, _: int, __: Channel) -> None:
        rid = self._rid(n, S.CONFIRMED)
        self.engine.reject(rid, {self.engine.reservation(rid).lines[0].sku: 1}, reason="short")

    def release(self, n: int, _: int, __: Channel) -> None:
        self.engine.release(self._rid(n, S.CONFIRMED))

    def sell(self, n: int, units: int, channel: Channel) -> None:
        location = LOCATIONS[n % len(LOCATIONS)]
        self.engine.sell(location, {SKUS[n % len(SKUS)]: units}, channel=channel)

    def later(self, _: int, units: int, __: Channel) -> None:
        self.clock.advance(timedelta(hours=units))
        self.engine.expire_due()

    def give_back(self, n: int, _: int, channel: Channel) -> None:
        log = self.engine.events()
        placed = {e.order_id for e in log if isinstance(e, OrderPlaced)}
        orders = [
            e.order_id
            for e in log
            if isinstance(e, ReservationFulfilled) and e.order_id in placed and e.fulfilled
        ]
        if orders:
            order_id = orders[n % len(orders)]
            rma = self.engine.request_return(order_id, {"1": 1}, at=STORE_1, channel=channel)
            self.engine.receive_return(rma.id)


@settings(max_examples=30, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(COMMANDS),
            st.integers(0, 11),
            st.integers(1, 3),
            st.sampled_from(list(Channel)),
        ),
        min_size=10,
        max_size=40,
    ),
    cut=st.integers(0, 200),
)
def test_for_any_log_and_slice_every_ratio_is_none_or_within_0_and_1_and_modes_add_up(
    steps: list[tuple[str, int, int, Channel]], cut: int
) -> None:
    shop = _Shop()
    for step in steps:
        shop.play(*step)
    events = shop.engine.events()
    whole = report(events)
    for seen in (whole, report(events[min(cut, len(events)) :])):
        for kpis in [seen.overall, *seen.by_channel.values()]:
            for name in RATIOS:
                ratio = getattr(kpis, name)
                assert ratio is None or 0.0 <= ratio <= 1.0, (name, ratio)
    for kpis in [whole.overall, *whole.by_channel.values()]:
        by_mode = kpis.ship_units + kpis.pickup_units + kpis.ship_to_store_units
        assert by_mode == kpis.units_committed
