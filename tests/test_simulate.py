"""The day-in-the-life simulation: reproducible, every journey in it, and the ledger stays true."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from omniorder import Engine, InMemoryStore, InvalidInput, SQLiteStore
from omniorder.simulate import SimulationConfig, sim_network, simulate
from omniorder.testing import invariants

SMALL = SimulationConfig(days=3, stores=4, warehouses=1, skus=12, seed=3)


def test_the_same_seed_gives_the_same_events_on_memory_and_on_sqlite(tmp_path: Path) -> None:
    memory = InMemoryStore()
    first = simulate(memory, SMALL)
    sqlite = SQLiteStore(tmp_path / "sim.sqlite3")
    second = simulate(sqlite, SMALL)
    network = sim_network(SMALL)
    assert Engine(network, store=memory).events() == Engine(network, store=sqlite).events()
    assert (first.commands, first.refused, first.availability) == (
        second.commands,
        second.refused,
        second.availability,
    )
    sqlite.close()


def test_a_simulated_week_walks_every_journey_and_keeps_every_promise() -> None:
    store = InMemoryStore()
    config = SimulationConfig(days=7, seed=11)
    result = simulate(store, config)
    engine = Engine(sim_network(config), store=store)
    seen = Counter(type(e).__name__ for e in engine.events())
    for journey in (
        "OrderHeld",  # carts held at checkout
        "OrderPlaced",
        "ReservationConfirmed",  # chat holds and carts that converted
        "ReservationExpired",  # holds nobody confirmed, pickups nobody collected
        "StockSold",  # till sales
        "ReservationReady",
        "ReservationDispatched",  # ship-to-store
        "ReservationArrived",
        "LineResourced",  # short picks
        "ReturnReceived",
        "RefundIssued",
    ):
        assert seen[journey], f"no {journey} in a simulated week"
    assert result.last_event == len(engine.events())
    assert engine.verify() == []
    invariants.promise_1_no_oversell(engine)
    invariants.promise_8_returns(engine)


def test_progress_is_reported_after_every_day() -> None:
    ticks: list[tuple[int, int]] = []
    simulate(InMemoryStore(), SMALL, progress=lambda done, of: ticks.append((done, of)))
    assert ticks == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("field", ["days", "stores", "warehouses", "skus"])
def test_a_config_needs_at_least_one_of_everything(field: str) -> None:
    with pytest.raises(InvalidInput):
        SimulationConfig(**{field: 0})
