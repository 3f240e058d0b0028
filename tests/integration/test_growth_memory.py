"""InMemoryStore finds due reservations from a heap per position, not by scanning every live hold.

These tests check what ``due_reservations`` returns (never how long it takes: the growth figures
are ``benchmarks/growth.py``): exactly the reservations a scan of every reservation would give,
sorted by (expires_at, id), after extends, releases, confirms, pickups, sweeps, rolled-back units
of work and concurrent threads.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Collection
from datetime import datetime, timedelta

import attrs
import pytest

from omniorder import (
    Channel,
    Engine,
    InMemoryStore,
    ManualClock,
    Mode,
    OmniOrderError,
    Reservation,
    ReservationState,
)
from omniorder.stores.base import PositionKey
from omniorder.testing.network import START, STORE_1, STORE_2, sample_network

HELD = ReservationState.HELD
READY = ReservationState.READY
STATES: list[frozenset[ReservationState]] = [
    frozenset({HELD}),
    frozenset({READY}),
    frozenset({HELD, READY}),
]
SKUS = ("lamp", "sofa", "vase")
KEYS: list[PositionKey] = [(loc, sku) for loc in (STORE_1, STORE_2) for sku in SKUS]


def _engine() -> tuple[Engine, InMemoryStore, ManualClock]:
    store = InMemoryStore()
    clock = ManualClock(START)
    engine = Engine(sample_network(), store=store, clock=clock)
    for location, sku in KEYS:
        engine.receive(location, sku, 10_000)
    return engine, store, clock


def _hold(engine: Engine, minutes: int, location: str = STORE_1, *skus: str) -> Reservation:
    return engine.reserve(
        location,
        dict.fromkeys(skus or ("sofa",), 1),
        channel=Channel.WEB,
        mode=Mode.PICKUP,
        ttl=timedelta(minutes=minutes),
    )


def _scan(
    store: InMemoryStore,
    now: datetime,
    states: Collection[ReservationState],
    keys: Collection[PositionKey] | None,
) -> list[str]:
    """What a scan of every stored reservation says is due, by (expires_at, id)."""
    with store.unit_of_work(read_only=True) as uow:
        found = [
            r
            for r in uow.reservations(states=states)
            if r.expires_at is not None
            and r.expires_at <= now
            and (keys is None or any((r.location, line.sku) in keys for line in r.lines))
        ]
    found.sort(key=lambda r: (r.expires_at, r.id))
    return [r.id for r in found]


def _due(
    store: InMemoryStore,
    now: datetime,
    states: Collection[ReservationState] = (HELD,),
    keys: Collection[PositionKey] | None = None,
) -> list[str]:
    with store.unit_of_work(read_only=True) as uow:
        return [r.id for r in uow.due_reservations(now, states=states, keys=keys)]


def _agrees(store: InMemoryStore, now: datetime) -> None:
    """Every question due_reservations answers agrees with a full scan, now and later."""
    for at in (
        now,
        now + timedelta(minutes=7),
        now + timedelta(minutes=31),
        now + timedelta(days=1),
    ):
        for states in STATES:
            choices: list[Collection[PositionKey] | None] = [None, KEYS, [("nowhere", "sofa")]]
            choices += [[key] for key in KEYS]
            for keys in choices:
                assert _due(store, at, states, keys) == _scan(store, at, states, keys), (
                    at,
                    states,
                    keys,
                )


def test_due_holds_come_back_by_expiry_then_id_after_extends_and_releases() -> None:
    engine, store, clock = _engine()
    a = _hold(engine, 10)
    b = _hold(engine, 10)
    c = _hold(engine, 5, STORE_1, "sofa", "lamp")
    d = _hold(engine, 20, STORE_2)
    e = _hold(engine, 3)
    engine.extend(c.id, timedelta(minutes=30))  # 5 -> 30
    engine.extend(a.id, timedelta(minutes=1))  # 10 -> 1: earlier than it was
    engine.release(e.id)
    later = START + timedelta(minutes=40)
    assert _due(store, later) == [a.id, b.id, d.id, c.id]  # expiring at 1, 10, 20, 30
    assert _due(store, later, keys=[(STORE_1, "sofa")]) == [a.id, b.id, c.id]
    assert _due(store, later, keys=[(STORE_1, "lamp")]) == [c.id]
    assert _due(store, later, keys=[(STORE_2, "sofa")]) == [d.id]
    assert _due(store, START + timedelta(minutes=10)) == [a.id, b.id]
    clock.advance(timedelta(minutes=40))
    _agrees(store, clock.now())


def test_ties_on_expiry_break_by_id() -> None:
    engine, store, _ = _engine()
    ids = [_hold(engine, 10, STORE_1, sku).id for sku in SKUS for _ in range(3)]
    at = START + timedelta(minutes=10)
    assert _due(store, at) == sorted(ids)
    assert _due(store, at, keys=KEYS) == sorted(ids)


def test_an_extended_hold_is_not_due_at_its_old_expiry_and_comes_back_once() -> None:
    engine, store, clock = _engine()
    held = _hold(engine, 10)
    clock.advance(timedelta(minutes=5))
    engine.extend(held.id, timedelta(minutes=30))  # now expires at 35 minutes
    for minutes in (10, 20, 34):
        at = START + timedelta(minutes=minutes)
        assert _due(store, at) == []
        assert _due(store, at, keys=[(STORE_1, "sofa")]) == []
    clock.advance(timedelta(minutes=15))  # past the old expiry: the hold still blocks a unit
    blocked = engine.availability("sofa", channel=Channel.STORE, location=STORE_1)
    assert engine.expire_due() == []
    at = START + timedelta(minutes=35)
    assert _due(store, at) == [held.id]
    assert _due(store, at, keys=[(STORE_1, "sofa")]) == [held.id]
    clock.advance(at - clock.now())
    assert engine.availability("sofa", channel=Channel.STORE, location=STORE_1) == blocked + 1
    assert [r.id for r in engine.expire_due()] == [held.id]
    assert _due(store, at + timedelta(days=1), (HELD, READY)) == []


def test_confirmed_then_ready_pickups_are_due_at_their_deadline_only() -> None:
    engine, store, clock = _engine()
    held = _hold(engine, 10)
    engine.confirm(held.id)
    assert _due(store, START + timedelta(minutes=10), (HELD, READY)) == []
    engine.mark_ready(held.id, pickup_window=timedelta(hours=2))
    deadline = START + timedelta(hours=2)
    assert _due(store, deadline - timedelta(seconds=1), (HELD, READY)) == []
    assert _due(store, deadline, (HELD,)) == []
    assert _due(store, deadline, (READY,)) == [held.id]
    assert _due(store, deadline, (HELD, READY), keys=[(STORE_1, "sofa")]) == [held.id]
    clock.advance(timedelta(hours=2))
    assert [r.id for r in engine.expire_due()] == [held.id]
    assert _due(store, deadline, (READY,)) == []


def test_a_rolled_back_unit_of_work_leaves_the_due_holds_as_they_were() -> None:
    engine, store, _ = _engine()
    first = _hold(engine, 10)
    second = _hold(engine, 10, STORE_1, "lamp")
    third = _hold(engine, 20)
    at = START + timedelta(minutes=30)
    before = _due(store, at)
    assert before == [*sorted([first.id, second.id]), third.id]

    with pytest.raises(RuntimeError):
        _sweep_extend_add_then_fail(store, at, first.id, third)

    assert _due(store, at) == before
    assert _due(store, START + timedelta(hours=5)) == before
    assert _due(store, at, keys=[(STORE_1, "sofa")]) == [first.id, third.id]
    _agrees(store, START)


def _sweep_extend_add_then_fail(
    store: InMemoryStore, at: datetime, first: str, third: Reservation
) -> None:
    """A sweep that expires everything due, an extend, a new hold: then a failure."""
    with store.unit_of_work() as uow:
        for r in uow.due_reservations(at, states=(HELD,), keys=None):
            uow.update_reservation(
                attrs.evolve(r, state=ReservationState.EXPIRED, version=r.version + 1)
            )
        assert uow.due_reservations(at, states=(HELD,)) == []
        kept = uow.reservation(first)
        assert kept is not None
        uow.update_reservation(
            attrs.evolve(
                kept, state=HELD, expires_at=START + timedelta(hours=5), version=kept.version + 1
            )
        )
        uow.add_reservation(attrs.evolve(third, id="made-then-undone", version=1))
        assert [r.id for r in uow.due_reservations(at, states=(HELD,))] == ["made-then-undone"]
        raise RuntimeError("fail after writing")


def test_a_failed_command_leaves_no_trace_in_what_is_due() -> None:
    engine, store, clock = _engine()
    held = _hold(engine, 10)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(OmniOrderError):
        engine.extend(held.id, timedelta(minutes=30))  # refused at its expiry
    assert _due(store, clock.now()) == [held.id]
    _agrees(store, clock.now())


@pytest.mark.parametrize("seed", range(6))
def test_a_random_walk_agrees_with_a_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    engine, store, clock = _engine()
    live: list[str] = []
    for step in range(160):
        roll = rng.random()
        try:
            if roll < 0.35 or not live:
                location = rng.choice((STORE_1, STORE_2))
                skus = rng.sample(SKUS, rng.randint(1, 2))
                live.append(_hold(engine, rng.randint(1, 40), location, *skus).id)
            elif roll < 0.5:
                engine.extend(rng.choice(live), timedelta(minutes=rng.randint(1, 40)))
            elif roll < 0.6:
                engine.release(rng.choice(live))
            elif roll < 0.7:
                engine.confirm(rng.choice(live))
            elif roll < 0.78:
                engine.mark_ready(
                    rng.choice(live), pickup_window=timedelta(minutes=rng.randint(1, 40))
                )
            elif roll < 0.88:
                clock.advance(timedelta(minutes=rng.randint(0, 12)))
            elif roll < 0.93:
                engine.expire_due()
            else:
                _roll_back(store, rng, live, clock.now())
        except OmniOrderError:
            pass  # an illegal transition changes nothing; that is checked too
        if step % 8 == 0:
            _agrees(store, clock.now())
    _agrees(store, clock.now())


def _roll_back(store: InMemoryStore, rng: random.Random, live: list[str], now: datetime) -> None:
    with pytest.raises(RuntimeError):
        _change_then_fail(store, rng, live, now)


def _change_then_fail(
    store: InMemoryStore, rng: random.Random, live: list[str], now: datetime
) -> None:
    with store.unit_of_work() as uow:
        for _ in range(3):
            r = uow.reservation(rng.choice(live))
            assert r is not None
            if r.state in (HELD, READY):
                uow.update_reservation(
                    attrs.evolve(
                        r,
                        expires_at=now + timedelta(minutes=rng.randint(0, 60)),
                        version=r.version + 1,
                    )
                )
            uow.due_reservations(now + timedelta(minutes=rng.randint(0, 60)), states=(HELD,))
        raise RuntimeError("undo")


def test_concurrent_threads_leave_an_index_that_agrees_with_a_full_scan() -> None:
    engine, store, clock = _engine()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[str] = []
        try:
            for _ in range(120):
                roll = rng.random()
                if roll < 0.5 or not mine:
                    mine.append(_hold(engine, rng.randint(1, 30), STORE_1, "sofa").id)
                elif roll < 0.75:
                    engine.extend(rng.choice(mine), timedelta(minutes=rng.randint(1, 30)))
                elif roll < 0.9:
                    engine.release(mine.pop(rng.randrange(len(mine))))
                else:
                    engine.expire_due()
        except OmniOrderError:
            pass
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _agrees(store, clock.now())


def test_finished_holds_do_not_pile_up_in_the_index() -> None:
    engine, store, _ = _engine()
    _hold(engine, 60)
    for minutes in range(1, 2001):
        held = _hold(engine, minutes % 50 + 1)
        engine.extend(held.id, timedelta(minutes=55))
        engine.release(held.id)
    state = store._state  # reaching in is the point: the heaps stay bounded by the live holds
    for key in ((STORE_1, "sofa"), None):
        index = state.expiring[key]
        assert len(index.ids) == 1
        assert len(index.heap) <= 2 * len(index.ids) + 16
    assert len(state.expiring) == 2
