"""The outbox of events, the ledger auditor and the clock guard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniorder import (
    Channel,
    ClockWentBackwards,
    Engine,
    InvalidInput,
    ManualClock,
)
from omniorder.model import (
    COUNTERS,
    ReservationConfirmed,
    ReservationExtended,
    ReservationFulfilled,
    ReservationHeld,
    ReservationReady,
    ReservationReleased,
    SafetyStockSet,
    StockAdjusted,
    StockReceived,
    StockSold,
)
from omniorder.stores.base import Store
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.atomicity import prepare
from omniorder.testing.contracts.base import ContractBase, Tamper
from omniorder.testing.network import START, STORE_1, STORE_2


class EventContract(ContractBase):
    """The event outbox, the auditor and the clock guard."""

    def test_every_command_emits_its_event_numbered_in_the_order_it_happened(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "lamp", 5)
        engine.adjust(STORE_1, "lamp", delta=-1, reason="broken")
        engine.set_safety_stock(STORE_1, "lamp", 1)
        engine.sell(STORE_1, {"lamp": 1})
        rid = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
        engine.extend(rid, timedelta(minutes=20))
        engine.confirm(rid)
        engine.mark_ready(rid)
        engine.collect(rid)
        engine.release(engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id)
        events = engine.events()
        numbers = [e.seq for e in events]
        assert numbers == sorted(set(numbers))
        assert numbers[0] >= 1
        assert [type(e) for e in events] == [
            StockReceived,
            StockAdjusted,
            SafetyStockSet,
            StockSold,
            ReservationHeld,
            ReservationExtended,
            ReservationConfirmed,
            ReservationReady,
            ReservationFulfilled,
            ReservationHeld,
            ReservationReleased,
        ]

    def test_events_are_read_after_a_sequence_number_and_in_pages(self, engine: Engine) -> None:
        for _ in range(5):
            engine.receive(STORE_1, "lamp", 1)
        seqs = [e.seq for e in engine.events()]
        assert len(seqs) == 5
        assert [e.seq for e in engine.events(after=seqs[2])] == seqs[3:]
        assert [e.seq for e in engine.events(after=seqs[0], limit=2)] == seqs[1:3]
        assert [e.seq for e in engine.events(after=seqs[0] - 1, limit=1)] == seqs[:1]
        assert engine.events(after=seqs[4]) == []
        with pytest.raises(InvalidInput):
            engine.events(after=-1)
        with pytest.raises(InvalidInput):
            engine.events(limit=0)

    def test_events_carry_the_command_time(self, engine: Engine, clock: ManualClock) -> None:
        clock.advance(timedelta(hours=2))
        engine.receive(STORE_1, "lamp", 1)
        assert engine.events()[0].at == clock.now()

    def test_verify_is_empty_for_a_healthy_store(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 3)
        engine.confirm(engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.WEB).id)
        assert engine.verify() == []

    def _tamper(self, engine: Engine) -> Tamper:
        tamper = self.tamper(engine.store)
        if tamper is None:
            pytest.skip("this adapter offers no way to corrupt it")
        return tamper

    def test_verify_reports_a_counter_that_drifted_from_the_ledger(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 10)
        engine.reserve(STORE_1, {"lamp": 9}, channel=Channel.WEB)
        self._tamper(engine).set_counter(STORE_1, "lamp", "reserved", 10)
        problems = engine.verify()
        assert {(d.kind, d.field, d.expected, d.actual) for d in problems} == {
            ("ledger", "reserved", 9, 10),
            ("reservations", "reserved", 9, 10),
        }

    @pytest.mark.parametrize("counter", ["on_hand", "committed", "safety_stock"])
    def test_verify_reports_any_counter_changed_behind_its_back(
        self, engine: Engine, counter: str
    ) -> None:
        engine.receive(STORE_1, "lamp", 10)
        engine.set_safety_stock(STORE_1, "lamp", 2)
        engine.confirm(engine.reserve(STORE_1, {"lamp": 3}, channel=Channel.WEB).id)
        actual = getattr(engine.position(STORE_1, "lamp"), counter)
        self._tamper(engine).set_counter(STORE_1, "lamp", counter, actual + 1)
        assert (counter, actual, actual + 1) in {
            (d.field, d.expected, d.actual) for d in engine.verify()
        }

    def test_verify_reports_every_random_corruption(self) -> None:
        @given(st.data())
        @settings(max_examples=30)
        def corrupt(data: st.DataObject) -> None:
            store = self.make_store()
            try:
                self._corrupt_and_verify(store, data)
            finally:
                self.dispose(store)

        corrupt()

    def _corrupt_and_verify(self, store: Store, data: st.DataObject) -> None:
        prepare(store)
        tamper = self.tamper(store)
        if tamper is None:
            pytest.skip("this adapter offers no way to corrupt it")
        snap = take_snapshot(store)
        engine = self.engine_on(store, ManualClock(START))
        if data.draw(st.booleans(), label="change a counter"):
            p = data.draw(st.sampled_from(snap.positions), label="position")
            counter = data.draw(st.sampled_from(COUNTERS), label="counter")
            value = getattr(p, counter) + data.draw(st.integers(-3, 3).filter(bool), label="by")
            if tamper.set_counter(p.location, p.sku, counter, value):
                found = {(d.location, d.sku, d.field) for d in engine.verify()}
                assert (p.location, p.sku, counter) in found
            # else: the database's own constraints refused to be corrupted
        else:
            movement = data.draw(st.sampled_from(snap.ledger), label="ledger row")
            tamper.drop_movement(movement.seq)
            kinds = {d.kind for d in engine.verify()}
            assert "ledger" in kinds

    def test_verify_reports_a_missing_ledger_row(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 10)
        engine.receive(STORE_2, "lamp", 1)
        self._tamper(engine).drop_movement(take_snapshot(engine.store).ledger[0].seq)
        kinds = {d.kind for d in engine.verify()}
        assert kinds == {"ledger"}

    @pytest.mark.parametrize(("counter", "live"), [(10, 9), (9, 10), (0, 9)])
    def test_peer_saleor_16_drift_between_counter_and_allocations_is_reported(
        self, engine: Engine, counter: int, live: int
    ) -> None:
        """Saleor resets an allocation counter to the sum of live allocations; we report it."""
        engine.receive(STORE_1, "x", 20)
        engine.reserve(STORE_1, {"x": live}, channel=Channel.WEB)
        self._tamper(engine).set_counter(STORE_1, "x", "reserved", counter)
        drift = [d for d in engine.verify() if d.kind == "reservations"]
        assert [(d.expected, d.actual) for d in drift] == [(live, counter)]

    def test_a_clock_that_goes_backwards_is_refused_and_nothing_is_written(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_1, "lamp", 1)
        earlier = ManualClock(clock.now() - engine.store.clock_tolerance - timedelta(seconds=1))
        other = self.engine_on(engine.store, earlier)
        before = take_snapshot(engine.store)
        with pytest.raises(ClockWentBackwards):
            other.receive(STORE_1, "lamp", 1)
        assert take_snapshot(engine.store) == before
        assert other.availability("lamp") == 1  # reads are fine
