"""Promise 5: a keyed command is applied once; the key remembers the first result."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from types import MappingProxyType
from typing import cast

import pytest

from omniorder import (
    Channel,
    Engine,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    ManualClock,
)
from omniorder.stores.base import Store
from omniorder.testing import invariants, take_snapshot
from omniorder.testing.contracts.atomicity import (
    WHEN,
    command_case,
    prepare,
    scenario_engine,
    state_changing_commands,
)
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1


class _EveryDefaultNamed:
    """An engine whose every call names every argument, each default included."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Callable[..., object]:
        method = getattr(self._engine, name)
        signature = inspect.signature(method)

        def call(*args: object, **kwargs: object) -> object:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return method(*bound.args, **bound.kwargs)

        return call


def _applied_once(store: Store, command: str, again: Callable[[Engine], Engine]) -> None:
    """Run ``command``'s case on the prepared ``store``, then a minute later on ``again`` of
    the engine: the first result comes back and nothing moves, not even a row's time of last
    change."""
    case = command_case(command)
    ids = prepare(store)
    clock = ManualClock(WHEN)
    engine = scenario_engine(store, clock)
    first = case(engine, ids)
    clock.advance(timedelta(minutes=1))
    invariants.replayed(engine, lambda: case(again(engine), ids), first)
    assert engine.verify() == []


class IdempotencyContract(ContractBase):
    """Promise 5: keyed commands apply once."""

    def test_a_repeated_hold_returns_the_first_reservation_and_holds_nothing_more(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_1, "lamp", 2)
        first = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, key="cart-42")
        clock.advance(timedelta(minutes=1))
        invariants.replayed(
            engine,
            lambda: engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, key="cart-42"),
            first,
        )
        assert engine.position(STORE_1, "lamp").reserved == 1

    def test_the_replay_returns_the_first_result_even_after_later_changes(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "lamp", 2)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        confirmed = engine.confirm(held.id, key="pay-1")
        engine.release(held.id)
        assert engine.confirm(held.id, key="pay-1") == confirmed

    def test_the_same_key_with_another_request_conflicts_and_names_the_difference(
        self,
        engine: Engine,
    ) -> None:
        engine.receive(STORE_1, "lamp", 5)
        engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, key="cart-42")
        before = take_snapshot(engine.store)
        with pytest.raises(IdempotencyConflict) as raised:
            engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.APP, key="cart-42")
        assert raised.value.differences == ("channel", "lines")
        assert take_snapshot(engine.store) == before

    def test_the_same_key_for_another_command_conflicts(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 5, key="k")
        with pytest.raises(IdempotencyConflict, match="first used for receive"):
            engine.sell(STORE_1, {"lamp": 1}, key="k")

    def test_a_failed_command_does_not_keep_its_key(self, engine: Engine) -> None:
        with pytest.raises(InsufficientStock):
            engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, key="cart-7")
        assert take_snapshot(engine.store).keys == ()
        engine.receive(STORE_1, "lamp", 1)
        assert engine.reserve(
            STORE_1, {"lamp": 1}, channel=Channel.WEB, key="cart-7"
        ).quantities == {"lamp": 1}

    def test_bad_input_is_never_stored_under_a_key(self, engine: Engine) -> None:
        with pytest.raises(InvalidInput):
            engine.receive(STORE_1, "lamp", 0, key="k")
        assert engine.receive(STORE_1, "lamp", 1, key="k").on_hand == 1

    @pytest.mark.parametrize("key", ["", " ", "k\x00", "x" * 201, 42, b"k"])
    def test_a_malformed_key_is_refused(self, engine: Engine, key: object) -> None:
        with pytest.raises(InvalidInput):
            engine.receive(STORE_1, "lamp", 1, key=key)  # type: ignore[arg-type]
        assert take_snapshot(engine.store).ledger == ()

    @pytest.mark.parametrize("command", state_changing_commands())
    def test_each_state_changing_command_applies_once_under_its_key(
        self, store: Store, command: str
    ) -> None:
        """Every command the engine has (read from the Engine itself), replayed a minute later:
        the first result comes back and nothing moves, not even a row's time of last change."""
        _applied_once(store, command, lambda engine: engine)

    @pytest.mark.parametrize("command", state_changing_commands())
    def test_a_retry_that_names_every_default_replays_the_call_that_left_them_out(
        self, store: Store, command: str
    ) -> None:
        """A default is no part of the request: naming it changes nothing a key is bound to."""
        _applied_once(store, command, lambda engine: cast("Engine", _EveryDefaultNamed(engine)))

    def test_a_retry_may_name_the_channel_by_its_value_and_give_the_lines_as_any_mapping(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_1, "lamp", 2)
        engine.receive(STORE_1, "rug", 2)
        lines = {"lamp": 1, "rug": 1}
        first = engine.reserve(STORE_1, lines, channel=Channel.WEB, key="cart-42")
        clock.advance(timedelta(minutes=1))
        invariants.replayed(
            engine,
            lambda: engine.reserve(
                STORE_1,
                MappingProxyType({"rug": 1, "lamp": 1}),
                channel="web",  # type: ignore[arg-type]  # a JSON client sends the value
                key="cart-42",
            ),
            first,
        )

    def test_the_same_key_with_an_optional_argument_added_conflicts_and_names_it(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "lamp", 2)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB)
        engine.release(held.id, key="undo")
        before = take_snapshot(engine.store)
        with pytest.raises(IdempotencyConflict) as raised:
            engine.release(held.id, reason="changed my mind", key="undo")
        assert raised.value.differences == ("reason",)
        assert take_snapshot(engine.store) == before
