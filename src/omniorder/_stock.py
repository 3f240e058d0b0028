"""The engine's stock commands: receipts, adjustments, safety stock, till sales."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from omniorder._work import Work
from omniorder.model import checks
from omniorder.model.errors import (
    InsufficientStock,
    InvalidInput,
    Shortfall,
)
from omniorder.model.events import (
    SafetyStockSet,
    StockAdjusted,
    StockReceived,
    StockSold,
)
from omniorder.model.position import MovementKind, Position
from omniorder.model.sale import Sale
from omniorder.model.values import Capability, Channel, lines_of

if TYPE_CHECKING:
    from omniorder.engine import Engine

__all__ = ["Stock"]


class Stock:
    """The engine's stock commands (the engine delegates to one of these)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def receive(
        self, location: str, sku: str, quantity: int, *, key: str | None = None
    ) -> Position:
        engine = self.engine
        engine.network.location(location)
        checks.identifier(sku, "sku")
        checks.positive(quantity)

        def work(w: Work) -> Position:
            after = w.move(location, sku, MovementKind.RECEIVED, quantity, "receive")
            w.emit(StockReceived(at=w.now, location=location, sku=sku, quantity=quantity))
            return after

        request = {"location": location, "sku": sku, "quantity": quantity}
        return engine._run("receive", request, key, Position, work)

    def adjust(
        self,
        location: str,
        sku: str,
        *,
        to: int | None = None,
        delta: int | None = None,
        reason: str,
        key: str | None = None,
    ) -> Position:
        engine = self.engine
        engine.network.location(location)
        checks.identifier(sku, "sku")
        if (to is None) == (delta is None):
            raise InvalidInput("adjust takes exactly one of to= or delta=", field="to", value=to)
        if to is not None:
            checks.non_negative(to, "to")
        if delta is not None:
            checks.signed(delta, "delta")
        checks.text(reason, "reason", required=True)

        def work(w: Work) -> Position:
            current = w.positions([(location, sku)])[(location, sku)]
            change = to - current.on_hand if to is not None else delta
            assert change is not None
            if change == 0:
                return current
            if current.free + change < 0:
                raise InsufficientStock([Shortfall(sku, location, -change, current.free)])
            after = w.move(location, sku, MovementKind.ADJUSTED, change, f"adjust: {reason}")
            w.emit(
                StockAdjusted(
                    at=w.now,
                    location=location,
                    sku=sku,
                    delta=change,
                    on_hand=after.on_hand,
                    reason=reason,
                )
            )
            return after

        request = {"location": location, "sku": sku, "to": to, "delta": delta, "reason": reason}
        return engine._run("adjust", request, key, Position, work)

    def set_safety_stock(
        self, location: str, sku: str, quantity: int, *, key: str | None = None
    ) -> Position:
        engine = self.engine
        engine.network.location(location)
        checks.identifier(sku, "sku")
        checks.non_negative(quantity)

        def work(w: Work) -> Position:
            current = w.positions([(location, sku)])[(location, sku)]
            change = quantity - current.safety_stock
            if change == 0:
                return current
            after = w.move(location, sku, MovementKind.SAFETY_STOCK_SET, change, "safety stock")
            w.emit(SafetyStockSet(at=w.now, location=location, sku=sku, quantity=quantity))
            return after

        request = {"location": location, "sku": sku, "quantity": quantity}
        return engine._run("set_safety_stock", request, key, Position, work)

    def sell(
        self,
        location: str,
        lines: Mapping[str, int],
        *,
        channel: Channel = Channel.STORE,
        key: str | None = None,
    ) -> Sale:
        engine = self.engine
        engine.network.require(location, Capability.SELL, "sell")
        wanted = engine._lines(lines)
        seen_by = engine._channel(channel)

        def work(w: Work) -> Sale:
            keys = {(location, sku): units for sku, units in wanted.items()}
            positions = w.positions(keys)
            engine._short(positions, keys, seen_by)
            sale = Sale(engine._ids("sale"), location, seen_by, lines_of(wanted), w.now)
            for sku, units in wanted.items():
                buffer = positions[(location, sku)].buffer(seen_by)
                w.move(location, sku, MovementKind.SOLD, units, sale.id, keep=buffer)
            w.emit(
                StockSold(
                    at=w.now, sale_id=sale.id, location=location, channel=seen_by, lines=sale.lines
                )
            )
            return sale

        request = {"location": location, "lines": wanted, "channel": seen_by}
        return engine._run("sell", request, key, Sale, work)
