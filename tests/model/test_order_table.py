"""The order's status machine: every (status, command) pair against the table written out here."""

from __future__ import annotations

import pytest

from omniorder import Engine, InvalidTransition, OrderStatus
from omniorder.model.order_table import ORDER_TABLE, OrderCommand, order_status_after

S, C = OrderStatus, OrderCommand

# Written out by hand from DESIGN §2.4 and what hold_order / place_order do, never derived from
# ORDER_TABLE: None means the command is refused in that status.
CREATES: dict[OrderCommand, OrderStatus] = {
    C.HOLD_ORDER: S.HELD,
    C.PLACE_ORDER: S.PLACED,
}
EXPECTED: dict[tuple[OrderStatus, OrderCommand], OrderStatus | None] = {
    (S.HELD, C.HOLD_ORDER): S.HELD,
    (S.HELD, C.PLACE_ORDER): S.PLACED,
    (S.PLACED, C.HOLD_ORDER): None,
    (S.PLACED, C.PLACE_ORDER): None,
}
TERMINAL = {S.PLACED}


def test_the_expected_table_names_every_status_and_command_pair() -> None:
    assert set(EXPECTED) == set(ORDER_TABLE.pairs())
    assert len(EXPECTED) == len(OrderStatus) * len(OrderCommand)


@pytest.mark.parametrize(
    ("status", "command", "expected"),
    [(status, command, to) for (status, command), to in EXPECTED.items()],
    ids=[f"{status.name}-{command.value}" for status, command in EXPECTED],
)
def test_each_status_allows_exactly_the_commands_of_the_design(
    status: OrderStatus, command: OrderCommand, expected: OrderStatus | None
) -> None:
    assert ORDER_TABLE.allows(status, command) is (expected is not None)
    if expected is not None:
        assert ORDER_TABLE.fire(status, command) is expected
        assert order_status_after(status, command, order_id="o-1") is expected
        return
    with pytest.raises(InvalidTransition) as refused:
        order_status_after(status, command, order_id="o-1")
    error = refused.value
    assert (error.machine, error.state, error.command, error.subject) == (
        "order",
        status.value,
        command.value,
        "o-1",
    )


def test_the_table_lists_no_transition_beyond_the_expected_ones() -> None:
    legal = {pair: to for pair, to in EXPECTED.items() if to is not None}
    assert dict(ORDER_TABLE.transitions) == legal


@pytest.mark.parametrize("command", list(OrderCommand), ids=lambda c: c.value)
def test_hold_order_and_place_order_each_make_an_order_that_does_not_exist_yet(
    command: OrderCommand,
) -> None:
    assert dict(ORDER_TABLE.initial) == CREATES
    assert order_status_after(None, command, order_id="o-1") is CREATES[command]


def test_a_placed_order_is_final_and_every_other_status_has_a_way_out() -> None:
    assert ORDER_TABLE.terminal == TERMINAL
    for status in OrderStatus:
        assert (ORDER_TABLE.commands_from(status) == []) is (status in TERMINAL), status


@pytest.mark.parametrize("command", list(OrderCommand), ids=lambda c: c.value)
def test_a_placed_order_refuses_with_the_message_the_engine_has_always_given(
    command: OrderCommand,
) -> None:
    message = f"cannot {command.value} order 'o-1' in state PLACED: it is already placed"
    with pytest.raises(InvalidTransition, match=f"^{message}$") as refused:
        order_status_after(S.PLACED, command, order_id="o-1")
    assert refused.value.reason == "it is already placed"


def test_every_order_command_is_a_method_of_the_engine() -> None:
    for command in OrderCommand:
        assert callable(getattr(Engine, command.value, None)), command


def test_the_order_table_renders_as_mermaid_like_the_other_tables() -> None:
    assert ORDER_TABLE.mermaid().splitlines() == [
        "stateDiagram-v2",
        "    [*] --> HELD: hold_order",
        "    [*] --> PLACED: place_order",
        "    HELD --> HELD: hold_order",
        "    HELD --> PLACED: place_order",
        "    PLACED --> [*]",
    ]
