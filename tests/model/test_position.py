"""Positions, the channel availability rule and the movement effects (DESIGN §2.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import Channel, MovementKind, Position
from omniorder.model import COUNTERS, EFFECTS, REMOTE_CHANNELS
from omniorder.testing import strategies as ost
from omniorder.testing.invariants import LEDGER_EFFECTS


def test_safety_stock_is_withheld_from_remote_channels_but_not_from_the_store() -> None:
    p = Position("s", "sofa", on_hand=5, reserved=1, committed=1, safety_stock=2)
    for channel in REMOTE_CHANNELS:
        assert p.available(channel) == 1
    assert p.available(Channel.STORE) == 3


def test_availability_never_goes_below_zero() -> None:
    p = Position("s", "sofa", on_hand=2, reserved=1, safety_stock=5)
    assert p.available(Channel.WEB) == 0


@given(ost.positions(), st.sampled_from(Channel))
def test_channels_differ_only_by_the_declared_buffer(p: Position, channel: Channel) -> None:
    assert p.available(channel) == max(0, p.free - p.buffer(channel))
    assert p.available(Channel.STORE) >= p.available(channel)


def test_every_movement_kind_has_an_effect() -> None:
    assert set(EFFECTS) == set(MovementKind)
    assert all(len(effect) == len(COUNTERS) for effect in EFFECTS.values())


START = Position(
    "s", "sofa", on_hand=100, reserved=20, committed=30, safety_stock=4, inbound=50, quarantine=6
)
"""Every counter distinct and large enough for a movement of 3 in either direction."""

# What each movement kind of 3 units does to every counter, written out from DESIGN §2.2-§2.5
# (on_hand, reserved, committed, safety_stock, inbound, quarantine): not read from EFFECTS.
AFTER_3_UNITS = {
    MovementKind.RECEIVED: (103, 20, 30, 4, 50, 6),
    MovementKind.ADJUSTED: (103, 20, 30, 4, 50, 6),
    MovementKind.SOLD: (97, 20, 30, 4, 50, 6),
    MovementKind.HELD: (100, 23, 30, 4, 50, 6),
    MovementKind.HOLD_RELEASED: (100, 17, 30, 4, 50, 6),
    MovementKind.CONFIRMED: (100, 17, 33, 4, 50, 6),
    MovementKind.COMMITTED: (100, 20, 33, 4, 50, 6),
    MovementKind.COMMIT_RELEASED: (100, 20, 27, 4, 50, 6),
    MovementKind.FULFILLED: (97, 20, 27, 4, 50, 6),
    MovementKind.SAFETY_STOCK_SET: (100, 20, 30, 7, 50, 6),
    MovementKind.DISPATCHED: (97, 20, 27, 4, 50, 6),
    MovementKind.INBOUND: (100, 20, 30, 4, 53, 6),
    MovementKind.ARRIVED: (103, 20, 30, 4, 47, 6),
    MovementKind.RETURNED: (103, 20, 30, 4, 50, 6),
    MovementKind.QUARANTINED: (100, 20, 30, 4, 50, 9),
    MovementKind.UNQUARANTINED: (103, 20, 30, 4, 50, 3),
    MovementKind.QUARANTINE_WRITTEN_OFF: (100, 20, 30, 4, 50, 3),
    MovementKind.WRITTEN_OFF: (100, 20, 30, 4, 50, 6),
}


def test_the_effect_table_names_every_movement_kind() -> None:
    assert set(AFTER_3_UNITS) == set(MovementKind)


@pytest.mark.parametrize(("kind", "expected"), list(AFTER_3_UNITS.items()))
def test_a_movement_changes_exactly_its_counters(
    kind: MovementKind, expected: tuple[int, int, int, int, int, int]
) -> None:
    assert START.apply(kind, 3).counters() == expected


@pytest.mark.parametrize("kind", [MovementKind.ADJUSTED, MovementKind.SAFETY_STOCK_SET])
def test_a_signed_movement_moves_its_counter_down_by_a_negative_quantity(
    kind: MovementKind,
) -> None:
    up = AFTER_3_UNITS[kind]
    down = tuple(2 * before - after for before, after in zip(START.counters(), up, strict=True))
    assert START.apply(kind, -3).counters() == down


@pytest.mark.parametrize("kind", list(MovementKind))
def test_the_ledger_checker_replays_each_kind_as_the_table_says(kind: MovementKind) -> None:
    """The stateful machine's promise 2 replays the ledger with its own table: it agrees."""
    replayed = dict(zip(COUNTERS, START.counters(), strict=True))
    for name, sign in LEDGER_EFFECTS[kind].items():
        replayed[name] += sign * 3
    assert tuple(replayed.values()) == AFTER_3_UNITS[kind]


def test_violations_name_every_broken_invariant() -> None:
    assert Position("s", "x", on_hand=3, reserved=1, committed=2).violations() == []
    problems = Position("s", "x", on_hand=1, reserved=-1, committed=3).violations()
    assert any("reserved is negative" in p for p in problems)
    assert any("exceed on_hand" in p for p in problems)
