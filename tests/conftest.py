"""Shared fixtures and the Hypothesis profiles.

Profiles: ``dev`` (fast, the default on a workstation), ``ci`` (a child of Hypothesis's built-in
``ci`` profile: derandomised, no example database; loaded automatically when ``CI`` is set) and
``thorough`` (by hand: ``HYPOTHESIS_PROFILE=thorough pytest``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

from omniorder import Engine, ManualClock, Network
from omniorder.stores.base import Store
from tests.factories import STORE_KINDS, make_store, sample_network

settings.register_profile(
    "dev", max_examples=25, stateful_step_count=20, deadline=None, print_blob=True
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    stateful_step_count=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at 2026-11-25 09:00 UTC."""
    return ManualClock(START)


@pytest.fixture
def network() -> Network:
    """Two stores and a warehouse (see tests.factories.sample_network)."""
    return sample_network()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Each store adapter in turn."""
    made = make_store(request.param)
    yield made
    made.close()


@pytest.fixture
def engine(network: Network, store: Store, clock: ManualClock) -> Engine:
    """An engine over the sample network, on each store adapter, with a manual clock."""
    counter = iter(range(1, 10**9))
    return Engine(network, store=store, clock=clock, ids=lambda p: f"{p}-{next(counter)}")
