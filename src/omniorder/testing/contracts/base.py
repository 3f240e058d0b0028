"""The hooks an adapter provides to the contract suite, and the fixtures built on them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from omniorder.allocation.protocol import Solver
from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.network import Network
from omniorder.model.policy import Policy
from omniorder.stores.base import Store
from omniorder.testing.network import START, sample_network

__all__ = ["ContractBase", "Tamper"]


class Tamper:
    """Corrupts a store behind the engine's back, to prove ``verify()`` notices.

    An adapter that can be tampered with returns one from :meth:`ContractBase.tamper`.
    """

    def set_counter(self, location: str, sku: str, counter: str, value: int) -> bool:
        """Overwrite one counter of one position.

        Returns:
            False when the store's own constraints refused the corruption (a database CHECK
            that keeps counters non-negative and never above on hand), else True.
        """
        raise NotImplementedError

    def drop_movement(self, seq: int) -> None:
        """Delete one ledger row."""
        raise NotImplementedError

    def garble_movement(self, seq: int) -> None:
        """Give one ledger row a kind no omniorder release writes (a damaged row)."""
        raise NotImplementedError

    def garble_event(self, seq: int) -> None:
        """Replace one event's stored body with one that is not an event (a damaged row)."""
        raise NotImplementedError


class ContractBase:
    """What every contract class needs: a store to test, and the fixtures made from it.

    Subclass :class:`~omniorder.testing.contracts.StoreContract` and implement
    :meth:`make_store`; implement the other hooks where your store can.
    """

    durable: bool = False
    """Whether committed data outlives the store object (then :meth:`reopen` must work)."""

    def make_store(self) -> Store:
        """A new, empty store."""
        raise NotImplementedError

    def dispose(self, store: Store) -> None:
        """Close ``store`` and delete whatever it keeps."""
        store.close()

    def reopen(self, store: Store) -> Store:
        """A new store object over the same data as ``store`` (durable stores only)."""
        raise NotImplementedError

    def tamper(self, store: Store) -> Tamper | None:
        """A way to corrupt ``store``, or None if the adapter offers none (tests skip)."""
        return None

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """A new store for one test, disposed of afterwards."""
        made = self.make_store()
        yield made
        self.dispose(made)

    @pytest.fixture
    def clock(self) -> ManualClock:
        """A manual clock at :data:`~omniorder.testing.network.START`."""
        return ManualClock(START)

    @pytest.fixture
    def network(self) -> Network:
        """The sample network."""
        return sample_network()

    @pytest.fixture
    def engine(self, network: Network, store: Store, clock: ManualClock) -> Engine:
        """An engine over the sample network and the store, with readable ids."""
        counter = itertools.count(1)
        return Engine(network, store=store, clock=clock, ids=lambda p: f"{p}-{next(counter)}")

    def engine_on(
        self,
        store: Store,
        clock: ManualClock,
        *,
        network: Network | None = None,
        solver: Solver | None = None,
        policy: Policy | None = None,
    ) -> Engine:
        """Another engine over ``store`` (a second process's view, or another network)."""
        counter = itertools.count(10_000)
        return Engine(
            network or sample_network(),
            store=store,
            clock=clock,
            solver=solver,
            policy=policy,
            ids=lambda p: f"{p}-{next(counter)}",
        )
