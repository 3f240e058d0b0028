"""InMemoryStore's lean path: a unit of work is not a reference cycle.

Its undo log is data, not closures over the unit of work, so a command leaves nothing behind for
the cyclic garbage collector: whatever it made is freed by reference counting when it ends, or
kept by the store.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from omniorder import Channel, Engine, InsufficientStock, ManualClock, Mode
from omniorder.model.position import Movement, MovementKind
from omniorder.testing.network import START, STORE_1, STORE_2, sample_network


@contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def commands(engine: Engine, n: int) -> None:
    """One of everything a shop does all day, some keyed, one refused and rolled back."""
    held = engine.reserve(STORE_2, {"sofa": 1, "lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP)
    engine.confirm(held.id, key=f"c{n}")
    engine.ship(held.id)
    dropped = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.APP, ttl=timedelta(hours=1))
    engine.release(dropped.id, key=f"r{n}")
    engine.sell(STORE_1, {"lamp": 1}, key=f"s{n}")
    engine.receive(STORE_2, "sofa", 1, key=f"in{n}")
    with pytest.raises(InsufficientStock):
        engine.reserve(STORE_2, {"sofa": 10**6}, channel=Channel.WEB, mode=Mode.SHIP)
    engine.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    engine.expire_due()
    engine.availability("sofa", channel=Channel.WEB)
    engine.events(after=n % 50, limit=10)


@pytest.fixture
def engine() -> Engine:
    engine = Engine(sample_network(), clock=ManualClock(START))
    for location in (STORE_1, STORE_2):
        for sku in ("sofa", "lamp"):
            engine.receive(location, sku, 1000)
    commands(engine, 1000)  # first calls fill caches (converters, structure hooks) for good
    return engine


def test_commands_on_the_memory_store_leave_no_garbage_cycles(engine: Engine) -> None:
    with collector_off():
        for n in range(30):
            commands(engine, n)
        assert gc.collect() == 0


LATER = START + timedelta(days=1)


def test_a_rolled_back_unit_of_work_leaves_no_garbage_cycles(engine: Engine) -> None:
    before = engine.position(STORE_1, "lamp")

    def fail() -> None:
        with engine.store.unit_of_work() as uow:
            uow.move(Movement(0, LATER, STORE_1, "lamp", MovementKind.RECEIVED, 1, "x", None))
            raise RuntimeError("undone")

    with collector_off():
        for _ in range(30):
            with pytest.raises(RuntimeError):
                fail()
        assert gc.collect() == 0
    assert engine.position(STORE_1, "lamp") == before  # the undo log put it back
