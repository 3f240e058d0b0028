"""Positions, the channel availability rule and the movement effects (DESIGN §2.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import Channel, MovementKind, Position
from omniorder.model import COUNTERS, EFFECTS, REMOTE_CHANNELS
from omniorder.testing import strategies as ost


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


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (MovementKind.RECEIVED, (13, 2, 3)),
        (MovementKind.SOLD, (7, 2, 3)),
        (MovementKind.HELD, (10, 5, 3)),
        (MovementKind.HOLD_RELEASED, (10, -1, 3)),
        (MovementKind.CONFIRMED, (10, -1, 6)),
        (MovementKind.COMMIT_RELEASED, (10, 2, 0)),
        (MovementKind.FULFILLED, (7, 2, 0)),
    ],
)
def test_a_movement_changes_exactly_its_counters(
    kind: MovementKind, expected: tuple[int, int, int]
) -> None:
    p = Position("s", "sofa", on_hand=10, reserved=2, committed=3).apply(kind, 3)
    assert (p.on_hand, p.reserved, p.committed) == expected


def test_violations_name_every_broken_invariant() -> None:
    assert Position("s", "x", on_hand=3, reserved=1, committed=2).violations() == []
    problems = Position("s", "x", on_hand=1, reserved=-1, committed=3).violations()
    assert any("reserved is negative" in p for p in problems)
    assert any("exceed on_hand" in p for p in problems)
