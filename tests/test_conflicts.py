"""Lost races: what the engine does when another writer got there first (issue 21, item 7).

omniorder's stores lock what a command reads (one lock, ``BEGIN IMMEDIATE``, ``FOR UPDATE``), so
two of its commands never see each other half done. The engine still guards against a store
that does not: a record written from a stale version, and an idempotency key claimed by a
command that has not finished, are each a :class:`~omniorder.ConcurrencyConflict`, which the
engine rolls back and runs again. These tests make both races happen for real and hold the
engine to the outcome its docstrings promise.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from omniorder import (
    Channel,
    ConcurrencyConflict,
    Engine,
    InMemoryStore,
    InvalidTransition,
    ManualClock,
    Order,
    OrderLine,
    OrderStatus,
    ReservationState,
    ReturnState,
    Ship,
    SQLiteStore,
)
from omniorder.allocation import AllocationPlan, AllocationProblem, default_solver
from omniorder.model.events import (
    OrderPlaced,
    RefundIssued,
    ReservationConfirmed,
    ReservationReleased,
)
from omniorder.stores.base import Store, UnitOfWork
from omniorder.testing import take_snapshot
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network

PRICE = Decimal("10.00")
LEEDS = Ship(to=sample_network().location(STORE_2).geo)
ORDER = Order("o-1", Channel.WEB, [OrderLine("1", "lamp", 2, PRICE, LEEDS)])


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A new store of each kind that runs without a server."""
    if request.param == "memory":
        yield InMemoryStore()
        return
    folder = Path(tempfile.mkdtemp(prefix="omniorder-conflicts-"))
    made = SQLiteStore(folder / "shop.sqlite3")
    yield made
    made.close()
    shutil.rmtree(folder, ignore_errors=True)


def _engine(store: Store, clock: ManualClock, *, retries: int = 8) -> Engine:
    return Engine(sample_network(), store=store, clock=clock, retries=retries)


# -- a record written from a stale version -----------------------------------------------------


class _Interloping:
    """A unit of work that lets another writer's change land just before a command's write."""

    def __init__(self, inner: UnitOfWork, store: _Interloper) -> None:
        self._inner = inner
        self._store = store

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name != self._store.write or self._store.conflicts:
            return target

        def write(record: Any) -> None:
            # Another writer changed this record since the command read it: its version moved.
            read = getattr(self._inner, _READS[name])
            stored = read(record.id)
            getattr(self._inner, name)(attrs.evolve(stored, version=stored.version + 1))
            self._store.conflicts += 1
            target(record)  # made from the version the command read: the store must refuse it

        return write


_READS = {
    "update_reservation": "reservation",
    "update_order": "order",
    "update_return": "return_authorization",
}


class _Interloper:
    """A store that reads without locks, seen at the worst moment: the first time a command
    writes a reservation, an order or a return (``write``), another writer has just changed it.

    That other writer's change is ``meanwhile``, committed as soon as the command's unit of
    work has rolled back; inside the unit of work it shows only as a newer stored version,
    which is what makes the real store underneath refuse the command's write.
    """

    def __init__(
        self, inner: Store, write: str, meanwhile: Callable[[Store], object] | None = None
    ) -> None:
        self.inner = inner
        self.write = write
        self.meanwhile = meanwhile
        self.conflicts = 0
        self.clock_tolerance = inner.clock_tolerance

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Any]:
        seen = self.conflicts
        try:
            with self.inner.unit_of_work(read_only=read_only) as uow:
                yield _Interloping(uow, self)
        except ConcurrencyConflict:
            if self.conflicts > seen and self.meanwhile is not None:
                self.meanwhile(self.inner)
            raise

    def close(self) -> None:
        self.inner.close()


def test_a_stale_write_reaches_the_caller_as_a_conflict_when_retries_are_off_and_writes_nothing(
    store: Store,
) -> None:
    clock = ManualClock(START)
    engine = _engine(store, clock)
    engine.receive(STORE_1, "lamp", 2)
    hold = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
    before = take_snapshot(store)
    racing = _engine(_Interloper(store, "update_reservation"), clock, retries=0)
    with pytest.raises(ConcurrencyConflict, match="changed meanwhile"):
        racing.confirm(hold)
    assert take_snapshot(store) == before


def test_a_confirm_that_loses_to_a_release_is_run_again_and_refused_as_the_table_says(
    store: Store,
) -> None:
    clock = ManualClock(START)
    engine = _engine(store, clock)
    engine.receive(STORE_1, "lamp", 2)
    hold = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
    interloper = _Interloper(
        store,
        "update_reservation",
        lambda inner: _engine(inner, clock).release(hold, reason="the agent cancelled"),
    )
    racing = _engine(interloper, clock)
    with pytest.raises(InvalidTransition) as refused:
        racing.confirm(hold)
    assert interloper.conflicts == 1
    assert refused.value.state == ReservationState.RELEASED.name
    assert engine.reservation(hold).state is ReservationState.RELEASED
    lamp = engine.position(STORE_1, "lamp")
    assert (lamp.reserved, lamp.committed) == (0, 0)
    events = engine.events()
    assert [
        type(e) for e in events if isinstance(e, ReservationReleased | ReservationConfirmed)
    ] == [ReservationReleased]
    assert engine.verify() == []


def test_placing_an_order_held_again_meanwhile_confirms_the_new_holds_once(store: Store) -> None:
    clock = ManualClock(START)
    engine = _engine(store, clock)
    engine.receive(WAREHOUSE, "lamp", 5)
    (old,) = engine.hold_order(ORDER).reservation_ids
    renewed: list[str] = []

    def hold_again(inner: Store) -> None:
        renewed.extend(_engine(inner, clock).hold_order(ORDER).reservation_ids)

    interloper = _Interloper(store, "update_order", hold_again)
    placed = _engine(interloper, clock).place_order(ORDER)
    assert interloper.conflicts == 1
    (new,) = renewed
    assert placed.reservation_ids == (new,)  # the new holds replaced the old one
    assert engine.reservation(old).state is ReservationState.RELEASED
    assert engine.reservation(new).state is ReservationState.CONFIRMED
    assert engine.order(ORDER.id).line("1").sourced == {WAREHOUSE: 2}
    lamp = engine.position(WAREHOUSE, "lamp")
    assert (lamp.reserved, lamp.committed) == (0, 2)
    (event,) = [e for e in engine.events() if isinstance(e, OrderPlaced)]
    assert event.reservation_ids == (new,)
    assert engine.verify() == []


def test_a_refund_that_loses_to_another_refund_is_refused_and_issued_once(store: Store) -> None:
    clock = ManualClock(START)
    engine = _engine(store, clock)
    engine.receive(WAREHOUSE, "lamp", 2)
    for rid in engine.place_order(ORDER).reservation_ids:
        engine.ship(rid)
    rma = engine.request_return(ORDER.id, {"1": 2}, at=STORE_2, channel=Channel.STORE).id
    engine.receive_return(rma)
    interloper = _Interloper(
        store, "update_return", lambda inner: _engine(inner, clock).refund_return(rma)
    )
    with pytest.raises(InvalidTransition) as refused:
        _engine(interloper, clock).refund_return(rma)
    assert interloper.conflicts == 1
    assert refused.value.state == ReturnState.CLOSED.name
    (refund,) = [e for e in engine.events() if isinstance(e, RefundIssued)]
    assert (refund.rma_id, refund.amount) == (rma, 2 * PRICE)
    assert engine.return_authorization(rma).state is ReturnState.CLOSED
    assert engine.verify() == []


# -- a key claimed by a command that has not finished ------------------------------------------


class _GatedSolver:
    """The default solver behind a gate: the command calling it stays inside its unit of work
    (its key claimed, nothing else written yet) until the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.gate = threading.Event()
        self._solver = default_solver()

    def solve(self, problem: AllocationProblem) -> AllocationPlan:
        self.inside.set()
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        return self._solver.solve(problem)


class _CountingClock:
    """A manual clock that says when it has been read twice: a command's second attempt."""

    def __init__(self, start: datetime) -> None:
        self._clock = ManualClock(start)
        self.reads = 0
        self.second_attempt = threading.Event()

    def now(self) -> datetime:
        self.reads += 1
        if self.reads >= 2:
            self.second_attempt.set()
        return self._clock.now()


class _Run(threading.Thread):
    """A command in a thread of its own, keeping its result or its error."""

    def __init__(self, command: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._command = command
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._command()
        except BaseException as error:  # handed to the test thread
            self.error = error


@pytest.fixture
def visible_claims(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A store that shows a claimed key to everyone before the claiming command ends: SQLite
    without transactions (the kill loop's control store). omniorder's own stores make a second
    claimant wait for the first to commit, so only such a store meets an unfinished key."""
    made = SQLiteStore(tmp_path / "shop.sqlite3", _transactions=False)
    Engine(sample_network(), store=made, clock=ManualClock(START)).receive(WAREHOUSE, "lamp", 5)
    yield made
    made.close()


def test_a_key_replayed_while_its_first_run_is_unfinished_is_a_conflict_and_then_the_first_result(
    visible_claims: SQLiteStore,
) -> None:
    gated = _GatedSolver()
    clock = ManualClock(START)
    first = Engine(sample_network(), store=visible_claims, clock=clock, solver=gated)
    running = _Run(lambda: first.place_order(ORDER, key="pay-1"))
    running.start()
    try:
        assert gated.inside.wait(timeout=60)
        impatient = _engine(visible_claims, clock, retries=0)
        with pytest.raises(ConcurrencyConflict, match="has not finished"):
            impatient.place_order(ORDER, key="pay-1")
        patient_clock = _CountingClock(START)
        patient = Engine(sample_network(), store=visible_claims, clock=patient_clock, retries=1000)
        waiting = _Run(lambda: patient.place_order(ORDER, key="pay-1"))
        waiting.start()
        assert patient_clock.second_attempt.wait(timeout=60)  # it met the claim and retried
    finally:
        gated.gate.set()
        running.join(timeout=60)
    waiting.join(timeout=60)
    assert (running.error, waiting.error) == (None, None)
    assert waiting.result == running.result
    assert impatient.place_order(ORDER, key="pay-1") == running.result
    assert impatient.order(ORDER.id).status is OrderStatus.PLACED
    assert len([e for e in impatient.events() if isinstance(e, OrderPlaced)]) == 1
    assert impatient.position(WAREHOUSE, "lamp").committed == 2
    assert impatient.verify() == []
