"""DESIGN §5 promises 1-8 as invariant functions, shared by the stateful machine and @given tests.

Each function checks one promise against a live engine (and its store) and raises AssertionError
with a readable message when the promise is broken. Promises 4 (atomicity) and 5 (idempotency)
are about commands rather than states: :func:`unchanged` and :func:`replayed` check them around a
command.

The checks compute what they compare from the specification, not from the implementation's
formulas: the ledger is replayed with :data:`LEDGER_EFFECTS` (a table written out here, not the
engine's ``EFFECTS``), availability is recomputed from the raw counters of the snapshot and the
holds that lapsed, and refunds are recomputed from the price paid and the policy's fees in whole
cents.

Every state promise takes an optional ``snapshot`` (from :func:`~omniorder.testing.take_snapshot`)
so that a caller checking several promises reads the store once; promises 3 and 6 also take
the readings a caller already made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final, TypeVar

from omniorder import Channel, Condition, Engine, Mode, ReservationState
from omniorder.model.audit import audit
from omniorder.model.events import RefundIssued
from omniorder.model.order import OrderLine, Sourcing
from omniorder.model.position import MovementKind, Position
from omniorder.model.reservation import OPEN_STATES, RESERVATION_TABLE, Reservation
from omniorder.model.returns import RETURN_TABLE, ReturnAuthorization, ReturnState
from omniorder.testing import Snapshot, take_snapshot

__all__ = [
    "LEDGER_EFFECTS",
    "REMOTE",
    "Availability",
    "all_state_promises",
    "promise_1_no_oversell",
    "promise_2_conservation",
    "promise_3_one_truth",
    "promise_6_exact_expiry",
    "promise_7_legal_states",
    "promise_8_returns",
    "replayed",
    "unchanged",
]

T = TypeVar("T")

_K = MovementKind
LEDGER_EFFECTS: Final[Mapping[MovementKind, Mapping[str, int]]] = {
    _K.RECEIVED: {"on_hand": +1},
    _K.ADJUSTED: {"on_hand": +1},  # the quantity is signed
    _K.SOLD: {"on_hand": -1},
    _K.HELD: {"reserved": +1},
    _K.HOLD_RELEASED: {"reserved": -1},
    _K.CONFIRMED: {"reserved": -1, "committed": +1},
    _K.COMMITTED: {"committed": +1},
    _K.COMMIT_RELEASED: {"committed": -1},
    _K.FULFILLED: {"on_hand": -1, "committed": -1},
    _K.SAFETY_STOCK_SET: {"safety_stock": +1},  # the quantity is signed
    _K.DISPATCHED: {"on_hand": -1, "committed": -1},
    _K.INBOUND: {"inbound": +1},
    _K.ARRIVED: {"on_hand": +1, "inbound": -1},
    _K.RETURNED: {"on_hand": +1},
    _K.QUARANTINED: {"quarantine": +1},
    _K.UNQUARANTINED: {"on_hand": +1, "quarantine": -1},
    _K.QUARANTINE_WRITTEN_OFF: {"quarantine": -1},
    _K.WRITTEN_OFF: {},  # recorded in the ledger; no counter moves
}
"""What each movement kind does to a position, per unit, as DESIGN §2.2-§2.5 say (every counter
left out is unchanged). Written out independently of the engine's ``EFFECTS``."""

REMOTE: Final = frozenset({Channel.WEB, Channel.APP, Channel.CALL_CENTER, Channel.MARKETPLACE})
"""The channels DESIGN §2.2 withholds the safety stock from."""

_LIVE = frozenset({ReservationState.HELD, ReservationState.CONFIRMED, ReservationState.READY})

_FIELDS = ("on_hand", "reserved", "committed", "safety_stock", "inbound", "quarantine")

Availability = Mapping[Channel, Mapping[str, Mapping[str, int]]]
"""``{channel: {sku: {location: units}}}`` as ``engine.availability_by_location`` reads it."""


def _open(r: Reservation) -> dict[str, int]:
    return {line.sku: line.quantity - line.fulfilled - line.released for line in r.lines}


def _lapsed(r: Reservation, now: datetime) -> bool:
    return r.state is ReservationState.HELD and r.expires_at is not None and now >= r.expires_at


def promise_1_no_oversell(engine: Engine, *, snapshot: Snapshot | None = None) -> None:
    """Promise 1, no oversell: 0 <= reserved + committed <= on_hand for every stored position."""
    snap = snapshot or take_snapshot(engine.store)
    for p in snap.positions:
        assert min(p.counters()) >= 0, f"a negative counter: {p}"
        assert p.reserved + p.committed <= p.on_hand, f"oversold: {p}"


def promise_2_conservation(engine: Engine, *, snapshot: Snapshot | None = None) -> None:
    """Promise 2, conservation: the ledger replays to every position, reserved, committed and
    inbound are the sums over the reservations, and the audit behind verify() is empty.

    With a ``snapshot`` the audit runs on it; without one ``engine.verify()`` is called.
    """
    snap = snapshot or take_snapshot(engine.store)
    replayed: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_FIELDS, 0))
    for m in snap.ledger:
        counters = replayed[(m.location, m.sku)]
        for name, sign in LEDGER_EFFECTS[m.kind].items():
            counters[name] += sign * m.quantity
    held: dict[tuple[str, str], int] = defaultdict(int)
    committed: dict[tuple[str, str], int] = defaultdict(int)
    inbound: dict[tuple[str, str], int] = defaultdict(int)
    for r in snap.reservations:
        for sku, units in _open(r).items():
            if r.state is ReservationState.IN_TRANSIT:
                assert r.destination is not None, r
                inbound[(r.destination, sku)] += units
            elif r.state is ReservationState.HELD:
                held[(r.location, sku)] += units
            elif r.state in (ReservationState.CONFIRMED, ReservationState.READY):
                committed[(r.location, sku)] += units
    for p in snap.positions:
        key = (p.location, p.sku)
        stored = dict(zip(_FIELDS, p.counters(), strict=True))
        assert stored == replayed[key], f"the ledger replays to {dict(replayed[key])}, not {p}"
        assert p.reserved == held[key], f"{p} but live holds sum to {held[key]}"
        assert p.committed == committed[key], f"{p} but commitments sum to {committed[key]}"
        assert p.inbound == inbound[key], f"{p} but transfers carry {inbound[key]}"
    for numbers in ([m.seq for m in snap.ledger], [e.seq for e in snap.events]):
        assert numbers == sorted(set(numbers))
        assert min(numbers, default=1) >= 1
    if snapshot is None:
        found = engine.verify()
    else:
        found = audit(
            snap.positions,
            snap.ledger,
            [r for r in snap.reservations if r.state in OPEN_STATES],
            [e.seq for e in snap.events],
            snap.returns,
        )
    assert found == [], f"verify() reports {found}"


def _effective_free(snap: Snapshot, now: datetime) -> dict[tuple[str, str], int]:
    """Free units per stored position at ``now``, not counting holds that have lapsed."""
    lapsed: dict[tuple[str, str], int] = defaultdict(int)
    for r in snap.reservations:
        if _lapsed(r, now):
            for sku, units in _open(r).items():
                lapsed[(r.location, sku)] += units
    return {
        (p.location, p.sku): p.on_hand - (p.reserved - lapsed[(p.location, p.sku)]) - p.committed
        for p in snap.positions
    }


def promise_3_one_truth(
    engine: Engine,
    skus: list[str],
    *,
    snapshot: Snapshot | None = None,
    seen: Availability | None = None,
) -> None:
    """Promise 3, one truth (and 12, declared differences only): channels with the same policy
    see the same availability, and each sees what is free at a location (on hand less live holds
    and commitments) less what DESIGN §2.2 withholds from it: the safety stock for remote
    channels, nothing for the store's own.

    Args:
        engine: the engine.
        skus: the skus to look at.
        snapshot: the store as just read (read now if None).
        seen: ``engine.availability_by_location`` for every channel and sku, if already read.
    """
    snap = snapshot or take_snapshot(engine.store)
    now = engine.clock.now()
    if seen is None:
        seen = {
            c: {sku: engine.availability_by_location(sku, channel=c) for sku in skus}
            for c in Channel
        }
    free = _effective_free(snap, now)
    safety = {(p.location, p.sku): p.safety_stock for p in snap.positions}
    for sku in skus:
        for location in engine.network.locations:
            key = (location.id, sku)
            remote = {seen[c][sku][location.id] for c in REMOTE}
            assert len(remote) == 1, f"remote channels disagree on {sku} at {location.id}: {remote}"
            store = seen[Channel.STORE][sku][location.id]
            assert store == max(0, free.get(key, 0)), (
                f"the store sees {store} of {sku} at {location.id}; {free.get(key, 0)} are free"
            )
            assert remote == {max(0, free.get(key, 0) - safety.get(key, 0))}, (
                f"remote channels see {remote} of {sku} at {location.id}; {free.get(key, 0)} are "
                f"free and the safety stock is {safety.get(key, 0)}"
            )
        total = engine.availability(sku, channel=Channel.WEB)
        assert total == sum(seen[Channel.WEB][sku].values()), f"{sku}: {total} in the network"


def promise_6_exact_expiry(
    engine: Engine,
    skus: list[str],
    *,
    snapshot: Snapshot | None = None,
    positions: Mapping[tuple[str, str], Position] | None = None,
) -> None:
    """Promise 6, exact expiry: a hold at or past its expiry reads as EXPIRED and counts against
    no position, whether or not a sweep has stored it as EXPIRED.

    Args:
        engine: the engine.
        skus: the skus to look at.
        snapshot: the store as just read (read now if None).
        positions: ``engine.position`` of every stored position of ``skus`` by (location, sku),
            if already read.
    """
    now = engine.clock.now()
    snap = snapshot or take_snapshot(engine.store)
    live: dict[tuple[str, str], int] = defaultdict(int)
    for r in snap.reservations:
        lapsed = _lapsed(r, now)
        if r.state is ReservationState.HELD:
            expected = ReservationState.EXPIRED if lapsed else r.state
            assert engine.reservation(r.id).state is expected, f"{r.id} seen wrongly at {now}"
        if r.state in _LIVE and not lapsed:
            for sku, units in _open(r).items():
                live[(r.location, sku)] += units
    for p in snap.positions:
        if p.sku in skus:
            key = (p.location, p.sku)
            seen = positions[key] if positions is not None else engine.position(*key)
            assert seen.reserved + seen.committed == live[key], f"{seen} counts an expired hold"


def promise_7_legal_states(engine: Engine, *, snapshot: Snapshot | None = None) -> None:
    """Promise 7, legal transitions only: every reservation is in a state of the table, terminal
    ones hold nothing, and per-line quantities add up."""
    snap = snapshot or take_snapshot(engine.store)
    for r in snap.reservations:
        assert r.state in set(RESERVATION_TABLE.states)
        for line in r.lines:
            assert 0 <= line.fulfilled <= line.quantity
            assert 0 <= line.released <= line.quantity - line.fulfilled
            if r.state in RESERVATION_TABLE.terminal:
                assert line.fulfilled + line.released == line.quantity, r
            else:  # only a short pick (reject) releases units of a live reservation
                assert line.fulfilled == 0, r


def _refund(rma: ReturnAuthorization, fees: Mapping[Condition, Decimal]) -> dict[str, Decimal]:
    """Each line's refund, from the price paid and the policy's fee per condition, rounded down
    to the cent in whole-cent arithmetic."""
    found = {}
    for line in rma.lines:
        cents = int(line.unit_price * 100)
        total = 0
        for part in line.received:
            keep = int(fees.get(part.condition, Decimal(0)) * 10_000)
            total += cents * part.quantity * (10_000 - keep) // 10_000
        found[line.line_id] = Decimal(total) / 100
    return found


def promise_8_returns(engine: Engine, *, snapshot: Snapshot | None = None) -> None:
    """Promise 8, returns: per order line, units under return authorisations (all but rejected
    ones) never exceed the units fulfilled; each received unit refunds its price less the
    policy's fee for its condition, rounded down to the cent, so refunds never exceed what was
    paid; and each authorisation's refund is issued once, when it closes, for that amount."""
    snap = snapshot or take_snapshot(engine.store)
    fees = engine.policy.returns.restocking_fee
    issued: dict[str, list[RefundIssued]] = defaultdict(list)
    for event in snap.events:
        if isinstance(event, RefundIssued):
            issued[event.rma_id].append(event)
    by_order: dict[str, list[ReturnAuthorization]] = defaultdict(list)
    for rma in snap.returns:
        assert rma.state in set(RETURN_TABLE.states)
        by_order[rma.order_id].append(rma)
        refunds = issued.get(rma.id, [])
        due = _refund(rma, fees)
        for returned in rma.lines:
            assert sum(r.quantity for r in returned.received) in (0, returned.quantity), rma
            assert returned.refund == due[returned.line_id], (rma.id, returned, due)
            assert due[returned.line_id] <= returned.unit_price * returned.quantity, rma
        if rma.state is ReturnState.CLOSED:
            assert len(refunds) == 1, f"{rma.id} refunded {len(refunds)} times"
            (refund,) = refunds
            assert refund.amount == sum(due.values(), Decimal(0)), (rma.id, refund, due)
            assert {x.line_id: x.amount for x in refund.lines} == due, (rma.id, refund, due)
        else:
            assert refunds == [], rma
    reservations = {r.id: r for r in snap.reservations}
    for order_id, rmas in by_order.items():
        record = next(o for o in snap.orders if o.id == order_id)
        for line in record.order.lines:
            covered = sum(
                x.quantity
                for rma in rmas
                if rma.state is not ReturnState.REJECTED
                for x in rma.lines
                if x.line_id == line.id
            )
            refunded = sum(
                (x.refund for rma in rmas for x in rma.lines if x.line_id == line.id), Decimal(0)
            )
            fulfilled = _fulfilled(record.sourcing, reservations, line)
            assert covered <= fulfilled, (
                f"{covered} of {order_id}/{line.id} under returns; {fulfilled} reached the customer"
            )
            assert refunded <= line.unit_price * fulfilled, (order_id, line.id, refunded)


def _fulfilled(
    sourcing: Iterable[Sourcing], reservations: Mapping[str, Reservation], line: OrderLine
) -> int:
    """Units of an order line that reached the customer: shipped or collected (a transfer's
    arrival at the store is not the customer's)."""
    seen = set()
    total = 0
    for s in sourcing:
        r = reservations[s.reservation_id]
        if s.line_id != line.id or r.mode is Mode.TRANSFER or r.id in seen:
            continue
        seen.add(r.id)
        total += sum(x.fulfilled for x in r.lines if x.sku == line.sku)
    return total


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


def all_state_promises(
    engine: Engine,
    skus: list[str],
    *,
    snapshot: Snapshot | None = None,
    seen: Availability | None = None,
    positions: Mapping[tuple[str, str], Position] | None = None,
) -> None:
    """Every promise that is a property of a state (1, 2, 3, 6, 7, 8), on one snapshot."""
    snap = snapshot or take_snapshot(engine.store)
    promise_1_no_oversell(engine, snapshot=snap)
    promise_2_conservation(engine, snapshot=snapshot)
    promise_3_one_truth(engine, skus, snapshot=snap, seen=seen)
    promise_6_exact_expiry(engine, skus, snapshot=snap, positions=positions)
    promise_7_legal_states(engine, snapshot=snap)
    promise_8_returns(engine, snapshot=snap)
