"""Stock: receipts, adjustments, safety stock, till sales, and what each channel may sell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

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
from omniorder.model.position import MovementKind, Position, check_available
from omniorder.model.sale import Sale
from omniorder.model.values import Capability, Channel, lines_of
from omniorder.service.command import command
from omniorder.service.context import Context
from omniorder.service.work import Work, effective_positions
from omniorder.stores.base import UnitOfWork

__all__ = [
    "adjust",
    "availability",
    "availability_by_location",
    "position",
    "receive",
    "sell",
    "set_safety_stock",
]


@command(Position)
def receive(
    ctx: Context, location: str, sku: str, quantity: int, *, key: str | None = None
) -> Callable[[Work], Position]:
    ctx.network.location(location)
    checks.identifier(sku, "sku")
    checks.positive(quantity)

    def work(w: Work) -> Position:
        after = w.move(location, sku, MovementKind.RECEIVED, quantity, "receive")
        w.emit(StockReceived(at=w.now, location=location, sku=sku, quantity=quantity))
        return after

    return work


@command(Position)
def adjust(
    ctx: Context,
    location: str,
    sku: str,
    *,
    to: int | None = None,
    delta: int | None = None,
    reason: str,
    key: str | None = None,
) -> Callable[[Work], Position]:
    ctx.network.location(location)
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

    return work


@command(Position)
def set_safety_stock(
    ctx: Context, location: str, sku: str, quantity: int, *, key: str | None = None
) -> Callable[[Work], Position]:
    ctx.network.location(location)
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

    return work


@command(Sale)
def sell(
    ctx: Context,
    location: str,
    lines: Mapping[str, int],
    *,
    channel: Channel = Channel.STORE,
    key: str | None = None,
) -> Callable[[Work], Sale]:
    ctx.network.require(location, Capability.SELL, "sell")
    wanted = checks.lines(lines, max_lines=ctx.policy.max_lines)
    seen_by = checks.check_enum(Channel, channel, "channel")

    def work(w: Work) -> Sale:
        keys = {(location, sku): units for sku, units in wanted.items()}
        positions = w.positions(keys)
        check_available(positions, keys, seen_by)
        sale = Sale(ctx.new_id("sale"), location, seen_by, lines_of(wanted), w.now)
        for sku, units in wanted.items():
            buffer = positions[(location, sku)].buffer(seen_by)
            w.move(location, sku, MovementKind.SOLD, units, sale.id, keep=buffer)
        w.emit(
            StockSold(
                at=w.now, sale_id=sale.id, location=location, channel=seen_by, lines=sale.lines
            )
        )
        return sale

    return work


def position(ctx: Context, location: str, sku: str) -> Position:
    """The position of ``sku`` at ``location`` now (holds past their expiry not counted)."""
    ctx.network.location(location)
    checks.identifier(sku, "sku")

    def read(uow: UnitOfWork, now: datetime) -> Position:
        found = uow.positions([(location, sku)])
        return effective_positions(uow, now, found)[0] if found else Position(location, sku)

    return ctx.read(read)


def availability_by_location(ctx: Context, sku: str, channel: Channel) -> dict[str, int]:
    """Units of ``sku`` that ``channel`` may sell now, for every location of the network."""
    checks.identifier(sku, "sku")
    seen_by = checks.check_enum(Channel, channel, "channel")

    def read(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        found = effective_positions(uow, now, uow.positions(sku=sku))
        by_location = {p.location: p.available(seen_by) for p in found}
        return {loc.id: by_location.get(loc.id, 0) for loc in ctx.network.locations}

    return ctx.read(read)


def availability(ctx: Context, sku: str, channel: Channel, location: str | None) -> int:
    """Units of ``sku`` that ``channel`` may sell now, at ``location`` or in the whole network."""
    if location is None:
        return sum(availability_by_location(ctx, sku, channel).values())
    seen_by = checks.check_enum(Channel, channel, "channel")
    return position(ctx, location, sku).available(seen_by)
