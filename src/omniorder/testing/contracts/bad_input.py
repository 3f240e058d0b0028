"""Bad input anywhere gets a typed error and changes nothing (RELIABILITY.md, "Bad inputs").

Every argument of every command is fed the bad values its kind admits: malformed ids, quantities
that are not positive ints (zero, negative, bool, float, Decimal, numeric strings, NaN, too big),
malformed line mappings, durations out of range, out-of-set enums and malformed keys. Each must
raise InvalidInput (a ValueError) and leave positions, ledger, reservations, events and keys
exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import (
    Channel,
    Condition,
    Disposition,
    Engine,
    Geo,
    Inspection,
    InvalidInput,
    ManualClock,
    Mode,
    Order,
    OrderLine,
    Ship,
)
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import (
    START,
    STORE_1,
    STORE_2,
    WAREHOUSE,
    sample_network,
)

NEAR = Geo(53.8, -1.55)

_printable = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10)

BAD_IDS = st.one_of(
    st.just(""),
    st.text(" \t\n", min_size=1, max_size=5),
    _printable.map(lambda s: f" {s}"),
    _printable.map(lambda s: f"{s}\t"),
    st.tuples(_printable, st.sampled_from("\x00\x07\x1b\n\r\x7f"), _printable).map("".join),
    st.text(st.characters(categories=["L"]), min_size=201, max_size=260),
    st.integers(),
    st.none(),
    st.binary(min_size=1, max_size=5),
    st.floats(),
    st.lists(st.text(), max_size=2),
)

BAD_KEYS = BAD_IDS.filter(lambda v: v is not None)
"""Malformed idempotency keys (None means "no key", which is fine)."""

BAD_QUANTITIES = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**63, max_value=2**70),
    st.booleans(),
    st.floats(),
    st.decimals(allow_nan=True),
    st.integers(min_value=1, max_value=100).map(str),
    st.none(),
)

BAD_LINES = st.one_of(
    st.just({}),
    st.none(),
    st.just("lamp"),
    st.just([("lamp", 1)]),
    st.dictionaries(st.just("lamp"), BAD_QUANTITIES, min_size=1),
    st.dictionaries(
        BAD_IDS.filter(lambda v: isinstance(v, str)), st.just(1), min_size=1, max_size=2
    ),
    st.just({f"sku-{i}": 1 for i in range(101)}),
)

BAD_TTLS = st.one_of(
    st.timedeltas(max_value=timedelta(0)),
    st.timedeltas(min_value=timedelta(days=7, microseconds=1), max_value=timedelta(days=999)),
    st.integers(),
    st.floats(),
    st.just("15m"),
)

BAD_WINDOWS = st.one_of(
    st.timedeltas(max_value=timedelta(0)),
    st.timedeltas(min_value=timedelta(days=30, microseconds=1), max_value=timedelta(days=999)),
    st.integers(min_value=1),
)

BAD_ENUMS = st.one_of(
    st.text(max_size=12).filter(
        lambda s: s not in {c.value for c in Channel} | {m.value for m in Mode}
    ),
    st.integers(),
    st.none(),
)

BAD_TEXT = st.one_of(
    st.integers(), st.none(), st.just("a\x00b"), st.text(min_size=501, max_size=600)
)

Call = Callable[["Populated", Any], object]


def _zero(value: object) -> bool:
    """An int 0, which is a legal count (not a bool, not 0.0)."""
    return type(value) is int and value == 0


# Each slot: one argument of one command, the bad values it is fed, and how it is called.
SLOTS: dict[str, tuple[st.SearchStrategy[Any], Call]] = {
    "receive.location": (BAD_IDS, lambda p, v: p.engine.receive(v, "lamp", 1)),
    "receive.sku": (BAD_IDS, lambda p, v: p.engine.receive(STORE_1, v, 1)),
    "receive.quantity": (BAD_QUANTITIES, lambda p, v: p.engine.receive(STORE_1, "lamp", v)),
    "receive.key": (
        BAD_KEYS,
        lambda p, v: p.engine.receive(STORE_1, "lamp", 1, key=v),
    ),
    "adjust.to": (
        BAD_QUANTITIES.filter(lambda v: not _zero(v) and v is not None),
        lambda p, v: p.engine.adjust(STORE_1, "lamp", to=v, reason="count"),
    ),
    "adjust.delta": (
        st.one_of(
            st.just(0), st.booleans(), st.floats(), st.just("1"), st.integers(min_value=2**63)
        ),
        lambda p, v: p.engine.adjust(STORE_1, "lamp", delta=v, reason="count"),
    ),
    "adjust.reason": (
        st.one_of(BAD_TEXT, st.just(""), st.just("   ")),
        lambda p, v: p.engine.adjust(STORE_1, "lamp", delta=1, reason=v),
    ),
    "adjust.sku": (BAD_IDS, lambda p, v: p.engine.adjust(STORE_1, v, delta=1, reason="count")),
    "set_safety_stock.quantity": (
        BAD_QUANTITIES.filter(lambda v: not _zero(v)),
        lambda p, v: p.engine.set_safety_stock(STORE_1, "lamp", v),
    ),
    "sell.location": (BAD_IDS, lambda p, v: p.engine.sell(v, {"lamp": 1})),
    "sell.lines": (BAD_LINES, lambda p, v: p.engine.sell(STORE_1, v)),
    "sell.channel": (BAD_ENUMS, lambda p, v: p.engine.sell(STORE_1, {"lamp": 1}, channel=v)),
    "reserve.location": (
        BAD_IDS,
        lambda p, v: p.engine.reserve(v, {"lamp": 1}, channel=Channel.WEB),
    ),
    "reserve.lines": (BAD_LINES, lambda p, v: p.engine.reserve(STORE_1, v, channel=Channel.WEB)),
    "reserve.channel": (BAD_ENUMS, lambda p, v: p.engine.reserve(STORE_1, {"lamp": 1}, channel=v)),
    "reserve.ttl": (
        BAD_TTLS,
        lambda p, v: p.engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, ttl=v),
    ),
    "reserve.mode": (
        BAD_ENUMS,
        lambda p, v: p.engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, mode=v),
    ),
    "reserve.order_id": (
        BAD_KEYS,
        lambda p, v: p.engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB, order_id=v),
    ),
    "extend.reservation_id": (BAD_IDS, lambda p, v: p.engine.extend(v, timedelta(minutes=5))),
    "extend.ttl": (BAD_TTLS, lambda p, v: p.engine.extend(p.held, v)),
    "confirm.reservation_id": (BAD_IDS, lambda p, v: p.engine.confirm(v)),
    "mark_ready.pickup_window": (
        BAD_WINDOWS,
        lambda p, v: p.engine.mark_ready(p.confirmed, pickup_window=v),
    ),
    "collect.lines": (
        BAD_LINES.filter(lambda v: v is not None),
        lambda p, v: p.engine.collect(p.ready, v),
    ),
    "collect.more_than_held": (
        st.integers(min_value=3, max_value=10**6),
        lambda p, v: p.engine.collect(p.ready, {"lamp": v}),
    ),
    "ship.reservation_id": (BAD_IDS, lambda p, v: p.engine.ship(v)),
    "release.reason": (BAD_TEXT, lambda p, v: p.engine.release(p.held, reason=v)),
    "release.key": (
        BAD_KEYS,
        lambda p, v: p.engine.release(p.held, key=v),
    ),
    "expire_due.key": (
        BAD_KEYS,
        lambda p, v: p.engine.expire_due(key=v),
    ),
    "position.sku": (BAD_IDS, lambda p, v: p.engine.position(STORE_1, v)),
    "availability.channel": (BAD_ENUMS, lambda p, v: p.engine.availability("lamp", channel=v)),
    "events.after": (
        st.one_of(st.integers(max_value=-1), st.floats(), st.just("1")),
        lambda p, v: p.engine.events(after=v),
    ),
    "collect.at": (BAD_KEYS, lambda p, v: p.engine.collect(p.ready, at=v)),
    "arrive.pickup_window": (BAD_WINDOWS, lambda p, v: p.engine.arrive(p.held, pickup_window=v)),
    "reserve.destination": (
        BAD_KEYS,
        lambda p, v: p.engine.reserve(
            WAREHOUSE, {"lamp": 1}, channel=Channel.WEB, mode=Mode.TRANSFER, destination=v
        ),
    ),
    "pickup_options.lines": (BAD_LINES, lambda p, v: p.engine.pickup_options(v, near=NEAR)),
    "pickup_options.near": (
        st.one_of(st.none(), st.tuples(st.floats(), st.floats()), st.text(max_size=5)),
        lambda p, v: p.engine.pickup_options({"lamp": 1}, near=v),
    ),
    "pickup_options.limit": (
        BAD_QUANTITIES,
        lambda p, v: p.engine.pickup_options({"lamp": 1}, near=NEAR, limit=v),
    ),
    "place_order.order": (
        st.one_of(
            st.none(), st.text(max_size=5), st.integers(), st.dictionaries(st.text(), st.text())
        ),
        lambda p, v: p.engine.place_order(v),
    ),
    "reject.lines": (BAD_LINES, lambda p, v: p.engine.reject(p.confirmed, v, reason="short")),
    "reject.reason": (
        st.one_of(BAD_TEXT, st.just(""), st.just("  ")),
        lambda p, v: p.engine.reject(p.confirmed, {"lamp": 1}, reason=v),
    ),
    "request_return.order_id": (BAD_IDS, lambda p, v: _return(p, order_id=v)),
    "request_return.lines": (BAD_LINES, lambda p, v: _return(p, lines=v)),
    "request_return.line_the_order_lacks": (
        st.sampled_from(["2", "vase", "x-1"]),
        lambda p, v: _return(p, lines={v: 1}),
    ),
    "request_return.at": (BAD_IDS, lambda p, v: _return(p, at=v)),
    "request_return.at_without_returns": (st.just(WAREHOUSE), lambda p, v: _return(p, at=v)),
    "request_return.channel": (BAD_ENUMS, lambda p, v: _return(p, channel=v)),
    "request_return.reason": (BAD_TEXT, lambda p, v: _return(p, reason=v)),
    "request_return.exchange_for": (BAD_KEYS, lambda p, v: _return(p, exchange_for=v)),
    "request_return.key": (BAD_KEYS, lambda p, v: _return(p, key=v)),
    "request_return.exchange_for_itself": (
        st.just("o-r"),
        lambda p, v: _return(p, exchange_for=v),
    ),
    "authorize_return.rma_id": (BAD_IDS, lambda p, v: p.engine.authorize_return(v)),
    "reject_return.reason": (
        st.one_of(BAD_TEXT, st.just(""), st.just("  ")),
        lambda p, v: p.engine.reject_return(p.rma, v),
    ),
    "receive_return.rma_id": (BAD_IDS, lambda p, v: p.engine.receive_return(v)),
    "receive_return.conditions": (
        st.one_of(
            st.integers(),
            st.text(max_size=3),
            st.lists(st.integers(), max_size=2),
            st.sampled_from(
                [
                    {"1": "BROKEN"},
                    {"1": None},
                    {"1": []},
                    {"1": [1]},
                    {"1": "SELLABLE", "9": "SELLABLE"},
                    {"": "SELLABLE"},
                    {1: "SELLABLE"},
                    {"1": Inspection(Condition.SELLABLE, 2)},
                    {"1": [Inspection(Condition.SELLABLE, 1), Inspection(Condition.DAMAGED, 1)]},
                ]
            ),
        ),
        lambda p, v: p.engine.receive_return(p.rma, v),
    ),
    "receive_return.key": (BAD_KEYS, lambda p, v: p.engine.receive_return(p.rma, key=v)),
    "refund_return.rma_id": (BAD_IDS, lambda p, v: p.engine.refund_return(v)),
    "arrive_return.rma_id": (BAD_IDS, lambda p, v: p.engine.arrive_return(v)),
    "resolve_quarantine.location": (
        BAD_IDS,
        lambda p, v: p.engine.resolve_quarantine(v, "lamp", 1, disposition=Disposition.RESTOCK),
    ),
    "resolve_quarantine.sku": (
        BAD_IDS,
        lambda p, v: p.engine.resolve_quarantine(STORE_1, v, 1, disposition=Disposition.RESTOCK),
    ),
    "resolve_quarantine.quantity": (
        BAD_QUANTITIES,
        lambda p, v: p.engine.resolve_quarantine(
            STORE_1, "lamp", v, disposition=Disposition.RESTOCK
        ),
    ),
    "resolve_quarantine.disposition": (
        st.one_of(BAD_ENUMS, st.sampled_from([Disposition.QUARANTINE, Disposition.TRANSFER])),
        lambda p, v: p.engine.resolve_quarantine(STORE_1, "lamp", 1, disposition=v),
    ),
    "resolve_quarantine.reason": (
        BAD_TEXT,
        lambda p, v: p.engine.resolve_quarantine(
            STORE_1, "lamp", 1, disposition=Disposition.RESTOCK, reason=v
        ),
    ),
}


def _return(p: Populated, **changes: Any) -> object:
    """``request_return`` of the populated order, with some arguments replaced."""
    args: dict[str, Any] = {
        "order_id": p.order_id,
        "lines": {"1": 1},
        "at": STORE_1,
        "channel": Channel.STORE,
        **changes,
    }
    return p.engine.request_return(args.pop("order_id"), args.pop("lines"), **args)


@dataclass(frozen=True)
class Populated:
    """An engine with stock, and reservations in each live state to aim commands at."""

    engine: Engine
    held: str
    confirmed: str
    ready: str
    order_id: str
    rma: str


class BadInputContract(ContractBase):
    """Bad input is refused and changes nothing."""

    @pytest.fixture(scope="class")
    @classmethod
    def populated(cls) -> Iterator[Populated]:
        """Stock at two stores, a hold, a confirmed order, a pickup waiting at the counter, and a
        shipped order with one unit authorised for return.

        Shared by the whole class: nothing in it may change, which every test asserts. A
        class-scoped fixture runs once for the class, so it asks a fresh instance for the
        adapter's hooks (pytest builds one per test; test classes take no arguments).
        """
        hooks = cls()
        store = hooks.make_store()
        engine = Engine(sample_network(), store=store, clock=ManualClock(START))
        engine.receive(STORE_1, "lamp", 10)
        engine.receive(STORE_2, "lamp", 3)
        engine.set_safety_stock(STORE_1, "lamp", 1)
        held = engine.reserve(STORE_1, {"lamp": 1}, channel=Channel.WEB).id
        confirmed = engine.confirm(engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.WEB).id)
        ready = engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.WEB).id
        engine.confirm(ready)
        engine.mark_ready(ready)
        engine.receive(STORE_2, "vase", 2)
        line = OrderLine("1", "vase", 2, Decimal("10.00"), Ship(NEAR))
        (shipped,) = engine.place_order(Order("o-r", Channel.WEB, [line])).reservation_ids
        engine.ship(shipped)
        rma = engine.request_return("o-r", {"1": 1}, at=STORE_1, channel=Channel.STORE).id
        yield Populated(engine, held, confirmed.id, ready, "o-r", rma)
        hooks.dispose(store)

    @pytest.mark.parametrize("slot", sorted(SLOTS))
    def test_bad_input_is_refused_with_invalid_input_and_changes_nothing(
        self, populated: Populated, slot: str
    ) -> None:
        values, call = SLOTS[slot]
        before = take_snapshot(populated.engine.store)

        @given(values)
        def check(value: Any) -> None:
            with pytest.raises(InvalidInput) as raised:
                call(populated, value)
            assert str(raised.value)
            assert take_snapshot(populated.engine.store) == before

        check()

    def test_sums_that_would_overflow_are_refused(self, populated: Populated) -> None:
        engine = populated.engine
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidInput):
            engine.receive(STORE_1, "lamp", 2**63 - 5)
        with pytest.raises(InvalidInput):
            engine.adjust(STORE_1, "lamp", delta=2**63 - 5, reason="typo")
        assert take_snapshot(engine.store) == before

    def test_decimal_and_numeric_string_quantities_are_refused(self, populated: Populated) -> None:
        for value in (Decimal(1), "1", 1.0, True):
            with pytest.raises(InvalidInput, match="must be an int"):
                populated.engine.receive(STORE_1, "lamp", value)  # type: ignore[arg-type]
