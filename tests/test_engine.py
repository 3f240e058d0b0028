"""Building an engine: what it accepts and refuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from omniorder import Engine, InvalidInput, Policy, ReturnPolicy, UnknownLocation
from omniorder.testing.network import STORE_1, sample_network


def test_a_clock_returning_naive_times_is_refused() -> None:
    class Naive:
        def now(self) -> datetime:
            return datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test

    engine = Engine(sample_network(), clock=Naive())
    with pytest.raises(InvalidInput, match="timezone-aware"):
        engine.receive(STORE_1, "lamp", 1)


def test_the_engine_refuses_a_wrong_network_policy_or_clock() -> None:
    with pytest.raises(InvalidInput):
        Engine("network")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Engine(sample_network(), policy={"backorders": True})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Engine(sample_network(), clock="now")  # type: ignore[arg-type]
    assert Engine(sample_network()).policy.backorders is False


def test_a_returns_hub_outside_the_network_is_refused_when_the_engine_is_made() -> None:
    policy = Policy(returns=ReturnPolicy(hub="nowhere"))
    with pytest.raises(UnknownLocation):
        Engine(sample_network(), policy=policy)


@pytest.mark.parametrize("store", ["x", None.__class__, 5])
def test_a_store_that_is_not_a_store_is_refused_when_the_engine_is_made(store: object) -> None:
    with pytest.raises(InvalidInput, match="store must be a Store"):
        Engine(sample_network(), store=store)  # type: ignore[arg-type]


@pytest.mark.parametrize("locations", [None, 5, "camden", {"camden": 1}])
def test_a_network_of_something_else_than_locations_is_refused(locations: object) -> None:
    from omniorder import Network

    with pytest.raises(InvalidInput, match="collection of Location values"):
        Network(locations)  # type: ignore[arg-type]
