"""Promises 4 and 10: a failure or a kill -9 at any store call leaves the state before or after.

The same scenario is prepared twice: on one store the command runs cleanly (the "after"
snapshot); on the other it is run again and again, failing (or killing its own process) at store
call 1, 2, 3, ... until it gets through. Every time, the store must equal "before" or "after".
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable
from datetime import timedelta

import pytest

from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.values import Channel, Mode
from omniorder.stores.base import Store
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.faults import FaultyStore, InjectedFault
from omniorder.testing.network import START, STORE_1, STORE_2, sample_network
from omniorder.testing.snapshot import Snapshot, take_snapshot

__all__ = ["COMMANDS", "AtomicityContract", "DurabilityContract", "prepare"]

Ids = dict[str, str]
Command = Callable[[Engine, Ids], object]

WHEN = START + timedelta(minutes=2)
"""When the command under test runs: one hold of the scenario has just expired."""


def prepare(store: Store) -> Ids:
    """Stock, and a reservation in every live state, made the same way on any store."""
    counter = itertools.count(1)
    engine = Engine(
        sample_network(),
        store=store,
        clock=ManualClock(START),
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
    return {"held": held.id, "pickup": pickup.id, "ready": ready.id, "parcel": parcel.id}


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
    "release": lambda e, ids: e.release(ids["held"], reason="cancelled", key="k"),
    "expire_due": lambda e, _: e.expire_due(key="k"),
}
"""Every state-changing command, keyed, aimed at the prepared scenario."""


def _engine(store: Store) -> Engine:
    return Engine(
        sample_network(),
        store=store,
        clock=ManualClock(WHEN),
        ids=lambda p: f"{p}-under-test",
        retries=0,
    )


class _Scenario(ContractBase):
    def _before_and_after(self, command: str) -> tuple[Store, Ids, Snapshot, Snapshot]:
        """A prepared store for the test, and the snapshots before and after ``command``."""
        reference = self.make_store()
        try:
            ids = prepare(reference)
            COMMANDS[command](_engine(reference), ids)
            after = take_snapshot(reference)
        finally:
            self.dispose(reference)
        store = self.make_store()
        prepared = prepare(store)
        assert prepared == ids
        return store, ids, take_snapshot(store), after


class AtomicityContract(_Scenario):
    """Promise 4: a store failure at any call leaves the state before or after the command."""

    @pytest.mark.parametrize("command", sorted(COMMANDS))
    def test_a_failure_at_any_store_call_leaves_the_state_before_or_after(
        self, command: str
    ) -> None:
        store, ids, before, after = self._before_and_after(command)
        try:
            for call in itertools.count(1):
                faulty = FaultyStore(store, at=call)
                try:
                    COMMANDS[command](_engine(faulty), ids)  # type: ignore[arg-type]
                except InjectedFault:
                    now = take_snapshot(store)
                    assert now in (before, after), (
                        f"{command} failed at call {call} ({faulty.calls[-1]}) and left "
                        f"{before.differences(now)} half done"
                    )
                    if now == after:  # failed after its commit: the outcome-unknown case
                        assert faulty.calls[-1] == "committed"
                        break
                    continue
                assert not faulty.fired
                assert take_snapshot(store) == after
                break
        finally:
            self.dispose(store)


class DurabilityContract(_Scenario):
    """Promise 10: a process killed at any store call loses no commit, half-applies nothing.

    Durable adapters only (``durable = True``, with :meth:`reopen`). The command runs in a
    forked child that SIGKILLs itself at store call 1, 2, 3, ...; the parent then reopens the
    store and finds it exactly before or exactly after the command.
    """

    @pytest.mark.parametrize("command", sorted(COMMANDS))
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
                    now = take_snapshot(seen)
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
            COMMANDS[command](_engine(FaultyStore(mine, at=call, kill=True)), ids)  # type: ignore[arg-type]
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
