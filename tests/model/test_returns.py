"""The return authorisation table, the return policy and refunds, as pure values."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import Condition, Disposition, Inspection, InvalidInput, ReturnPolicy, ReturnState
from omniorder.model.returns import RETURN_TABLE, ReturnCommand, refund_for

R, C = ReturnState, ReturnCommand


def test_the_return_table_is_the_one_of_the_design() -> None:
    assert dict(RETURN_TABLE.transitions) == {
        (R.REQUESTED, C.AUTHORIZE): R.AUTHORIZED,
        (R.REQUESTED, C.REJECT): R.REJECTED,
        (R.AUTHORIZED, C.RECEIVE): R.RECEIVED,
        (R.RECEIVED, C.REFUND): R.CLOSED,
    }
    assert RETURN_TABLE.terminal == {R.REJECTED, R.CLOSED}
    assert RETURN_TABLE.initial == {C.REQUEST: R.REQUESTED}


def test_the_return_table_renders_as_mermaid_like_the_reservation_table() -> None:
    diagram = RETURN_TABLE.mermaid()
    assert diagram.splitlines()[0] == "stateDiagram-v2"
    assert "    AUTHORIZED --> RECEIVED: receive" in diagram
    assert "    CLOSED --> [*]" in diagram


def test_the_default_policy_restocks_sellable_units_and_charges_no_fee() -> None:
    policy = ReturnPolicy()
    assert policy.window == timedelta(days=30)
    assert dict(policy.dispositions) == {
        Condition.SELLABLE: Disposition.RESTOCK,
        Condition.DAMAGED: Disposition.QUARANTINE,
        Condition.DEFECTIVE: Disposition.WRITE_OFF,
    }
    assert set(policy.restocking_fee.values()) == {Decimal(0)}


@pytest.mark.parametrize(
    "bad",
    [
        {"window": timedelta(0)},
        {"window": 30},
        {"manual_review": "yes"},
        {"restocking_fee": {Condition.DAMAGED: Decimal("1.5")}},
        {"restocking_fee": {Condition.DAMAGED: 0.15}},
        {"restocking_fee": {"BROKEN": Decimal("0.1")}},
        {"restocking_fee": [Decimal("0.1")]},
        {"dispositions": {Condition.DAMAGED: "BURN"}},
        {"dispositions": {Condition.DEFECTIVE: Disposition.TRANSFER}},
        {"hub": ""},
    ],
)
def test_a_bad_return_policy_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ReturnPolicy(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"condition": "BROKEN"}, {"quantity": 0}, {"quantity": 1.0}])
def test_a_bad_inspection_is_refused(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"condition": Condition.SELLABLE, "quantity": 1, **bad}
    with pytest.raises(InvalidInput):
        Inspection(**args)  # type: ignore[arg-type]


@given(
    price=st.decimals(min_value=0, max_value=10**6, places=3),
    units=st.integers(min_value=1, max_value=1000),
    fee=st.decimals(min_value=0, max_value=1, places=4),
)
def test_promise_8_a_refund_is_never_more_than_paid(
    price: Decimal, units: int, fee: Decimal
) -> None:
    refund = refund_for(price, units, fee)
    assert Decimal(0) <= refund <= price * units
    assert refund == refund.quantize(Decimal("0.01"))


def test_the_returns_guide_shows_the_return_table() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "returns.md").read_text(encoding="utf-8")
    block = re.search(r"```mermaid\n(.*?)```", guide, re.DOTALL)
    assert block is not None
    assert block.group(1).strip() == RETURN_TABLE.mermaid().strip()
