"""Walk-in sales at the till: never a unit held or committed for someone else."""

from __future__ import annotations

import pytest

from omniorder import Channel, Engine, InsufficientStock, MissingCapability
from omniorder.model import StockSold
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, WAREHOUSE


class SellContract(ContractBase):
    """Till sales never take held or committed units."""

    def test_the_till_cannot_sell_the_sofa_the_chat_agent_is_holding(self, engine: Engine) -> None:
        engine.receive(STORE_1, "green-sofa", 1)
        engine.reserve(STORE_1, {"green-sofa": 1}, channel=Channel.CALL_CENTER)
        before = take_snapshot(engine.store)
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"green-sofa": 1})
        assert take_snapshot(engine.store) == before

    def test_the_till_cannot_sell_units_committed_to_an_order(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 2)
        engine.confirm(engine.reserve(STORE_1, {"lamp": 2}, channel=Channel.WEB).id)
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"lamp": 1})

    def test_a_till_sale_takes_free_units_and_says_so(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 3)
        engine.set_safety_stock(STORE_1, "lamp", 2)
        sale = engine.sell(STORE_1, {"lamp": 3})
        assert [(line.sku, line.quantity) for line in sale.lines] == [("lamp", 3)]
        assert sale.channel is Channel.STORE
        assert engine.position(STORE_1, "lamp").on_hand == 0
        event = engine.events()[-1]
        assert isinstance(event, StockSold)
        assert (event.sale_id, event.channel, event.location) == (sale.id, Channel.STORE, STORE_1)

    def test_a_sale_booked_to_a_remote_channel_respects_the_safety_stock(
        self, engine: Engine
    ) -> None:
        engine.receive(STORE_1, "lamp", 3)
        engine.set_safety_stock(STORE_1, "lamp", 2)
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"lamp": 2}, channel=Channel.MARKETPLACE)
        engine.sell(STORE_1, {"lamp": 1}, channel=Channel.MARKETPLACE)

    def test_a_sale_is_all_or_nothing_and_lists_every_short_line(self, engine: Engine) -> None:
        engine.receive(STORE_1, "lamp", 1)
        engine.receive(STORE_1, "rug", 5)
        before = take_snapshot(engine.store)
        with pytest.raises(InsufficientStock) as raised:
            engine.sell(STORE_1, {"lamp": 2, "rug": 1, "vase": 1})
        assert [(s.sku, s.requested, s.available) for s in raised.value.lines] == [
            ("lamp", 2, 1),
            ("vase", 1, 0),
        ]
        assert take_snapshot(engine.store) == before

    def test_only_a_location_with_a_till_sells(self, engine: Engine) -> None:
        engine.receive(WAREHOUSE, "lamp", 1)
        with pytest.raises(MissingCapability):
            engine.sell(WAREHOUSE, {"lamp": 1})

    def test_peer_erpnext_30_stock_issue_waits_for_the_reservation_release(
        self, engine: Engine
    ) -> None:
        """ERPNext: issuing the stock while a reservation is open fails; after release it works."""
        engine.receive(STORE_1, "item", 50)
        first = engine.reserve(STORE_1, {"item": 30}, channel=Channel.STORE)
        second = engine.reserve(STORE_1, {"item": 20}, channel=Channel.STORE)
        assert engine.position(STORE_1, "item").reserved == 50
        engine.release(first.id)
        assert engine.position(STORE_1, "item").reserved == 20
        with pytest.raises(InsufficientStock):
            engine.sell(STORE_1, {"item": 50})
        engine.release(second.id)
        assert engine.position(STORE_1, "item").reserved == 0
        engine.sell(STORE_1, {"item": 50})
