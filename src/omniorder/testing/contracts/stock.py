"""Receiving, adjusting, safety stock and the numbers each channel sees (DESIGN §2.2)."""

from __future__ import annotations

import pytest

from omniorder import (
    Channel,
    Engine,
    InsufficientStock,
    InvalidInput,
    Mode,
    MovementKind,
    UnknownLocation,
)
from omniorder.model import StockAdjusted, StockReceived
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE


class StockContract(ContractBase):
    """Receiving, adjusting, safety stock and availability."""

    def test_receiving_raises_on_hand_with_a_movement_and_an_event(self, engine: Engine) -> None:
        after = engine.receive(WAREHOUSE, "sofa", 4)
        assert after.on_hand == 4
        snap = take_snapshot(engine.store)
        assert [(m.kind, m.quantity) for m in snap.ledger] == [(MovementKind.RECEIVED, 4)]
        (event,) = engine.events()
        assert isinstance(event, StockReceived)
        assert (event.location, event.sku, event.quantity) == (WAREHOUSE, "sofa", 4)
        assert event.seq >= 1

    def test_receiving_at_an_unknown_location_writes_nothing(self, engine: Engine) -> None:
        before = take_snapshot(engine.store)
        with pytest.raises(UnknownLocation):
            engine.receive("moon-base", "sofa", 1)
        assert take_snapshot(engine.store) == before

    def test_receiving_past_the_largest_quantity_is_refused(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "sofa", 2**63 - 2)
        with pytest.raises(InvalidInput, match="above"):
            engine.receive(WAREHOUSE, "sofa", 2)
        assert engine.position(WAREHOUSE, "sofa").on_hand == 2**63 - 2

    def test_adjusting_to_a_count_or_by_a_delta(self, engine: Engine) -> None:
        engine.receive(STORE_1, "sofa", 5)
        assert engine.adjust(STORE_1, "sofa", to=3, reason="cycle count").on_hand == 3
        assert engine.adjust(STORE_1, "sofa", delta=2, reason="found in back room").on_hand == 5
        adjusted = [e for e in engine.events() if isinstance(e, StockAdjusted)]
        assert [(e.delta, e.on_hand, e.reason) for e in adjusted] == [
            (-2, 3, "cycle count"),
            (2, 5, "found in back room"),
        ]

    def test_an_adjustment_to_the_current_count_changes_nothing(self, engine: Engine) -> None:
        engine.receive(STORE_1, "sofa", 5)
        before = take_snapshot(engine.store)
        assert engine.adjust(STORE_1, "sofa", to=5, reason="count").on_hand == 5
        assert take_snapshot(engine.store) == before

    def test_adjusting_never_takes_on_hand_below_what_is_held_or_committed(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "sofa", 3)
        held = engine.reserve(STORE_1, {"sofa": 1}, channel=Channel.WEB)
        engine.confirm(engine.reserve(STORE_1, {"sofa": 1}, channel=Channel.WEB).id)
        before = take_snapshot(engine.store)
        with pytest.raises(InsufficientStock) as raised:
            engine.adjust(STORE_1, "sofa", to=1, reason="count")
        (short,) = raised.value.lines
        assert (short.sku, short.location, short.requested, short.available) == (
            "sofa",
            STORE_1,
            2,
            1,
        )
        assert take_snapshot(engine.store) == before
        engine.release(held.id)
        assert engine.adjust(STORE_1, "sofa", to=1, reason="count").on_hand == 1

    @pytest.mark.parametrize(
        "kwargs",
        [{}, {"to": 1, "delta": 1}, {"to": -1}, {"delta": 0}, {"to": 1.0}, {"delta": True}],
    )
    def test_adjust_takes_exactly_one_of_to_and_delta(
        self, engine: Engine, kwargs: dict[str, object]
    ) -> None:
        with pytest.raises(InvalidInput):
            engine.adjust(STORE_1, "sofa", reason="count", **kwargs)  # type: ignore[arg-type]

    def test_adjust_needs_a_reason(self, engine: Engine) -> None:
        with pytest.raises(InvalidInput):
            engine.adjust(STORE_1, "sofa", delta=1, reason="  ")

    def test_safety_stock_is_withheld_from_remote_channels_only(self, engine: Engine) -> None:
        engine.receive(STORE_1, "sofa", 3)
        engine.set_safety_stock(STORE_1, "sofa", 2)
        for channel in (Channel.WEB, Channel.APP, Channel.CALL_CENTER, Channel.MARKETPLACE):
            assert engine.availability("sofa", channel=channel, location=STORE_1) == 1
        assert engine.availability("sofa", channel=Channel.STORE, location=STORE_1) == 3
        assert engine.position(STORE_1, "sofa").safety_stock == 2

    def test_availability_sums_every_location_and_lists_each(self, engine: Engine) -> None:
        engine.receive(STORE_1, "sofa", 1)
        engine.receive(WAREHOUSE, "sofa", 4)
        assert engine.availability("sofa") == 5
        assert engine.availability_by_location("sofa") == {STORE_1: 1, STORE_2: 0, WAREHOUSE: 4}
        assert engine.availability("never-stocked") == 0

    def test_a_position_that_was_never_stocked_is_zero(self, engine: Engine) -> None:
        p = engine.position(STORE_2, "sofa")
        assert (p.on_hand, p.reserved, p.committed) == (0, 0, 0)

    def test_peer_magento_3_ledger_arithmetic_gives_the_salable_quantity(
        self, engine: Engine
    ) -> None:
        """Magento MSI: append -5 (order) and +1.5 (partial cancel) to 8.5 -> salable 5.

        Scaled by two to whole units: 17 on hand, an order of 10, a cancellation of 3 -> 10.
        """
        engine.receive(WAREHOUSE, "SKU-1", 17)
        order = engine.reserve(WAREHOUSE, {"SKU-1": 10}, channel=Channel.WEB, mode=Mode.SHIP)
        engine.confirm(order.id)
        engine.ship(order.id)
        engine.receive(WAREHOUSE, "SKU-1", 3)  # the cancelled part comes back
        assert engine.availability("SKU-1") == 10

    def test_peer_magento_4_safety_stock_is_an_out_of_stock_threshold(self, engine: Engine) -> None:
        """Magento MSI: with a threshold of 5, SKU-1 (8.5 -> 3.5 salable) sells 3 and not 4.

        Scaled by two: 17 on hand, threshold 10 -> 7 salable: 7 can be held, 8 cannot.
        """
        engine.receive(WAREHOUSE, "SKU-1", 17)
        engine.set_safety_stock(WAREHOUSE, "SKU-1", 10)
        assert engine.availability("SKU-1", location=WAREHOUSE) == 7
        with pytest.raises(InsufficientStock):
            engine.reserve(WAREHOUSE, {"SKU-1": 8}, channel=Channel.WEB, mode=Mode.SHIP)
        engine.reserve(WAREHOUSE, {"SKU-1": 7}, channel=Channel.WEB, mode=Mode.SHIP)
