"""Promise 1 under threads: many threads racing for the last units never oversell."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from omniorder import (
    Channel,
    Engine,
    Geo,
    InsufficientStock,
    InvalidTransition,
    ManualClock,
    Mode,
    Order,
    OrderLine,
    ReservationState,
    ReturnNotAllowed,
    Ship,
)
from omniorder.stores.base import Store
from omniorder.testing import invariants
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network

THREADS = 8
HOME = Geo(51.5, -0.1)


def _race(work: list[object]) -> None:
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(task: object) -> None:
        barrier.wait()
        try:
            task()  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(task,)) for task in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


class ConcurrencyContract(ContractBase):
    """Promise 1 under threads."""

    def test_eight_threads_racing_for_the_last_five_sofas_get_five(self, store: Store) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(STORE_1, "sofa", 5)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def customer(channel: Channel) -> None:
            for _ in range(5):
                try:
                    if channel is Channel.STORE:
                        engine.sell(STORE_1, {"sofa": 1})
                    else:
                        rid = engine.reserve(STORE_1, {"sofa": 1}, channel=channel).id
                        engine.confirm(rid)
                    with lock:
                        outcomes["won"] += 1
                except InsufficientStock:
                    with lock:
                        outcomes["refused"] += 1

        channels = [Channel.WEB, Channel.APP, Channel.STORE, Channel.CALL_CENTER] * 2
        _race([lambda c=c: customer(c) for c in channels])
        assert outcomes == {"won": 5, "refused": THREADS * 5 - 5}
        p = engine.position(STORE_1, "sofa")
        assert p.committed + (5 - p.on_hand) == 5
        invariants.promise_1_no_oversell(engine)
        invariants.promise_2_conservation(engine)

    @pytest.mark.parametrize("rounds", [30])
    def test_multi_line_holds_releases_and_sweeps_in_parallel_keep_every_promise(
        self, store: Store, rounds: int
    ) -> None:
        clock = ManualClock(START)
        engine = Engine(sample_network(), store=store, clock=clock)
        for sku in ("a", "b", "c"):
            engine.receive(STORE_2, sku, 6)

        def shopper(number: int) -> None:
            for i in range(rounds):
                lines = {"a": 1, "b": 1} if (number + i) % 2 else {"b": 2, "c": 1}
                try:
                    r = engine.reserve(
                        STORE_2,
                        lines,
                        channel=Channel.WEB,
                        mode=Mode.SHIP,
                        ttl=timedelta(minutes=1 + i % 3),
                    )
                except InsufficientStock:
                    continue
                step = (number * 7 + i) % 4
                try:
                    if step == 0:
                        engine.release(r.id)
                    elif step == 1:
                        engine.confirm(r.id)
                        engine.ship(r.id)
                    elif step == 2:
                        engine.expire_due()
                except InvalidTransition:
                    # The ticking clock may expire the hold first: that race is legal.
                    assert engine.reservation(r.id).state is ReservationState.EXPIRED

        def clock_ticker() -> None:
            for _ in range(rounds):
                clock.advance(timedelta(seconds=30))
                engine.expire_due()

        _race([lambda n=n: shopper(n) for n in range(THREADS - 1)] + [clock_ticker])
        clock.advance(timedelta(hours=1))
        engine.expire_due()
        invariants.all_state_promises(engine, ["a", "b", "c"])

    def test_eight_stores_taking_back_one_order_at_once_never_take_more_than_was_fulfilled(
        self, store: Store
    ) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(WAREHOUSE, "lamp", 3)
        order = Order("o-1", Channel.WEB, [OrderLine("1", "lamp", 3, Decimal("10"), Ship(HOME))])
        for rid in engine.place_order(order).reservation_ids:
            engine.ship(rid)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def counter_clerk(at: str) -> None:
            for _ in range(2):
                try:
                    engine.request_return("o-1", {"1": 1}, at=at, channel=Channel.STORE)
                    with lock:
                        outcomes["authorised"] += 1
                except ReturnNotAllowed:
                    with lock:
                        outcomes["refused"] += 1

        _race([lambda at=at: counter_clerk(at) for at in [STORE_1, STORE_2] * (THREADS // 2)])
        assert outcomes == {"authorised": 3, "refused": THREADS * 2 - 3}
        invariants.promise_8_returns(engine)

    def test_eight_callers_placing_one_new_order_at_once_place_it_once(self, store: Store) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(WAREHOUSE, "lamp", 20)
        order = Order("o-9", Channel.WEB, [OrderLine("1", "lamp", 2, Decimal("10"), Ship(HOME))])
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def checkout() -> None:
            try:
                engine.place_order(order)
                outcome = "placed"
            except InvalidTransition:  # the documented answer to placing a placed order
                outcome = "already placed"
            with lock:
                outcomes[outcome] += 1

        _race([checkout] * THREADS)
        assert outcomes == {"placed": 1, "already placed": THREADS - 1}
        assert engine.position(WAREHOUSE, "lamp").committed == 2
        invariants.all_state_promises(engine, ["lamp"])

    def test_eight_callers_holding_one_new_order_at_once_leave_one_set_of_holds(
        self, store: Store
    ) -> None:
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(WAREHOUSE, "lamp", 20)
        order = Order("o-9", Channel.WEB, [OrderLine("1", "lamp", 2, Decimal("10"), Ship(HOME))])
        _race([lambda: engine.hold_order(order)] * THREADS)  # each replaces the holds before it
        view = engine.order("o-9")
        assert [engine.reservation(r).state for r in view.reservation_ids] == [
            ReservationState.HELD
        ]
        assert engine.position(WAREHOUSE, "lamp").reserved == 2
        invariants.all_state_promises(engine, ["lamp"])
