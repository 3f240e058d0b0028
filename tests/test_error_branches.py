"""The engine's refusals and rarely taken turns, each held to what its docstring promises.

Every branch here was once never executed by the suite (issue 21): a refusal that nothing
exercises can refuse the wrong thing, or nothing, without anyone noticing.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from omniorder import (
    Channel,
    Condition,
    Disposition,
    Engine,
    InMemoryStore,
    Inspection,
    InvalidInput,
    ManualClock,
    Mode,
    Order,
    OrderLine,
    Pickup,
    Policy,
    ReservationState,
    ReturnState,
    Ship,
    ShipToStore,
    UnknownReturn,
)
from omniorder.model.events import OrderPlaced, ReservationReleased
from omniorder.testing import take_snapshot
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network

PRICE = Decimal("10.00")
LEEDS = Ship(to=sample_network().location(STORE_2).geo)


def _engine(policy: Policy | None = None) -> tuple[Engine, ManualClock]:
    clock = ManualClock(START)
    counter = itertools.count(1)
    engine = Engine(
        sample_network(),
        store=InMemoryStore(),
        clock=clock,
        policy=policy,
        ids=lambda p: f"{p}-{next(counter)}",
    )
    return engine, clock


def _cart(order_id: str, *lines: tuple[str, int, Ship | Pickup | ShipToStore]) -> Order:
    return Order(
        order_id,
        Channel.WEB,
        [OrderLine(str(n), sku, units, PRICE, how) for n, (sku, units, how) in enumerate(lines, 1)],
    )


class _NotASolver:
    """Has a name but no solve(problem): not a Solver."""

    name = "impostor"


def test_an_engine_refuses_a_solver_that_cannot_solve() -> None:
    with pytest.raises(InvalidInput) as refused:
        Engine(sample_network(), solver=_NotASolver())  # type: ignore[arg-type]
    assert refused.value.field == "solver"


def test_an_engine_names_its_locations_and_store() -> None:
    engine, _ = _engine()
    assert repr(engine) == "Engine(3 locations, store=InMemoryStore())"


def test_an_order_with_more_lines_than_the_policy_allows_is_refused_by_every_order_command() -> (
    None
):
    engine, _ = _engine(Policy(max_lines=2))
    engine.receive(WAREHOUSE, "lamp", 5)
    engine.receive(WAREHOUSE, "rug", 5)
    engine.receive(WAREHOUSE, "vase", 5)
    two = _cart("o-2", ("lamp", 1, LEEDS), ("rug", 1, LEEDS))
    three = _cart("o-3", ("lamp", 1, LEEDS), ("rug", 1, LEEDS), ("vase", 1, LEEDS))
    before = take_snapshot(engine.store)
    for command in (engine.quote, engine.hold_order, engine.place_order):
        with pytest.raises(InvalidInput, match="3 lines; the limit is 2") as refused:
            command(three)
        assert (refused.value.field, refused.value.value) == ("lines", 3)
    assert take_snapshot(engine.store) == before
    assert engine.place_order(two).line("2").sourced == {WAREHOUSE: 1}  # at the limit: fine


def _received_back(policy: Policy) -> tuple[Engine, str]:
    """A two-unit web order shipped from the warehouse, and an authorised return at Leeds."""
    engine, _ = _engine(policy)
    engine.receive(WAREHOUSE, "lamp", 2)
    for rid in engine.place_order(_cart("o-1", ("lamp", 2, LEEDS))).reservation_ids:
        engine.ship(rid)
    rma = engine.request_return("o-1", {"1": 2}, at=STORE_2, channel=Channel.STORE)
    assert rma.state is ReturnState.AUTHORIZED
    return engine, rma.id


def test_a_unit_sent_to_a_returns_hub_that_the_policy_lacks_is_refused_and_nothing_moves() -> None:
    engine, rma_id = _received_back(Policy())  # no ReturnPolicy.hub
    before = take_snapshot(engine.store)
    sent = Inspection(Condition.SELLABLE, 1, Disposition.TRANSFER)
    with pytest.raises(InvalidInput, match=r"needs ReturnPolicy\.hub") as refused:
        engine.receive_return(rma_id, {"1": [sent, Inspection(Condition.SELLABLE, 1)]})
    assert refused.value.field == "conditions"
    assert take_snapshot(engine.store) == before
    assert engine.return_authorization(rma_id).state is ReturnState.AUTHORIZED
    # The same units with dispositions the policy can carry out are received.
    assert engine.receive_return(rma_id).state is ReturnState.RECEIVED


def test_an_unknown_return_authorisation_is_reported_as_unknown() -> None:
    engine, _ = _engine()
    with pytest.raises(UnknownReturn) as missing:
        engine.return_authorization("rma-nope")
    assert isinstance(missing.value, LookupError)
    assert "rma-nope" in str(missing.value)


def test_placing_a_held_order_whose_cart_changed_releases_the_old_holds_and_sources_afresh() -> (
    None
):
    engine, _ = _engine()
    engine.receive(WAREHOUSE, "lamp", 5)
    engine.receive(STORE_1, "rug", 5)
    held = engine.hold_order(_cart("o-1", ("lamp", 2, LEEDS), ("rug", 1, Pickup(STORE_1))))
    gone_before = next(r for r in held.reservation_ids if engine.reservation(r).location == STORE_1)
    engine.release(gone_before, reason="the customer dropped the rug first")
    lamp_hold = next(r for r in held.reservation_ids if r != gone_before)
    changed = _cart("o-1", ("lamp", 3, LEEDS))  # one more lamp, no rug
    placed = engine.place_order(changed)
    assert engine.reservation(lamp_hold).state is ReservationState.RELEASED
    assert engine.reservation(gone_before).state is ReservationState.RELEASED
    released = [e for e in engine.events() if isinstance(e, ReservationReleased)]
    assert [(e.reservation_id, e.reason) for e in released][-1] == (
        lamp_hold,
        "order changed before placing",
    )
    assert len(released) == 2  # the rug hold, already gone, is not released twice
    (new,) = placed.reservation_ids
    assert new not in held.reservation_ids
    assert engine.reservation(new).state is ReservationState.CONFIRMED
    assert placed.line("1").sourced == {WAREHOUSE: 3}
    lamp = engine.position(WAREHOUSE, "lamp")
    assert (lamp.reserved, lamp.committed) == (0, 3)
    assert engine.position(STORE_1, "rug").reserved == 0
    placed_event = [e for e in engine.events() if isinstance(e, OrderPlaced)][-1]
    assert placed_event.reservation_ids == (new,)
    assert engine.verify() == []


def test_holding_an_order_again_after_its_holds_lapsed_holds_it_afresh() -> None:
    engine, clock = _engine()
    engine.receive(WAREHOUSE, "lamp", 1)
    order = _cart("o-1", ("lamp", 1, LEEDS))
    (first,) = engine.hold_order(order, ttl=timedelta(minutes=5)).reservation_ids
    clock.advance(timedelta(minutes=5))
    (second,) = engine.hold_order(order, ttl=timedelta(minutes=5)).reservation_ids
    assert engine.reservation(first).state is ReservationState.EXPIRED  # not "released"
    assert not [e for e in engine.events() if isinstance(e, ReservationReleased)]
    assert engine.reservation(second).state is ReservationState.HELD
    assert engine.position(WAREHOUSE, "lamp").reserved == 1
    assert engine.verify() == []


def test_a_short_pick_of_a_hold_made_for_an_unrecorded_order_re_sources_nothing() -> None:
    engine, _ = _engine()
    engine.receive(WAREHOUSE, "lamp", 3)
    engine.receive(STORE_2, "lamp", 3)
    rid = engine.reserve(
        WAREHOUSE, {"lamp": 2}, channel=Channel.CALL_CENTER, mode=Mode.SHIP, order_id="erp-7"
    ).id
    engine.confirm(rid)
    rejected = engine.reject(rid, {"lamp": 1}, reason="one was broken")
    assert rejected.open_quantities == {"lamp": 1}
    assert engine.position(WAREHOUSE, "lamp").on_hand == 2
    assert engine.position(STORE_2, "lamp").committed == 0  # nothing sourced elsewhere
    assert engine.verify() == []


def test_a_transfer_for_an_unrecorded_order_arrives_ready_for_pickup() -> None:
    engine, _ = _engine()
    engine.receive(WAREHOUSE, "lamp", 1)
    transfer = engine.reserve(
        WAREHOUSE,
        {"lamp": 1},
        channel=Channel.CALL_CENTER,
        mode=Mode.TRANSFER,
        destination=STORE_1,
        order_id="erp-8",
    )
    engine.confirm(transfer.id)
    engine.ship(transfer.id)
    ready = engine.arrive(transfer.id)
    assert (ready.state, ready.location, ready.order_id) == (
        ReservationState.READY,
        STORE_1,
        "erp-8",
    )
    assert engine.position(STORE_1, "lamp").committed == 1
    assert engine.verify() == []


def test_setting_the_safety_stock_it_already_has_writes_nothing() -> None:
    engine, clock = _engine()
    engine.set_safety_stock(STORE_1, "lamp", 2)
    before = take_snapshot(engine.store)
    clock.advance(timedelta(minutes=1))
    assert engine.set_safety_stock(STORE_1, "lamp", 2).safety_stock == 2
    assert take_snapshot(engine.store) == before
