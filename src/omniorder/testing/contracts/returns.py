"""Returns in any channel, on every store (DESIGN §2.5, promise 8): the journeys, the return
authorisation table, eligibility, dispositions, refunds and exchanges."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniorder.engine import Engine
from omniorder.model.clock import ManualClock
from omniorder.model.errors import (
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    MissingCapability,
    ReturnNotAllowed,
    UnknownOrder,
    UnknownReturn,
)
from omniorder.model.events import (
    QuarantineResolved,
    RefundIssued,
    ReturnArrived,
    ReturnReceived,
    ReturnRequested,
)
from omniorder.model.order import Order, OrderLine, Pickup, Ship
from omniorder.model.policy import Policy
from omniorder.model.position import MovementKind
from omniorder.model.returns import (
    RETURN_TABLE,
    Condition,
    Disposition,
    Inspection,
    ReturnCommand,
    ReturnPolicy,
    ReturnState,
)
from omniorder.model.values import Channel, Geo
from omniorder.stores.base import Store
from omniorder.testing import invariants
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import START, STORE_1, STORE_2, WAREHOUSE
from omniorder.testing.snapshot import take_snapshot

R = ReturnState
_INTERLEAVED = {
    "receive": ReturnCommand.RECEIVE,
    "refund": ReturnCommand.REFUND,
    "reject": ReturnCommand.REJECT,
    "authorize": ReturnCommand.AUTHORIZE,
}
"""The return commands the interleaving test fires at an open RMA, by action name."""
PRICE = Decimal("49.99")
HOME = Geo(51.50, -0.12)


def _shipped(engine: Engine, order_id: str, units: int, *, sku: str = "lamp") -> None:
    """A web order of ``units`` shipped from the warehouse to the customer."""
    engine.receive(WAREHOUSE, sku, units)
    order = Order(order_id, Channel.WEB, [OrderLine("1", sku, units, PRICE, Ship(HOME))])
    for rid in engine.place_order(order).reservation_ids:
        engine.ship(rid)


class ReturnsContract(ContractBase):
    """A customer may bring back what reached her, anywhere, once; the refund follows."""

    # -- journeys ------------------------------------------------------------------------------

    def test_a_web_order_returned_at_a_store_is_sold_there_the_same_day(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        _shipped(engine, "o-1", 1)
        clock.advance(timedelta(days=3))
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        assert rma.state is R.AUTHORIZED
        asked = engine.events()[-1]
        assert isinstance(asked, ReturnRequested)
        assert (asked.channel, asked.ordered_in, asked.location) == (
            Channel.STORE,
            Channel.WEB,
            STORE_1,
        )
        received = engine.receive_return(rma.id)
        assert (received.state, received.refund_total) == (R.RECEIVED, PRICE)
        for channel in Channel:  # back on sale at once, in every channel
            assert engine.availability("lamp", channel=channel, location=STORE_1) == 1
        engine.sell(STORE_1, {"lamp": 1})
        closed = engine.refund_return(rma.id)
        assert closed.state is R.CLOSED
        refunds = [e for e in engine.events() if isinstance(e, RefundIssued)]
        assert [(e.rma_id, e.amount) for e in refunds] == [(rma.id, PRICE)]
        assert engine.order("o-1").line("1").returned == 1
        assert engine.verify() == []
        invariants.promise_8_returns(engine)

    def test_a_store_purchase_may_be_returned_through_the_web_to_another_store(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "vase", 1)
        order = Order("o-1", Channel.STORE, [OrderLine("1", "vase", 1, PRICE, Pickup(STORE_1))])
        (rid,) = engine.place_order(order).reservation_ids
        engine.mark_ready(rid)
        engine.collect(rid, at=STORE_1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_2, channel=Channel.WEB)
        engine.receive_return(rma.id)
        assert engine.position(STORE_2, "vase").on_hand == 1
        assert (rma.channel, rma.ordered_in) == (Channel.WEB, Channel.STORE)

    def test_a_damaged_return_is_quarantined_then_written_off(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        engine.receive_return(rma.id, {"1": Condition.DAMAGED})
        camden = engine.position(STORE_1, "lamp")
        assert (camden.on_hand, camden.quarantine) == (0, 1)
        for channel in Channel:  # never sellable
            assert engine.availability("lamp", channel=channel, location=STORE_1) == 0
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"lamp": 1})
        engine.resolve_quarantine(
            STORE_1, "lamp", 1, disposition=Disposition.WRITE_OFF, reason="torn shade"
        )
        camden = engine.position(STORE_1, "lamp")
        assert (camden.on_hand, camden.quarantine) == (0, 0)
        resolved = engine.events()[-1]
        assert isinstance(resolved, QuarantineResolved)
        assert resolved.disposition is Disposition.WRITE_OFF
        kinds = [m.kind for m in take_snapshot(engine.store).ledger if m.location == STORE_1]
        assert kinds == [MovementKind.QUARANTINED, MovementKind.QUARANTINE_WRITTEN_OFF]
        assert engine.verify() == []

    def test_a_quarantined_unit_found_sellable_goes_back_on_sale(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 2)
        rma = engine.request_return("o-1", {"1": 2}, at=STORE_1, channel=Channel.STORE)
        engine.receive_return(rma.id, {"1": Condition.DAMAGED})
        with pytest.raises(InsufficientStock):  # only 2 are in quarantine
            engine.resolve_quarantine(STORE_1, "lamp", 3, disposition=Disposition.RESTOCK)
        after = engine.resolve_quarantine(STORE_1, "lamp", 1, disposition=Disposition.RESTOCK)
        assert (after.on_hand, after.quarantine) == (1, 1)
        assert engine.availability("lamp", channel=Channel.WEB, location=STORE_1) == 1
        assert engine.verify() == []

    def test_a_defective_return_is_written_off_in_the_ledger_only(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        engine.receive_return(rma.id, {"1": Condition.DEFECTIVE})
        camden = engine.position(STORE_1, "lamp")
        assert camden.counters() == (0, 0, 0, 0, 0, 0)
        (written,) = [m for m in take_snapshot(engine.store).ledger if m.location == STORE_1]
        assert (written.kind, written.quantity, written.reference) == (
            MovementKind.WRITTEN_OFF,
            1,
            rma.id,
        )
        assert engine.verify() == []

    def test_one_line_may_come_back_in_several_conditions_and_refunds_proportionally(
        self, store: Store, clock: ManualClock
    ) -> None:
        fees = ReturnPolicy(restocking_fee={Condition.DAMAGED: Decimal("0.15")})
        engine = self.engine_on(store, clock, policy=Policy(returns=fees))
        _shipped(engine, "o-1", 3)
        rma = engine.request_return("o-1", {"1": 2}, at=STORE_1, channel=Channel.STORE)
        done = engine.receive_return(
            rma.id, {"1": [Inspection(Condition.SELLABLE, 1), Inspection(Condition.DAMAGED, 1)]}
        )
        assert done.refund_total == PRICE + Decimal("42.49")  # 49.99 x 0.85 = 42.4915, down
        received = engine.events()[-1]
        assert isinstance(received, ReturnReceived)
        assert [(u.condition, u.disposition, u.quantity) for u in received.units] == [
            (Condition.SELLABLE, Disposition.RESTOCK, 1),
            (Condition.DAMAGED, Disposition.QUARANTINE, 1),
        ]
        camden = engine.position(STORE_1, "lamp")
        assert (camden.on_hand, camden.quarantine) == (1, 1)

    def test_an_inspection_may_override_the_policy_disposition(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        engine.receive_return(
            rma.id, {"1": Inspection(Condition.DAMAGED, 1, Disposition.RESTOCK)}
        )  # a scuff the store will sell as it is
        assert engine.position(STORE_1, "lamp").on_hand == 1

    def test_units_sent_to_the_returns_hub_are_inbound_until_they_arrive(
        self, store: Store, clock: ManualClock
    ) -> None:
        hub = ReturnPolicy(dispositions={Condition.DEFECTIVE: Disposition.TRANSFER}, hub=STORE_1)
        engine = self.engine_on(store, clock, policy=Policy(returns=hub))
        _shipped(engine, "o-1", 2)
        rma = engine.request_return("o-1", {"1": 2}, at=STORE_2, channel=Channel.STORE)
        engine.receive_return(rma.id, {"1": Condition.DEFECTIVE})
        camden = engine.position(STORE_1, "lamp")
        assert (camden.inbound, camden.on_hand) == (2, 0)
        assert engine.position(STORE_2, "lamp").on_hand == 0
        assert engine.verify() == []
        clock.advance(timedelta(days=2))
        engine.arrive_return(rma.id)
        camden = engine.position(STORE_1, "lamp")
        assert (camden.inbound, camden.on_hand) == (0, 2)
        arrived = engine.events()[-1]
        assert isinstance(arrived, ReturnArrived)
        assert (arrived.location, arrived.from_location) == (STORE_1, STORE_2)
        assert engine.verify() == []
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidInput, match="nothing on its way"):
            engine.arrive_return(rma.id)
        assert take_snapshot(engine.store) == before

    def test_a_transfer_without_a_lane_to_the_hub_is_refused(
        self, store: Store, clock: ManualClock
    ) -> None:
        hub = ReturnPolicy(dispositions={Condition.DEFECTIVE: Disposition.TRANSFER}, hub=STORE_2)
        engine = self.engine_on(store, clock, policy=Policy(returns=hub))
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidInput, match="no lane"):
            engine.receive_return(rma.id, {"1": Condition.DEFECTIVE})
        assert take_snapshot(engine.store) == before

    # -- eligibility ---------------------------------------------------------------------------

    def test_a_return_past_the_window_is_refused_and_writes_nothing(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        _shipped(engine, "o-1", 1)
        clock.advance(timedelta(days=30))
        before = take_snapshot(engine.store)
        with pytest.raises(ReturnNotAllowed, match="0 returnable") as refused:
            engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        assert refused.value.order_id == "o-1"
        assert take_snapshot(engine.store) == before

    def test_two_partial_returns_reach_the_limit_and_a_third_is_refused(
        self, engine: Engine
    ) -> None:
        _shipped(engine, "o-1", 3)
        first = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        engine.receive_return(first.id)
        engine.request_return("o-1", {"1": 2}, at=STORE_2, channel=Channel.WEB)  # still open
        before = take_snapshot(engine.store)
        with pytest.raises(ReturnNotAllowed, match="1 asked, 0 returnable"):
            engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        assert take_snapshot(engine.store) == before
        invariants.promise_8_returns(engine)

    def test_units_not_yet_fulfilled_cannot_be_returned(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 2)
        order = Order("o-1", Channel.WEB, [OrderLine("1", "lamp", 2, PRICE, Ship(HOME))])
        engine.place_order(order)
        with pytest.raises(ReturnNotAllowed):
            engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)

    def test_the_window_runs_from_when_each_unit_reached_the_customer(
        self, engine: Engine, clock: ManualClock
    ) -> None:
        engine.receive(STORE_1, "lamp", 2)
        order = Order("o-1", Channel.WEB, [OrderLine("1", "lamp", 2, PRICE, Pickup(STORE_1))])
        (rid,) = engine.place_order(order).reservation_ids
        engine.mark_ready(rid)
        clock.advance(timedelta(days=1))
        engine.collect(rid, at=STORE_1)
        clock.advance(timedelta(days=29, hours=23))
        rma = engine.request_return("o-1", {"1": 2}, at=STORE_1, channel=Channel.STORE)
        assert rma.state is R.AUTHORIZED

    def test_a_return_at_a_location_without_returns_is_refused(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        before = take_snapshot(engine.store)
        with pytest.raises(MissingCapability):
            engine.request_return("o-1", {"1": 1}, at=WAREHOUSE, channel=Channel.WEB)
        with pytest.raises(InvalidInput, match="no line"):
            engine.request_return("o-1", {"2": 1}, at=STORE_1, channel=Channel.WEB)
        with pytest.raises(UnknownOrder):
            engine.request_return("o-404", {"1": 1}, at=STORE_1, channel=Channel.WEB)
        with pytest.raises(UnknownReturn):
            engine.receive_return("rma-404")
        assert take_snapshot(engine.store) == before

    # -- review, refunds, exchanges ------------------------------------------------------------

    def test_manual_review_holds_a_request_until_a_reviewer_decides(
        self, store: Store, clock: ManualClock
    ) -> None:
        engine = self.engine_on(
            store, clock, policy=Policy(returns=ReturnPolicy(manual_review=True))
        )
        _shipped(engine, "o-1", 1)
        asked = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        assert asked.state is R.REQUESTED
        with pytest.raises(InvalidTransition):
            engine.receive_return(asked.id)  # not authorised yet
        with pytest.raises(ReturnNotAllowed):  # the open request covers the unit
            engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        rejected = engine.reject_return(asked.id, "worn")
        assert (rejected.state, rejected.decision) == (R.REJECTED, "worn")
        again = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        assert engine.authorize_return(again.id).state is R.AUTHORIZED
        assert engine.receive_return(again.id).state is R.RECEIVED
        assert [r.state for r in engine.returns("o-1")] == [R.REJECTED, R.RECEIVED]

    def test_a_refund_is_issued_once(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        with pytest.raises(InvalidTransition):
            engine.refund_return(rma.id)  # nothing received yet
        engine.receive_return(rma.id)
        first = engine.refund_return(rma.id, key="refund-1")
        assert engine.refund_return(rma.id, key="refund-1") == first  # a retry is safe
        before = take_snapshot(engine.store)
        with pytest.raises(InvalidTransition):
            engine.refund_return(rma.id)
        assert take_snapshot(engine.store) == before
        assert len([e for e in engine.events() if isinstance(e, RefundIssued)]) == 1

    def test_an_exchange_names_the_replacement_order(self, engine: Engine) -> None:
        _shipped(engine, "o-1", 1)
        engine.receive(WAREHOUSE, "lamp-blue", 1)
        replacement = Order(
            "o-2", Channel.STORE, [OrderLine("1", "lamp-blue", 1, PRICE, Ship(HOME))]
        )
        engine.place_order(replacement)
        with pytest.raises(UnknownOrder):
            engine.request_return(
                "o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE, exchange_for="o-404"
            )
        rma = engine.request_return(
            "o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE, exchange_for="o-2"
        )
        assert engine.return_authorization(rma.id).exchange_for == "o-2"
        asked = engine.events()[-1]
        assert isinstance(asked, ReturnRequested)
        assert asked.exchange_for == "o-2"

    # -- the table -----------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("state", "command"), list(RETURN_TABLE.pairs()), ids=lambda v: str(v.value)
    )
    def test_every_state_and_command_pair_follows_the_return_table(
        self, store: Store, clock: ManualClock, state: ReturnState, command: ReturnCommand
    ) -> None:
        engine = self.engine_on(
            store, clock, policy=Policy(returns=ReturnPolicy(manual_review=True))
        )
        _shipped(engine, "o-1", 1)
        rma = engine.request_return("o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE)
        path = {
            R.REQUESTED: [],
            R.AUTHORIZED: [ReturnCommand.AUTHORIZE],
            R.REJECTED: [ReturnCommand.REJECT],
            R.RECEIVED: [ReturnCommand.AUTHORIZE, ReturnCommand.RECEIVE],
            R.CLOSED: [ReturnCommand.AUTHORIZE, ReturnCommand.RECEIVE, ReturnCommand.REFUND],
        }[state]
        fire = {
            ReturnCommand.REQUEST: lambda: engine.request_return(
                "o-1", {"1": 1}, at=STORE_1, channel=Channel.STORE
            ),
            ReturnCommand.AUTHORIZE: lambda: engine.authorize_return(rma.id),
            ReturnCommand.REJECT: lambda: engine.reject_return(rma.id, "no"),
            ReturnCommand.RECEIVE: lambda: engine.receive_return(rma.id),
            ReturnCommand.REFUND: lambda: engine.refund_return(rma.id),
        }
        for step in path:
            fire[step]()
        assert engine.return_authorization(rma.id).state is state
        if command is ReturnCommand.REQUEST:
            return  # creates a new authorisation; eligibility is tested above
        before = take_snapshot(engine.store)
        if RETURN_TABLE.allows(state, command):
            after = fire[command]()
            assert after.state is RETURN_TABLE.transitions[(state, command)]
            assert after.version == engine.return_authorization(rma.id).version
        else:
            with pytest.raises(InvalidTransition) as refused:
                fire[command]()
            assert (refused.value.machine, refused.value.state) == ("return", state.name)
            assert take_snapshot(engine.store) == before

    # -- promise 8 under any interleaving ------------------------------------------------------

    def test_promise_8_returns_never_exceed_what_was_fulfilled_or_paid(self) -> None:
        @settings(max_examples=25, deadline=None)
        @given(
            steps=st.lists(
                st.tuples(
                    st.sampled_from(["request", "receive", "refund", "reject", "authorize"]),
                    st.integers(min_value=1, max_value=3),
                    st.sampled_from(list(Condition)),
                ),
                min_size=1,
                max_size=12,
            ),
            review=st.booleans(),
        )
        def check(steps: list[tuple[str, int, Condition]], review: bool) -> None:
            self._interleave_returns(steps, review)

        check()

    def _interleave_returns(self, steps: list[tuple[str, int, Condition]], review: bool) -> None:
        store = self.make_store()
        try:
            clock = ManualClock(START)
            fee = ReturnPolicy(
                manual_review=review, restocking_fee={Condition.DAMAGED: Decimal("0.2")}
            )
            engine = self.engine_on(store, clock, policy=Policy(returns=fee))
            _shipped(engine, "o-1", 3)
            opened: list[str] = []
            model: dict[str, tuple[ReturnState, int]] = {}  # what each RMA must be: state, units
            for n, (action, units, condition) in enumerate(steps):
                clock.advance(timedelta(days=2))  # 12 steps are 24 days: inside the window
                before = take_snapshot(engine.store)
                if action == "request":
                    covered = sum(q for state, q in model.values() if state is not R.REJECTED)
                    fits = units <= 3 - covered
                    expected = (R.REQUESTED if review else R.AUTHORIZED) if fits else None
                elif opened:
                    rma = opened[units % len(opened)]
                    command = _INTERLEAVED[action]
                    expected = RETURN_TABLE.transitions.get((model[rma][0], command))
                else:
                    continue
                try:
                    if action == "request":
                        at = STORE_1 if units % 2 else STORE_2
                        rma = engine.request_return(
                            "o-1", {"1": units}, at=at, channel=Channel.WEB
                        ).id
                        opened.append(rma)
                        model[rma] = (R.REQUESTED, units)
                    elif action == "receive":
                        engine.receive_return(rma, {"1": condition})
                    elif action == "refund":
                        engine.refund_return(rma)
                    elif action == "reject":
                        engine.reject_return(rma, "reviewed")
                    else:
                        engine.authorize_return(rma)
                except (ReturnNotAllowed, InvalidTransition):
                    assert expected is None, f"step {n}: {action} refused, {expected} expected"
                    assert take_snapshot(engine.store) == before
                else:
                    assert expected is not None, f"step {n}: {action} was allowed"
                    model[rma] = (expected, model[rma][1])
                    assert engine.return_authorization(rma).state is expected
                invariants.promise_8_returns(engine)
            assert {rma: engine.return_authorization(rma).state for rma in opened} == {
                rma: state for rma, (state, _) in model.items()
            }
            assert engine.verify() == []
        finally:
            self.dispose(store)
