"""PostgreSQL: one stream's events are numbered in the order they happened (promise 11).

An event's number is its transaction's id, then its place in it. A transaction takes its id at
its first write, so one that started writing earlier may reach a reservation after a younger one
has changed it and committed: its events would then be numbered, and read, before the younger
one's. The stream's row names its last writer, and an older transaction may not write it: it
runs again with a new, larger id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest

from omniorder import Channel, ConcurrencyConflict, Engine, ManualClock
from omniorder.model.events import ReservationExtended
from omniorder.model.position import Movement, MovementKind
from omniorder.stores.base import Store
from omniorder.testing.network import START, STORE_1, sample_network
from tests.postgres import drop_schema, new_schema, postgres_dsn


@pytest.fixture
def store() -> Iterator[Store]:
    from omniorder.stores.postgres import PostgresStore

    dsn = postgres_dsn()
    schema = new_schema()
    store = PostgresStore(dsn, schema=schema)
    try:
        yield store
    finally:
        store.close()
        drop_schema(dsn, schema)


def test_an_older_transaction_may_not_write_a_stream_a_younger_one_changed(
    store: Store,
) -> None:
    engine = Engine(sample_network(), store=store, clock=ManualClock(START))
    engine.receive(STORE_1, "lamp", 5)
    held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
    later = START + timedelta(seconds=1)
    stock = Movement(0, later, STORE_1, "lamp", MovementKind.RECEIVED, 1, "older", None)

    def older_writes_after_younger() -> None:
        with store.unit_of_work() as older:
            older.move(stock)  # its first write: it takes the older transaction id
            with store.unit_of_work() as younger:  # another connection: a younger id
                found = younger.reservation(held.id, for_update=True)
                assert found is not None
                younger.update_reservation(attrs.evolve(found, version=2, updated_at=later))
            seen = older.reservation(held.id, for_update=True)  # the younger one's commit
            assert seen is not None
            assert seen.version == 2
            older.update_reservation(attrs.evolve(seen, version=3, updated_at=later))

    # Refused when it writes the row, or at the latest when it commits (a write on a row it
    # locked waits for the commit's round trip); the engine would run the command again.
    with pytest.raises(ConcurrencyConflict):
        older_writes_after_younger()
    assert engine.reservation(held.id).version == 2  # the older one did not write it


def test_events_of_one_reservation_are_read_in_the_order_they_happened(store: Store) -> None:
    clock = ManualClock(START)
    engine = Engine(sample_network(), store=store, clock=clock)
    engine.receive(STORE_1, "lamp", 5)
    held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
    for minutes in (20, 30, 40):
        clock.advance(timedelta(seconds=1))
        engine.extend(held.id, timedelta(minutes=minutes))
    engine.confirm(held.id)
    mine = [e for e in engine.events() if getattr(e, "reservation_id", None) == held.id]
    assert [type(e).__name__ for e in mine] == [
        "ReservationHeld",
        "ReservationExtended",
        "ReservationExtended",
        "ReservationExtended",
        "ReservationConfirmed",
    ]
    deadlines = [e.expires_at for e in mine if isinstance(e, ReservationExtended)]
    assert deadlines == sorted(deadlines)
