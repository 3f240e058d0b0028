"""Realistic sample values for the JSON reference, taken from a real engine run.

One deterministic story (a manual clock, readable ids) runs every command once: deliveries, a
till sale, a chat hold that is extended, confirmed and collected, a cart released and another
that expires, an order with a shipped line, a pickup and a ship-to-store transfer, a short pick
that is re-sourced, a backorder, and returns with manual review, quarantine, a transfer to the
returns hub and a refund. The first event of each class and the values met on the way are the
samples: nothing here is typed by hand, so the JSON in the docs is always what the code writes.

The build fails (a warning under ``--strict``) when an event class is not met by the story, or a
sample does not come back equal from JSON.
"""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from mkdocs.plugins import get_plugin_logger

from omniorder import (
    Capability,
    Channel,
    Condition,
    Disposition,
    Engine,
    Event,
    Geo,
    Inspection,
    Lane,
    Location,
    LocationKind,
    ManualClock,
    Network,
    Order,
    OrderLine,
    OrderView,
    Pickup,
    Policy,
    Reservation,
    ReturnAuthorization,
    ReturnPolicy,
    Sale,
    Ship,
    ShipToStore,
)
from omniorder.allocation import AllocationPlan, Assignment, Unallocated
from omniorder.model.events import EVENT_TYPES
from omniorder.model.order import LineReservation, LineView
from omniorder.model.reservation import ReservationLine
from omniorder.model.returns import ReceivedUnits, ReturnLine
from omniorder.serialization import structure, unstructure

log = get_plugin_logger("omniorder")

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SOFA, LAMP, RUG = "green-velvet-sofa", "brass-floor-lamp", "wool-rug"


@attrs.frozen
class Sample:
    """One documented value.

    Attributes:
        title: the heading it is shown under.
        value: the value itself.
        as_type: the type to convert it as (None: its own class).
        note: a sentence about this particular sample, if any.
        parts: the classes of values nested in it whose fields are documented too.
    """

    title: str
    value: Any
    as_type: Any = None
    note: str = ""
    parts: tuple[type, ...] = ()


@attrs.frozen
class Story:
    """What the story produced."""

    events: tuple[Event, ...]
    values: tuple[Sample, ...]


def network() -> Network:
    """Two stores and a warehouse, with a transfer lane and a lane to the returns hub."""
    return Network(
        [
            Location(
                "camden",
                LocationKind.STORE,
                Geo(51.539, -0.143),
                {Capability.SELL, Capability.PICKUP, Capability.RETURNS},
                name="Camden store",
            ),
            Location(
                "leeds",
                LocationKind.STORE,
                Geo(53.800, -1.549),
                {Capability.SELL, Capability.PICKUP, Capability.RETURNS, Capability.SHIP},
                name="Leeds store",
            ),
            Location(
                "midlands",
                LocationKind.WAREHOUSE,
                Geo(52.486, -1.890),
                {Capability.SHIP},
                name="Midlands warehouse",
            ),
        ],
        [
            Lane("midlands", "camden", timedelta(days=1), Decimal("6.00")),
            Lane("leeds", "midlands", timedelta(days=1), Decimal("5.00")),
        ],
    )


def _stock_and_holds(engine: Engine, clock: ManualClock) -> tuple[Sale, Reservation]:
    """Deliveries, a count, a till sale; a chat hold collected, a cart released, one expired."""
    engine.receive("camden", SOFA, 2, key="delivery-4711")
    engine.receive("midlands", LAMP, 20)
    engine.receive("leeds", LAMP, 4)
    engine.receive("leeds", RUG, 3)
    engine.set_safety_stock("midlands", LAMP, 2)
    engine.adjust("leeds", RUG, delta=-1, reason="damaged in the stockroom")
    sale = engine.sell("leeds", {RUG: 1})
    hold = engine.reserve("camden", {SOFA: 1}, channel=Channel.CALL_CENTER, key="chat-8812")
    engine.extend(hold.id, timedelta(hours=72))
    engine.confirm(hold.id)
    engine.mark_ready(hold.id)
    clock.advance(timedelta(hours=5))
    engine.collect(hold.id, at="camden")
    cart = engine.reserve("camden", {SOFA: 1}, channel=Channel.WEB)
    engine.release(cart.id, reason="removed from the cart")
    engine.reserve("camden", {SOFA: 1}, channel=Channel.WEB)
    clock.advance(timedelta(minutes=20))
    engine.expire_due()
    return sale, engine.reservation(hold.id)


def _orders(engine: Engine, clock: ManualClock) -> tuple[Order, AllocationPlan, OrderView]:
    """An order held then placed (ship, pickup, ship-to-store), a backorder, a short pick."""
    order = Order(
        "o-1001",
        Channel.WEB,
        [
            OrderLine("1", LAMP, 2, Decimal("39.00"), Ship(Geo(51.455, -2.588))),
            OrderLine("2", SOFA, 1, Decimal("899.00"), Pickup("camden")),
            OrderLine("3", LAMP, 1, Decimal("39.00"), ShipToStore("camden")),
        ],
        customer="c-311",
    )
    plan = engine.quote(order)
    engine.hold_order(order, key="checkout-1001")
    engine.place_order(order, key="place-1001")
    engine.place_order(
        Order(
            "o-1002",
            Channel.APP,
            [OrderLine("1", RUG, 3, Decimal("120.00"), Ship(Geo(53.481, -2.242)))],
        )
    )
    placed = engine.order("o-1001")
    shipped_from = placed.lines[0].reservations[0].reservation_id
    pickup = placed.lines[1].reservations[0].reservation_id
    transfer = placed.lines[2].reservations[0].reservation_id
    engine.reject(shipped_from, {LAMP: 1}, reason="only one on the shelf")
    for reservation_id in engine.order("o-1001").reservation_ids:
        if reservation_id != pickup:
            engine.ship(reservation_id)
    clock.advance(timedelta(days=1))
    arrived = engine.arrive(transfer)
    engine.mark_ready(pickup)
    engine.collect(pickup)
    engine.collect(arrived.id)
    return order, plan, engine.order("o-1001")


def _returns(engine: Engine, clock: ManualClock) -> ReturnAuthorization:
    """A reviewed return in two conditions, refunded; a hub transfer; a refused return."""
    clock.advance(timedelta(days=2))
    rma = engine.request_return(
        "o-1001", {"1": 2}, at="leeds", channel=Channel.STORE, reason="the wrong shade"
    )
    engine.authorize_return(rma.id)
    engine.receive_return(
        rma.id, {"1": [Inspection(Condition.DAMAGED, 1), Inspection(Condition.DEFECTIVE, 1)]}
    )
    engine.refund_return(rma.id)
    engine.arrive_return(rma.id)
    engine.resolve_quarantine(
        "leeds", LAMP, 1, disposition=Disposition.RESTOCK, reason="only the box was damaged"
    )
    refused = engine.request_return("o-1001", {"2": 1}, at="camden", channel=Channel.STORE)
    engine.reject_return(refused.id, "used: the cushions are stained")
    return engine.return_authorization(rma.id)


@functools.cache
def story() -> Story:
    """Run the story once per build."""
    policy = Policy(
        backorders=True,
        returns=ReturnPolicy(
            manual_review=True,
            hub="midlands",
            dispositions={Condition.DEFECTIVE: Disposition.TRANSFER},
            restocking_fee={Condition.DAMAGED: Decimal("0.15")},
        ),
    )
    clock = ManualClock(START)
    counter = itertools.count(1)
    shop = network()
    engine = Engine(shop, clock=clock, policy=policy, ids=lambda p: f"{p}-{next(counter)}")
    sale, reservation = _stock_and_holds(engine, clock)
    order, plan, view = _orders(engine, clock)
    position = engine.position("camden", SOFA)
    rma = _returns(engine, clock)
    with engine.store.unit_of_work(read_only=True) as uow:
        movement = uow.movements()[0]
    if problems := engine.verify():
        log.warning("the JSON samples' story left discrepancies: %s", problems)
    samples = (
        Sample("Position", position),
        Sample("Movement", movement),
        Sample("Reservation", reservation, parts=(ReservationLine,)),
        Sample("Sale", sale),
        Sample(
            "Order and OrderLine",
            order,
            note=(
                "Each line's `fulfilment` is a tagged union under `kind`: `ship` (to a `Geo`), "
                "`pickup` (at a store) or `ship_to_store` (collected at a store, transferred "
                "there over a lane)."
            ),
            parts=(OrderLine, Ship, Pickup, ShipToStore),
        ),
        Sample("OrderView", view, parts=(LineView, LineReservation)),
        Sample("ReturnAuthorization", rma, parts=(ReturnLine, ReceivedUnits)),
        Sample(
            "AllocationPlan",
            plan,
            note="`stats` is the solver's own (timings vary from run to run).",
            parts=(Assignment, Unallocated),
        ),
        Sample("Policy", policy, parts=(ReturnPolicy,)),
        Sample("Network", shop, parts=(Location, Lane)),
    )
    return Story(tuple(engine.events()), samples)


def _round_trips(sample: Sample) -> bool:
    cls = sample.as_type or type(sample.value)
    return bool(structure(unstructure(sample.value, sample.as_type), cls) == sample.value)


def values() -> tuple[Sample, ...]:
    """The main public values, as the story left them."""
    found = story().values
    for sample in found:
        if not _round_trips(sample):
            log.warning("the %s sample does not come back equal from JSON", sample.title)
    return found


def events() -> tuple[Sample, ...]:
    """The first event of every class, in the order of ``EVENT_TYPES``."""
    first: dict[type, Event] = {}
    for event in story().events:
        first.setdefault(type(event), event)
    found = []
    for cls in EVENT_TYPES:
        if cls not in first:
            log.warning(
                "the JSON samples' story emits no %s: add a step to %s",
                cls.__name__,
                __file__,
            )
            continue
        sample = Sample(cls.__name__, first[cls], Event)
        if not _round_trips(sample):
            log.warning("the %s sample does not come back equal from JSON", cls.__name__)
        found.append(sample)
    return tuple(found)
