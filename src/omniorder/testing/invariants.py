"""DESIGN §5 promises 1-7 as invariant functions, shared by the stateful machine and @given tests.

Each function checks one promise against a live engine (and its store) and raises AssertionError
with a readable message when the promise is broken. Promises 4 (atomicity) and 5 (idempotency)
are about commands rather than states: :func:`unchanged` and :func:`replayed` check them around a
command.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from omniorder import Channel, Engine, ReservationState
from omniorder.model import EFFECTS, LIVE_STATES, REMOTE_CHANNELS, RESERVATION_TABLE
from omniorder.model.events import RefundIssued
from omniorder.model.order import OrderLine
from omniorder.model.returns import RETURN_TABLE, ReturnAuthorization, ReturnState
from omniorder.testing import Snapshot, take_snapshot

T = TypeVar("T")


def promise_1_no_oversell(engine: Engine) -> None:
    """Promise 1, no oversell: 0 <= reserved + committed <= on_hand for every stored position."""
    snap = take_snapshot(engine.store)
    for p in snap.positions:
        assert min(p.on_hand, p.reserved, p.committed, p.safety_stock) >= 0, p
        assert p.reserved + p.committed <= p.on_hand, f"oversold: {p}"


def promise_2_conservation(engine: Engine) -> None:
    """Promise 2, conservation: the ledger replays to every position, reserved and committed are
    the sums over live reservations, and verify() is empty."""
    snap = take_snapshot(engine.store)
    replayed: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 6)
    for m in snap.ledger:
        counters = replayed[(m.location, m.sku)]
        for i, sign in enumerate(EFFECTS[m.kind]):
            counters[i] += sign * m.quantity
    held: dict[tuple[str, str], int] = defaultdict(int)
    committed: dict[tuple[str, str], int] = defaultdict(int)
    inbound: dict[tuple[str, str], int] = defaultdict(int)
    for r in snap.reservations:
        if r.state is ReservationState.IN_TRANSIT:
            assert r.destination is not None
            for line in r.lines:
                inbound[(r.destination, line.sku)] += line.quantity - line.fulfilled - line.released
            continue
        if r.state is ReservationState.HELD:
            bucket = held
        elif r.state in (ReservationState.CONFIRMED, ReservationState.READY):
            bucket = committed
        else:
            continue
        for line in r.lines:
            bucket[(r.location, line.sku)] += line.quantity - line.fulfilled - line.released
    for p in snap.positions:
        key = (p.location, p.sku)
        assert list(p.counters()) == replayed[key], f"ledger disagrees with {p}"
        assert p.reserved == held[key], f"{p} but live holds sum to {held[key]}"
        assert p.committed == committed[key], f"{p} but commitments sum to {committed[key]}"
        assert p.inbound == inbound[key], f"{p} but transfers carry {inbound[key]}"
    assert [m.seq for m in snap.ledger] == list(range(1, len(snap.ledger) + 1))
    assert [e.seq for e in snap.events] == list(range(1, len(snap.events) + 1))
    assert engine.verify() == []


def promise_3_one_truth(engine: Engine, skus: list[str]) -> None:
    """Promise 3, one truth: channels with the same policy see the same availability, and the
    store's own channel differs from the remote ones by exactly the safety stock."""
    for sku in skus:
        seen = {c: engine.availability_by_location(sku, channel=c) for c in Channel}
        for location in engine.network.locations:
            p = engine.position(location.id, sku)
            remote = {seen[c][location.id] for c in REMOTE_CHANNELS}
            assert remote == {max(0, p.free - p.safety_stock)}, (
                f"remote channels see {remote} of {sku} at {location.id}: {p}"
            )
            assert seen[Channel.STORE][location.id] == max(0, p.free)
        assert engine.availability(sku, channel=Channel.WEB) == sum(seen[Channel.WEB].values())


def promise_6_exact_expiry(engine: Engine, skus: list[str]) -> None:
    """Promise 6, exact expiry: no hold at or past its expiry counts against availability."""
    now = engine.clock.now()
    snap = take_snapshot(engine.store)
    live: dict[tuple[str, str], int] = defaultdict(int)
    for r in snap.reservations:
        lapsed = (
            r.state is ReservationState.HELD and r.expires_at is not None and r.expires_at <= now
        )
        if r.state is ReservationState.HELD:
            expected = ReservationState.EXPIRED if lapsed else r.state
            assert engine.reservation(r.id).state is expected, f"{r.id} seen wrongly at {now}"
        if r.state in LIVE_STATES and not lapsed:
            for line in r.lines:
                live[(r.location, line.sku)] += line.quantity - line.fulfilled - line.released
    for p in snap.positions:
        if p.sku in skus:
            seen = engine.position(p.location, p.sku)
            assert seen.reserved + seen.committed == live[(p.location, p.sku)], (
                f"{seen} counts an expired hold"
            )


def promise_7_legal_states(engine: Engine) -> None:
    """Promise 7, legal transitions only: every reservation is in a state of the table, terminal
    ones hold nothing, and per-line quantities add up."""
    for r in take_snapshot(engine.store).reservations:
        assert r.state in set(RESERVATION_TABLE.states)
        for line in r.lines:
            assert 0 <= line.fulfilled <= line.quantity
            assert 0 <= line.released <= line.quantity - line.fulfilled
            if r.state in RESERVATION_TABLE.terminal:
                assert line.fulfilled + line.released == line.quantity, r
            else:  # only a short pick (reject) releases units of a live reservation
                assert line.fulfilled == 0, r


def promise_8_returns(engine: Engine) -> None:
    """Promise 8, returns: per order line, units under return authorisations (all but rejected
    ones) never exceed the units fulfilled, refunds never exceed what was paid for them, and
    each authorisation's refund is issued once, for the amount it computed."""
    snapshot = take_snapshot(engine.store)
    issued: dict[str, list[RefundIssued]] = defaultdict(list)
    for event in snapshot.events:
        if isinstance(event, RefundIssued):
            issued[event.rma_id].append(event)
    by_order: dict[str, list[ReturnAuthorization]] = defaultdict(list)
    for rma in snapshot.returns:
        assert rma.state in set(RETURN_TABLE.states)
        by_order[rma.order_id].append(rma)
        refunds = issued.get(rma.id, [])
        if rma.state is ReturnState.CLOSED:
            assert [e.amount for e in refunds] == [rma.refund_total], rma
        else:
            assert refunds == [], rma
        for returned in rma.lines:
            assert sum(r.quantity for r in returned.received) in (0, returned.quantity), rma
    for order_id, rmas in by_order.items():
        view = engine.order(order_id)
        for line in view.lines:
            price = next(
                x.unit_price for x in _order_lines(snapshot, order_id) if x.id == line.line_id
            )
            covered = sum(
                x.quantity
                for rma in rmas
                if rma.counts
                for x in rma.lines
                if x.line_id == line.line_id
            )
            refunded = sum(x.refund for rma in rmas for x in rma.lines if x.line_id == line.line_id)
            assert covered <= line.fulfilled, (order_id, line)
            assert refunded <= price * line.fulfilled, (order_id, line)


def _order_lines(snapshot: Snapshot, order_id: str) -> tuple[OrderLine, ...]:
    """The lines of a stored order."""
    return next(r.order.lines for r in snapshot.orders if r.id == order_id)


def unchanged(engine: Engine, before: Snapshot) -> None:
    """Promise 4, atomicity: the store is exactly as it was before a command that raised."""
    after = take_snapshot(engine.store)
    assert after == before, f"a failed command changed: {before.differences(after)}"


def replayed(engine: Engine, again: Callable[[], T], first: T) -> None:
    """Promise 5, idempotency: repeating a keyed command returns the first result, applies
    nothing."""
    before = take_snapshot(engine.store)
    assert again() == first
    unchanged(engine, before)


def all_state_promises(engine: Engine, skus: list[str]) -> None:
    """Every promise that is a property of a state (1, 2, 3, 6, 7, 8)."""
    promise_1_no_oversell(engine)
    promise_2_conservation(engine)
    promise_3_one_truth(engine, skus)
    promise_6_exact_expiry(engine, skus)
    promise_7_legal_states(engine)
    promise_8_returns(engine)
