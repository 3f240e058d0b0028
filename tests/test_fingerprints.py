"""Idempotency fingerprints: what each keyed command binds its key to, recorded here once.

A key is bound to the command's name and its request: the arguments of the call, less ``ctx``,
``key`` and every argument equal to its declared default, as canonical JSON (through the cattrs
converter, keys sorted), and the sha256 of both. Stores keep them: a change to any of them makes a
retry that spans an upgrade an IdempotencyConflict. So these tests fail first, and a change that
means it updates the table and says so in the changelog.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import cast

import pytest

from omniorder import Engine, IdempotencyConflict, InMemoryStore, ManualClock, Policy
from omniorder.allocation import default_solver
from omniorder.service import fulfilment, holds, orders, returns, stock
from omniorder.service.command import command
from omniorder.service.context import Context
from omniorder.service.work import Work
from omniorder.stores.base import IdempotencyRecord
from omniorder.testing.contracts.atomicity import (
    COMMANDS,
    WHEN,
    prepare,
    scenario_engine,
    state_changing_commands,
)
from omniorder.testing.network import START, sample_network
from omniorder.testing.snapshot import take_snapshot

GOLDEN: dict[str, tuple[str, str]] = {
    "adjust": (
        '{"delta":-1,"location":"store-camden","reason":"broken","sku":"lamp"}',
        "48d95589bb606a427b70037e375098bc4f9791805bf972c40c06908486a87a3a",
    ),
    "arrive": (
        '{"reservation_id":"res-11"}',
        "7af91ee166e52ce74d6b34e9f25a78bc55815cc557cfef8f845e57c7e6d8fac2",
    ),
    "arrive_return": (
        '{"rma_id":"rma-15"}',
        "1e57909fe695676e831fe37951045b3f459198c2b8802da313ad4b2d53c7d8fc",
    ),
    "authorize_return": (
        '{"rma_id":"rma-13"}',
        "e67cb2fc2e35a5107e0e0494e898f9a90387732fb85643ad98ad654d3067e17d",
    ),
    "collect": (
        '{"lines":{"lamp":1},"reservation_id":"res-3"}',
        "4c5bc9317867d3f5512f41de6a012471ea9891b528c606c3cdea23a03ec2ccf5",
    ),
    "confirm": (
        '{"reservation_id":"res-1"}',
        "2421548757cd24074adfa795f9a528642cdc12e246bc57956c8c14093f7cd794",
    ),
    "expire_due": (
        "{}",
        "fe1d568bc4f099391d33c4476d607385cccb89484a0cdb084703de6991f251e7",
    ),
    "extend": (
        '{"reservation_id":"res-1","ttl":1800}',
        "27a698c33d04a646ee7a18aebe9632b7b9bb887f7f42d850e8cd56f98ba93195",
    ),
    "hold_order": (
        (
            '{"order":{"channel":"web","customer":null,"id":"o-cart"'
            ',"lines":[{"fulfilment":{"kind":"ship","to":{"lat":53.8,"lon":-1.55}},"id":"1"'
            ',"quantity":1,"sku":"vase","unit_price":"25.00"}'
            ',{"fulfilment":{"at":"store-camden","kind":"pickup"},"id":"2","quantity":1'
            ',"sku":"lamp","unit_price":"25.00"}]},"ttl":1800}'
        ),
        "4cac877b49e25be38294f47060cce8324a928066740f9a30a8b1210b6e1bec6a",
    ),
    "mark_ready": (
        '{"reservation_id":"res-2"}',
        "7733e9afe151dd297f36f638b4ed7b556071a52565995af003f659420ec2d8ca",
    ),
    "place_order": (
        (
            '{"order":{"channel":"app","customer":null,"id":"o-mixed"'
            ',"lines":[{"fulfilment":{"kind":"ship","to":{"lat":53.8,"lon":-1.55}},"id":"1"'
            ',"quantity":1,"sku":"vase","unit_price":"25.00"}'
            ',{"fulfilment":{"at":"store-camden","kind":"pickup"},"id":"2","quantity":1'
            ',"sku":"rug","unit_price":"25.00"}]}}'
        ),
        "ffcb1c58a4eefb920fd1f2f07821fd19da12e131eac011618fc4732f8012ffc8",
    ),
    "receive": (
        '{"location":"store-camden","quantity":2,"sku":"lamp"}',
        "d54b955ddc407da9fce5490967c616905c3e150c6127e91d7e06d895cf56a1f7",
    ),
    "receive_return": (
        (
            '{"conditions":{"1":[{"condition":"SELLABLE","disposition":null,"quantity":1}'
            ',{"condition":"DAMAGED","disposition":"TRANSFER","quantity":1}]}'
            ',"rma_id":"rma-14"}'
        ),
        "4ec81dec0175c18f9debc27f22f4e92257b354b4669df88ecd30f76855c283c4",
    ),
    "refund_return": (
        '{"rma_id":"rma-15"}',
        "070bea47349b95608d1236d823ddc2068133e25e77ae2b2169c7bf4b05a27005",
    ),
    "reject": (
        '{"lines":{"vase":1},"reason":"chipped","reservation_id":"res-6"}',
        "7b950c5d50debc18267a33c2213afacf61cef0afd34c197b46d4fc315f4744c5",
    ),
    "reject_return": (
        '{"reason":"worn","rma_id":"rma-13"}',
        "aca0538068eff37cf15445ab543a0aa2ccca432c3bfb58c401dc9529e134b2fc",
    ),
    "release": (
        '{"reason":"cancelled","reservation_id":"res-1"}',
        "639412efc7d56b98e217f84921386ff3449413ed06044261bd0ab71e80f6ccdc",
    ),
    "request_return": (
        '{"at":"store-leeds","channel":"app","lines":{"1":1},"order_id":"o-done"}',
        "bb6f65c79f22bf7a1dd37e95eb999c6deb4126bdb2de7cb18e2f255a8dc4504d",
    ),
    "reserve": (
        '{"channel":"web","lines":{"lamp":1,"rug":1},"location":"store-camden"}',
        "a9ee296f14ac573ade5bc483f6bd729bc1499a49d4f28ef89521adde81782a1c",
    ),
    "resolve_quarantine": (
        (
            '{"disposition":"RESTOCK","location":"store-leeds","quantity":1,"reason":"fine"'
            ',"sku":"clock"}'
        ),
        "b4593c3fe2ec2db3c380cbbc03cf0115cdd553debf251952690fe19ebe5866a0",
    ),
    "sell": (
        '{"lines":{"lamp":1,"rug":1},"location":"store-camden"}',
        "04bbac782d04e4d8449dae43534d8530fcd5882e2ff36932998b716e42957a42",
    ),
    "set_safety_stock": (
        '{"location":"store-camden","quantity":1,"sku":"lamp"}',
        "848178da344da70d37519a0c7823cecd9d98d9319ebe02ff3d6d86fb17191081",
    ),
    "ship": (
        '{"reservation_id":"res-4"}',
        "555e97d1ba162ee6dc6f7fe889717e6970b33c7b80f6706c2d69b372cb7acb6b",
    ),
}
"""Each command's call in :data:`~omniorder.testing.contracts.atomicity.COMMANDS` (on the
shared scenario, key ``"k"``): the request body stored under its key, and its fingerprint."""


def _recorded(name: str) -> IdempotencyRecord:
    store = InMemoryStore()
    ids = prepare(store)
    COMMANDS[name](scenario_engine(store, ManualClock(WHEN)), ids)
    (record,) = [r for r in take_snapshot(store).keys if r.key == "k"]
    return record


def test_every_keyed_command_has_a_recorded_fingerprint() -> None:
    assert sorted(GOLDEN) == state_changing_commands()


@pytest.mark.parametrize("name", state_changing_commands())
def test_each_keyed_command_binds_its_key_to_the_recorded_request_and_fingerprint(
    name: str,
) -> None:
    record = _recorded(name)
    assert (record.command, record.request, record.fingerprint) == (name, *GOLDEN[name])


def _service(name: str) -> Callable[..., object]:
    (found,) = [
        getattr(module, name)
        for module in (stock, holds, orders, fulfilment, returns)
        if hasattr(module, name)
    ]
    return cast("Callable[..., object]", found)


def _parameters(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    """Each parameter but the first (``self`` or ``ctx``): name, kind, default."""
    found = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in found]


@pytest.mark.parametrize("name", state_changing_commands())
def test_each_keyed_command_declares_the_engines_parameters_and_defaults(name: str) -> None:
    """So an engine call that leaves a default out and one that names it ask the same."""
    assert _parameters(_service(name)) == _parameters(getattr(Engine, name))


def _context() -> Context:
    return Context(
        network=sample_network(),
        store=InMemoryStore(),
        solver=default_solver(),
        clock=ManualClock(START),
        policy=Policy(),
        new_id=str,
        retries=0,
    )


def test_a_new_optional_parameter_leaves_the_request_of_existing_calls_as_it_was() -> None:
    def release_1() -> Callable[..., int]:
        @command(int)
        def count(ctx: Context, sku: str, *, key: str | None = None) -> Callable[[Work], int]:
            return lambda w: 1

        return count

    def release_2() -> Callable[..., int]:
        @command(int)
        def count(
            ctx: Context, sku: str, *, colour: str = "", key: str | None = None
        ) -> Callable[[Work], int]:
            return lambda w: 2

        return count

    ctx = _context()
    assert release_1()(ctx, "lamp", key="k") == 1
    assert release_2()(ctx, "lamp", key="k") == 1
    assert release_2()(ctx, sku="lamp", colour="", key="k") == 1
    with pytest.raises(IdempotencyConflict) as raised:
        release_2()(ctx, "lamp", colour="red", key="k")
    assert raised.value.differences == ("colour",)
    (record,) = take_snapshot(ctx.store).keys
    assert (record.command, record.request) == ("count", '{"sku":"lamp"}')


def test_a_command_without_a_keyword_key_defaulting_to_none_is_refused_when_declared() -> None:
    def keyless(ctx: Context, sku: str) -> Callable[[Work], int]:
        return lambda w: 1

    def positional(ctx: Context, sku: str, key: str | None = None) -> Callable[[Work], int]:
        return lambda w: 1

    for prepare_ in (keyless, positional):
        with pytest.raises(TypeError, match="key=None"):
            command(int)(prepare_)
