"""Promises 4 and 10: a failure or a kill -9 at any store call leaves the state before or after.

The same scenario is prepared twice: on one store the command runs cleanly (the "after"
snapshot); on the other it is run again and again, failing (or killing its own process) at store
call 1, 2, 3, ... until it gets through. Every time, the store must equal "before" or "after".

The commands are :func:`state_changing_commands`, read from :class:`~omniorder.Engine` itself
(every public method that takes ``key=``); each must have a case in :data:`COMMANDS`, so a new
command without one fails the suite by name instead of going untested.

The scenario (:func:`prepare`, :data:`COMMANDS`, :func:`scenario_engine`) is shared with the
idempotency and port contracts.
"""

from __future__ import annotations

import inspect
import itertools
import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.order import Fulfilment, Order, OrderLine, Pickup, Ship, ShipToStore
from omniorder.model.policy import Policy
from omniorder.model.returns import Condition, Disposition, Inspection, ReturnPolicy
from omniorder.model.values import Channel, Geo, Mode
from omniorder.stores.base import Store
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.faults import FaultyStore, InjectedFault
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE, sample_network
from omniorder.testing.snapshot import Snapshot, take_snapshot

__all__ = [
    "CART",
    "COMMANDS",
    "MIXED",
    "POLICY",
    "WHEN",
    "AtomicityContract",
    "DurabilityContract",
    "command_case",
    "prepare",
    "scenario_engine",
    "state_changing_commands",
]

Ids = dict[str, str]
Command = Callable[[Engine, Ids], object]

WHEN = START + timedelta(minutes=2)
"""When the command under test runs: one hold of the scenario has just expired."""

POLICY = Policy(returns=ReturnPolicy(manual_review=True, hub=STORE_1))
"""The scenario's policy: returns wait for a reviewer, and TRANSFER units go to Camden."""

_PRICE = Decimal("25.00")
_LEEDS = Geo(53.80, -1.55)


def state_changing_commands() -> list[str]:
    """Every state-changing command of :class:`~omniorder.Engine`: its public methods that
    take ``key=``, by name."""
    return sorted(
        name
        for name, method in inspect.getmembers(Engine, inspect.isfunction)
        if not name.startswith("_") and "key" in inspect.signature(method).parameters
    )


def _order(order_id: str, channel: Channel, *lines: tuple[str, int, Fulfilment]) -> Order:
    return Order(
        order_id,
        channel,
        [
            OrderLine(str(n), sku, units, _PRICE, where)
            for n, (sku, units, where) in enumerate(lines, start=1)
        ],
    )


CART = _order("o-cart", Channel.WEB, ("vase", 1, Ship(_LEEDS)), ("lamp", 1, Pickup(STORE_1)))
"""A checkout held for an hour (``hold_order`` holds it again)."""
MIXED = _order("o-mixed", Channel.APP, ("vase", 1, Ship(_LEEDS)), ("rug", 1, Pickup(STORE_1)))
"""A checkout whose pickup hold was released (``place_order`` confirms one hold, re-sources
the other line)."""


def prepare(store: Store) -> Ids:
    """Stock, a reservation in every live state, held, placed, in-transit and returned orders,
    and a return authorisation in every open state, made the same way on any store."""
    counter = itertools.count(1)
    engine = Engine(
        sample_network(),
        store=store,
        clock=ManualClock(START),
        policy=POLICY,
        ids=lambda p: f"{p}-{next(counter)}",
    )
    engine.receive(STORE_1, "lamp", 10)
    engine.receive(STORE_1, "rug", 5)
    engine.receive(STORE_2, "lamp", 5)
    held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=timedelta(hours=1))
    pickup = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.APP)
    engine.confirm(pickup.id)
    ready = engine.reserve(STORE_1, {"lamp": 2, "rug": 1}, channel=Channel.WEB)
    engine.confirm(ready.id)
    engine.mark_ready(ready.id)
    parcel = engine.reserve(STORE_2, {"lamp": 1}, channel=Channel.WEB, mode=Mode.SHIP)
    engine.confirm(parcel.id)
    engine.reserve(STORE_1, {"rug": 1}, channel=Channel.WEB, ttl=timedelta(minutes=1))
    ids = {"held": held.id, "pickup": pickup.id, "ready": ready.id, "parcel": parcel.id}
    # Orders: vases at both shipping locations, so a short-picked one can come from the other.
    engine.receive(STORE_2, "vase", 4)
    engine.receive(WAREHOUSE, "vase", 4)
    (ids["placed"],) = engine.place_order(
        _order("o-placed", Channel.WEB, ("vase", 2, Ship(_LEEDS)))
    ).reservation_ids
    engine.hold_order(CART, ttl=timedelta(hours=1))
    for rid in engine.hold_order(MIXED, ttl=timedelta(hours=1)).reservation_ids:
        if engine.reservation(rid).location == STORE_1:
            engine.release(rid, reason="changed the pickup")
    engine.receive(WAREHOUSE, "chair", 2)
    (ids["transfer"],) = engine.place_order(
        _order("o-sts", Channel.WEB, ("chair", 1, ShipToStore(STORE_1)))
    ).reservation_ids
    engine.ship(ids["transfer"])
    # Returns: six clocks delivered; five of them in three return authorisations.
    engine.receive(WAREHOUSE, "clock", 6)
    for rid in engine.place_order(
        _order("o-done", Channel.WEB, ("clock", 6, Ship(_LEEDS)))
    ).reservation_ids:
        engine.ship(rid)
    ids["requested"] = engine.request_return(
        "o-done", {"1": 1}, at=STORE_1, channel=Channel.STORE
    ).id
    ids["authorized"] = engine.request_return(
        "o-done", {"1": 2}, at=STORE_2, channel=Channel.WEB
    ).id
    engine.authorize_return(ids["authorized"])
    ids["received"] = engine.request_return(
        "o-done", {"1": 2}, at=STORE_2, channel=Channel.STORE
    ).id
    engine.authorize_return(ids["received"])
    engine.receive_return(
        ids["received"],
        {
            "1": [
                Inspection(Condition.DAMAGED, 1),
                Inspection(Condition.SELLABLE, 1, Disposition.TRANSFER),
            ]
        },
    )
    return ids


COMMANDS: dict[str, Command] = {
    "receive": lambda e, _: e.receive(STORE_1, "lamp", 2, key="k"),
    "adjust": lambda e, _: e.adjust(STORE_1, "lamp", delta=-1, reason="broken", key="k"),
    "set_safety_stock": lambda e, _: e.set_safety_stock(STORE_1, "lamp", 1, key="k"),
    "sell": lambda e, _: e.sell(STORE_1, {"lamp": 1, "rug": 1}, key="k"),
    "reserve": lambda e, _: e.reserve(STORE_1, {"lamp": 1, "rug": 1}, channel=Channel.WEB, key="k"),
    "extend": lambda e, ids: e.extend(ids["held"], timedelta(minutes=30), key="k"),
    "confirm": lambda e, ids: e.confirm(ids["held"], key="k"),
    "mark_ready": lambda e, ids: e.mark_ready(ids["pickup"], key="k"),
    "collect": lambda e, ids: e.collect(ids["ready"], {"lamp": 1}, key="k"),
    "ship": lambda e, ids: e.ship(ids["parcel"], key="k"),
    "arrive": lambda e, ids: e.arrive(ids["transfer"], key="k"),
    "release": lambda e, ids: e.release(ids["held"], reason="cancelled", key="k"),
    "expire_due": lambda e, _: e.expire_due(key="k"),
    "hold_order": lambda e, _: e.hold_order(CART, ttl=timedelta(minutes=30), key="k"),
    "place_order": lambda e, _: e.place_order(MIXED, key="k"),
    "reject": lambda e, ids: e.reject(ids["placed"], {"vase": 1}, reason="chipped", key="k"),
    "request_return": lambda e, _: e.request_return(
        "o-done", {"1": 1}, at=STORE_2, channel=Channel.APP, key="k"
    ),
    "authorize_return": lambda e, ids: e.authorize_return(ids["requested"], key="k"),
    "reject_return": lambda e, ids: e.reject_return(ids["requested"], "worn", key="k"),
    "receive_return": lambda e, ids: e.receive_return(
        ids["authorized"],
        {
            "1": [
                Inspection(Condition.SELLABLE, 1),
                Inspection(Condition.DAMAGED, 1, Disposition.TRANSFER),
            ]
        },
        key="k",
    ),
    "refund_return": lambda e, ids: e.refund_return(ids["received"], key="k"),
    "arrive_return": lambda e, ids: e.arrive_return(ids["received"], key="k"),
    "resolve_quarantine": lambda e, _: e.resolve_quarantine(
        STORE_2, "clock", 1, disposition=Disposition.RESTOCK, reason="fine", key="k"
    ),
}
"""Every state-changing command, keyed with ``"k"``, aimed at the prepared scenario."""


def command_case(command: str) -> Command:
    """The case of ``command`` in :data:`COMMANDS`; fails the test, naming it, when it has none."""
    case = COMMANDS.get(command)
    if case is None:
        pytest.fail(
            f"Engine.{command} changes state (it takes key=) but has no case in "
            "omniorder.testing.contracts.atomicity.COMMANDS: add one aimed at prepare()'s scenario"
        )
    return case


def scenario_engine(store: Store, clock: ManualClock | None = None, *, retries: int = 0) -> Engine:
    """An engine over a prepared ``store`` at :data:`WHEN`, whose new ids are the same on
    every run (``res-under-test-1``, ...)."""
    counter = itertools.count(1)
    return Engine(
        sample_network(),
        store=store,
        clock=clock or ManualClock(WHEN),
        policy=POLICY,
        ids=lambda p: f"{p}-under-test-{next(counter)}",
        retries=retries,
    )


class _Scenario(ContractBase):
    def _before_and_after(self, command: str) -> tuple[Store, Ids, Snapshot, Snapshot]:
        """A prepared store for the test, and the snapshots before and after ``command``."""
        case = command_case(command)
        reference = self.make_store()
        try:
            ids = prepare(reference)
            case(scenario_engine(reference), ids)
            after = take_snapshot(reference).renumbered()
        finally:
            self.dispose(reference)
        store = self.make_store()
        prepared = prepare(store)
        assert prepared == ids
        before = take_snapshot(store).renumbered()
        assert before != after, f"{command} changed nothing in the scenario: aim it better"
        return store, ids, before, after


class AtomicityContract(_Scenario):
    """Promise 4: a store failure at any call leaves the state before or after the command."""

    def test_every_fault_case_names_a_command_of_the_engine(self) -> None:
        assert sorted(set(COMMANDS) - set(state_changing_commands())) == []

    @pytest.mark.parametrize("command", state_changing_commands())
    def test_a_failure_at_any_store_call_leaves_the_state_before_or_after(
        self, command: str
    ) -> None:
        store, ids, before, after = self._before_and_after(command)
        try:
            for call in itertools.count(1):
                faulty = FaultyStore(store, at=call)
                try:
                    COMMANDS[command](scenario_engine(faulty), ids)  # type: ignore[arg-type]
                except InjectedFault:
                    now = take_snapshot(store).renumbered()
                    assert now in (before, after), (
                        f"{command} failed at call {call} ({faulty.calls[-1]}) and left "
                        f"{before.differences(now)} half done"
                    )
                    if now == after:  # failed after its commit: the outcome-unknown case
                        assert faulty.calls[-1] == "committed"
                        break
                    continue
                assert not faulty.fired
                assert take_snapshot(store).renumbered() == after
                break
        finally:
            self.dispose(store)


class DurabilityContract(_Scenario):
    """Promise 10: a process killed at any store call loses no commit, half-applies nothing.

    Durable adapters only (``durable = True``, with :meth:`reopen`). The command runs in a
    forked child that SIGKILLs itself at store call 1, 2, 3, ...; the parent then reopens the
    store and finds it exactly before or exactly after the command.
    """

    @pytest.mark.parametrize("command", state_changing_commands())
    def test_a_process_killed_at_any_store_call_leaves_the_state_before_or_after(
        self, command: str
    ) -> None:
        if not self.durable:
            pytest.skip("the store keeps nothing beyond its process")
        if "fork" not in multiprocessing.get_all_start_methods():
            pytest.skip("needs fork()")
        store, ids, before, after = self._before_and_after(command)
        try:
            for call in itertools.count(1):
                code = self._run_in_child(store, ids, command, call)
                seen = self.reopen(store)
                try:
                    now = take_snapshot(seen).renumbered()
                finally:
                    seen.close()
                if code == -signal.SIGKILL:
                    assert now in (before, after), (
                        f"{command} killed at call {call} left {before.differences(now)} half done"
                    )
                    if now == after:
                        break
                    continue
                assert code == 0, f"the child failed with {code}"
                assert now == after
                break
        finally:
            self.dispose(store)

    def _run_in_child(self, store: Store, ids: Ids, command: str, call: int) -> int | None:
        def child() -> None:
            mine = self.reopen(store)  # never use the parent's connections
            faulty = FaultyStore(mine, at=call, kill=True)
            COMMANDS[command](scenario_engine(faulty), ids)  # type: ignore[arg-type]
            mine.close()
            os._exit(0)

        with warnings.catch_warnings():
            # Forking a process that runs threads is exactly what is tested: the child opens
            # its own connections and touches nothing it inherited.
            warnings.simplefilter("ignore", DeprecationWarning)
            process = multiprocessing.get_context("fork").Process(target=child)
            process.start()
        process.join(timeout=120)
        return process.exitcode
