"""A reproducible day in the life of an omnichannel retailer, against a real engine.

``simulate(store, config)`` builds a network of stores and warehouses, then plays every day of
``config.days``: goods arrive at dawn; web, app and marketplace customers order parcels,
click-and-collect and ship-to-store; carts are held at checkout and placed or abandoned; chat
agents hold stock at a store for a customer who may come or not; walk-in customers buy at the
tills; stores and warehouses pick, ship and sometimes find a unit missing (a short pick); pickups
wait at the counter and are collected whole, in part, or never; customers return what they bought
in another channel, and the returns are inspected and refunded. Hourly sweeps put expired holds
and uncollected pickups back on sale.

The same seed gives the same commands in the same order (the engine's ids and clock are the
simulation's), so two runs on two stores can be compared event for event.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TypeVar

import attrs

from omniorder.engine import Engine
from omniorder.model import checks
from omniorder.model.clock import ManualClock
from omniorder.model.errors import OmniOrderError
from omniorder.model.network import Lane, Location, Network
from omniorder.model.order import Order, OrderLine, Pickup, Ship, ShipToStore
from omniorder.model.policy import Policy
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import Condition, Disposition
from omniorder.model.values import Capability, Channel, Geo, LocationKind, Mode
from omniorder.stores.base import Store

__all__ = ["DayAvailability", "SimulationConfig", "SimulationResult", "sim_network", "simulate"]

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
"""The simulation's first midnight (a Monday)."""

CITIES = [  # name, lat, lon
    ("london", 51.507, -0.128),
    ("manchester", 53.481, -2.243),
    ("birmingham", 52.486, -1.890),
    ("leeds", 53.800, -1.549),
    ("glasgow", 55.864, -4.252),
    ("bristol", 51.455, -2.588),
    ("liverpool", 53.408, -2.992),
    ("newcastle", 54.978, -1.618),
    ("sheffield", 53.381, -1.470),
    ("edinburgh", 55.953, -3.188),
    ("cardiff", 51.481, -3.179),
    ("nottingham", 52.954, -1.158),
    ("brighton", 50.823, -0.137),
    ("oxford", 51.752, -1.258),
    ("norwich", 52.630, 1.297),
    ("exeter", 50.718, -3.534),
]
HUBS = [("midlands", 52.60, -1.50), ("north", 53.70, -1.90), ("south", 51.30, -0.80)]
PRICE = Decimal("25.00")
_S = ReservationState
T = TypeVar("T")


def _check_count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    checks.positive(value, attribute.name)


@attrs.frozen
class SimulationConfig:
    """What to simulate.

    Attributes:
        days: how many days (at least 1).
        stores: stores with a till, a pickup counter and returns; half of them ship.
        warehouses: warehouses that ship and replenish the stores over lanes.
        skus: how many skus (popularity follows a Zipf law).
        seed: the same seed gives the same run.
        customers_per_store: remote customers a day per store (web, app, marketplace, chat).
    """

    days: int = attrs.field(default=7, validator=_check_count)
    stores: int = attrs.field(default=8, validator=_check_count)
    warehouses: int = attrs.field(default=2, validator=_check_count)
    skus: int = attrs.field(default=40, validator=_check_count)
    seed: int = 1
    customers_per_store: int = attrs.field(default=12, validator=_check_count)


@attrs.frozen
class DayAvailability:
    """Units each channel could sell, over every sku and location, at the end of a day.

    Attributes:
        day: the day's number, from 1.
        at: the moment it was read.
        by_channel: units per channel.
    """

    day: int
    at: datetime
    by_channel: dict[Channel, int]


@attrs.frozen
class SimulationResult:
    """What a run did.

    Attributes:
        config: what was simulated.
        commands: engine commands run (accepted or refused).
        refused: refused commands by error name (a till without stock, an order nobody could
            source: the customer's bad luck, not a failure).
        availability: one reading per day.
        last_event: the sequence number of the last event written.
    """

    config: SimulationConfig
    commands: int
    refused: dict[str, int]
    availability: tuple[DayAvailability, ...]
    last_event: int


def sim_network(config: SimulationConfig) -> Network:
    """The simulated network: stores in UK cities, warehouses with a lane to every store."""
    rng = random.Random(f"network/{config.seed}")
    locations = []
    stores = []
    for i in range(config.stores):
        name, lat, lon = CITIES[i % len(CITIES)]
        caps = {Capability.SELL, Capability.PICKUP, Capability.RETURNS}
        if i % 2:
            caps.add(Capability.SHIP)
        store_id = f"st-{name}-{i // len(CITIES) + 1}"
        stores.append(store_id)
        geo = Geo(lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05))
        locations.append(Location(store_id, LocationKind.STORE, geo, caps, priority=10 + i))
    lanes = []
    for i in range(config.warehouses):
        name, lat, lon = HUBS[i % len(HUBS)]
        dc = f"dc-{name}-{i // len(HUBS) + 1}"
        geo = Geo(lat + rng.uniform(-0.1, 0.1), lon + rng.uniform(-0.1, 0.1))
        locations.append(Location(dc, LocationKind.WAREHOUSE, geo, {Capability.SHIP}, priority=i))
        lanes += [Lane(dc, s, timedelta(days=1), Decimal("4.00")) for s in stores]
    return Network(locations, lanes)


class _Run:
    """One simulation in progress: the engine, the agenda of timed tasks, and what to follow."""

    def __init__(self, store: Store, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(f"simulation/{config.seed}")
        self.clock = ManualClock(START)
        counter = itertools.count(1)
        self.network = sim_network(config)
        self.engine = Engine(
            self.network,
            store=store,
            clock=self.clock,
            policy=Policy(backorders=True),
            ids=lambda prefix: f"{prefix}-{next(counter):06d}",
        )
        self.skus = [f"sku-{n:03d}" for n in range(config.skus)]
        self.popularity = [1 / (rank + 1) ** 1.1 for rank in range(config.skus)]
        self.stores = [loc for loc in self.network.locations if loc.kind is LocationKind.STORE]
        self.warehouses = [loc for loc in self.network.locations if loc not in self.stores]
        self.agenda: list[tuple[datetime, int, Callable[[], object]]] = []
        self.order_ids = itertools.count(1)
        self.tasks = itertools.count()
        self.commands = 0
        self.refused: dict[str, int] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def at(self, when: datetime, task: Callable[[], object]) -> None:
        heapq.heappush(self.agenda, (when, next(self.tasks), task))

    def run(self, command: Callable[[], T]) -> T | None:
        """Run one engine command; a refusal is counted, not raised."""
        self.commands += 1
        try:
            return command()
        except OmniOrderError as error:
            name = type(error).__name__
            self.refused[name] = self.refused.get(name, 0) + 1
            return None

    def sku(self) -> str:
        return self.rng.choices(self.skus, self.popularity)[0]

    def near(self, store: Location) -> Geo:
        return Geo(
            store.geo.lat + self.rng.uniform(-0.2, 0.2), store.geo.lon + self.rng.uniform(-0.2, 0.2)
        )

    # -- a day ---------------------------------------------------------------------------------

    def plan_day(self, midnight: datetime) -> None:
        self.at(midnight + timedelta(hours=6), self.deliveries)
        for hour in range(7, 23):
            self.at(midnight + timedelta(hours=hour), self.sweep)
        for hour in (10, 15):
            self.at(midnight + timedelta(hours=hour, minutes=30), self.pick_and_ship)
        self.at(midnight + timedelta(hours=18), self.inspect_quarantine)
        opening = midnight + timedelta(hours=8)
        for store in self.stores:
            for _ in range(self.config.customers_per_store):
                when = opening + timedelta(minutes=self.rng.randrange(13 * 60))
                self.at(when, partial(self.remote_customer, store))
            for _ in range(self.config.customers_per_store):
                when = opening + timedelta(minutes=self.rng.randrange(12 * 60))
                self.at(when, partial(self.walk_in, store))

    def deliveries(self) -> None:
        for dc in self.warehouses:
            for sku, weight in zip(self.skus, self.popularity, strict=True):
                units = max(1, round(25 * weight * self.rng.uniform(0.6, 1.4)))
                self.run(partial(self.engine.receive, dc.id, sku, units))
        for store in self.stores:  # the store's own weekly-ish top-up of what sells
            for sku in sorted({self.sku() for _ in range(4)}):
                self.run(partial(self.engine.receive, store.id, sku, 2))

    def open_shop(self) -> None:
        """Day one: shelves stocked by popularity, a safety stock on the best sellers."""
        for store in self.stores:
            for sku, weight in zip(self.skus, self.popularity, strict=True):
                units = round(8 * weight * self.rng.uniform(0.5, 1.5))
                if units:
                    self.run(partial(self.engine.receive, store.id, sku, units))
        for location in self.network.locations:
            for sku in self.skus[:5]:
                self.run(partial(self.engine.set_safety_stock, location.id, sku, 1))

    def sweep(self) -> None:
        self.run(self.engine.expire_due)

    def walk_in(self, store: Location) -> None:
        self.run(lambda: self.engine.sell(store.id, {self.sku(): 1}))

    # -- remote customers ----------------------------------------------------------------------

    def remote_customer(self, store: Location) -> None:
        roll = self.rng.random()
        channel = self.rng.choices(
            [Channel.WEB, Channel.APP, Channel.MARKETPLACE], [0.55, 0.35, 0.10]
        )[0]
        if roll < 0.15:
            self.chat_hold(store)
        elif roll < 0.35:
            self.checkout(store, channel, abandon=self.rng.random() < 0.3)
        else:
            self.checkout(store, channel, abandon=None)

    def _order(self, store: Location, channel: Channel) -> Order:
        home = self.near(store)
        skus = sorted({self.sku() for _ in range(1 + int(self.rng.expovariate(1.5)))})
        kind = self.rng.random()
        lines = []
        for n, sku in enumerate(skus, start=1):
            units = 1 if self.rng.random() < 0.8 else 2
            if kind < 0.25:
                fulfilment: Ship | Pickup | ShipToStore = Pickup(store.id)
            elif kind < 0.35:
                fulfilment = ShipToStore(store.id)
            else:
                fulfilment = Ship(home)
            lines.append(OrderLine(str(n), sku, units, PRICE, fulfilment))
        if isinstance(lines[0].fulfilment, Pickup):  # collect where every line is in stock
            options = self.engine.pickup_options(
                {x.sku: x.quantity for x in lines}, near=home, channel=channel, limit=1
            )
            if options:
                lines = [attrs.evolve(x, fulfilment=Pickup(options[0])) for x in lines]
            else:
                lines = [attrs.evolve(x, fulfilment=Ship(home)) for x in lines]
        return Order(f"order-{next(self.order_ids):06d}", channel, lines)

    def checkout(self, store: Location, channel: Channel, *, abandon: bool | None) -> None:
        order = self._order(store, channel)
        if abandon is not None:  # a cart held at checkout
            if self.run(lambda: self.engine.hold_order(order)) is None or abandon:
                return  # the hold expires by itself
            self.clock.advance(timedelta(minutes=self.rng.randrange(1, 10)))
        self.run(lambda: self.engine.place_order(order))

    def chat_hold(self, store: Location) -> None:
        hold = self.run(
            lambda: self.engine.reserve(store.id, {self.sku(): 1}, channel=Channel.CALL_CENTER)
        )
        if hold is None or self.rng.random() < 0.35:
            return  # she never comes: the hold expires after its TTL
        rid = hold.id
        later = self.clock.now() + timedelta(hours=self.rng.uniform(1, 40))
        self.at(later, partial(self.run, partial(self.engine.confirm, rid)))

    # -- operations ----------------------------------------------------------------------------

    def pick_and_ship(self) -> None:
        for r in self.engine_reservations(_S.CONFIRMED):
            if r.mode is Mode.PICKUP:
                if self.run(partial(self.engine.mark_ready, r.id)) is not None:
                    self.customer_comes(r.id, dict(r.quantities))
            elif self.rng.random() < 0.03:  # the unit is not on the shelf: a short pick
                sku = min(sku for sku, units in r.open_quantities.items() if units)
                self.run(partial(self.engine.reject, r.id, {sku: 1}, reason="missing"))
            else:
                shipped = self.run(partial(self.engine.ship, r.id))
                if shipped is not None and r.mode is Mode.TRANSFER:
                    arrival = self.clock.now() + timedelta(days=1)
                    self.at(arrival, partial(self.arrived, r.id))
                elif shipped is not None:
                    self.maybe_return(r.order_id)

    def engine_reservations(self, state: ReservationState) -> list[Reservation]:
        with self.engine.store.unit_of_work(read_only=True) as uow:
            return list(uow.reservations(states=[state]))

    def arrived(self, transfer_id: str) -> None:
        ready = self.run(lambda: self.engine.arrive(transfer_id))
        if ready is not None:
            self.customer_comes(ready.id, dict(ready.quantities))

    def customer_comes(self, rid: str, quantities: dict[str, int]) -> None:
        if self.rng.random() < 0.1:
            return  # a no-show: expire_due puts the units back after the pickup window
        partial = self.rng.random() < 0.1 and sum(quantities.values()) > 1
        taken = {sku: max(1, q - 1) for sku, q in quantities.items()} if partial else None
        when = self.clock.now() + timedelta(hours=self.rng.uniform(2, 60))

        def collect() -> None:
            r = self.run(lambda: self.engine.collect(rid, taken))
            if r is not None:
                self.maybe_return(r.order_id)

        self.at(when, collect)

    # -- returns -------------------------------------------------------------------------------

    def maybe_return(self, order_id: str | None) -> None:
        if order_id is None or self.rng.random() >= 0.12:
            return
        view = self.engine.order(order_id)
        lines = {x.line_id: x.fulfilled for x in view.lines if x.fulfilled}
        if not lines:
            return
        at = self.rng.choice(self.stores).id
        channel = Channel.STORE if self.rng.random() < 0.7 else Channel.WEB
        when = self.clock.now() + timedelta(days=self.rng.uniform(0.5, 5))

        def bring_back() -> None:
            rma = self.run(
                lambda: self.engine.request_return(order_id, lines, at=at, channel=channel)
            )
            if rma is None:
                return
            rma_id = rma.id
            condition = self.rng.choices(list(Condition), [0.85, 0.1, 0.05])[0]
            found = dict.fromkeys(lines, condition)
            self.at(
                self.clock.now() + timedelta(days=1),
                lambda: self.received(rma_id, found),
            )

        self.at(when, bring_back)

    def received(self, rma_id: str, found: dict[str, Condition]) -> None:
        if self.run(lambda: self.engine.receive_return(rma_id, found)) is not None:
            self.run(lambda: self.engine.refund_return(rma_id))

    def inspect_quarantine(self) -> None:
        for store in self.stores:
            for sku in self.skus:
                held = self.engine.position(store.id, sku).quarantine
                if held:
                    outcome = (
                        Disposition.RESTOCK if self.rng.random() < 0.6 else Disposition.WRITE_OFF
                    )
                    resolve = partial(
                        self.engine.resolve_quarantine,
                        store.id,
                        sku,
                        held,
                        disposition=outcome,
                        reason="inspected",
                    )
                    self.run(resolve)

    # -- the loop ------------------------------------------------------------------------------

    def availability(self, day: int) -> DayAvailability:
        totals = {
            channel: sum(self.engine.availability(sku, channel=channel) for sku in self.skus)
            for channel in Channel
        }
        return DayAvailability(day, self.clock.now(), totals)


def simulate(
    store: Store,
    config: SimulationConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Play ``config.days`` days against an engine over ``store`` (which should be empty).

    Args:
        store: where the engine keeps everything (memory, SQLite or PostgreSQL).
        config: what to simulate (default: :class:`SimulationConfig`).
        progress: called with (days done, days) after each day.

    Returns:
        What ran; ``Engine(sim_network(config), store=store).events()`` has the whole story
        (:func:`omniorder.metrics.report` turns it into KPIs).
    """
    config = SimulationConfig() if config is None else config
    sim = _Run(store, config)
    readings = []
    sim.open_shop()
    for day in range(1, config.days + 1):
        midnight = START + timedelta(days=day - 1)
        sim.plan_day(midnight)
        end = midnight + timedelta(days=1)
        while sim.agenda and sim.agenda[0][0] < end:
            when, _, task = heapq.heappop(sim.agenda)
            if when > sim.clock.now():
                sim.clock.set(when)
            task()
        if sim.clock.now() < end - timedelta(seconds=1):
            sim.clock.set(end - timedelta(seconds=1))
        readings.append(sim.availability(day))
        if progress is not None:
            progress(day, config.days)
    events = sim.engine.events(after=0)
    return SimulationResult(
        config,
        sim.commands,
        dict(sorted(sim.refused.items())),
        tuple(readings),
        events[-1].seq if events else 0,
    )
