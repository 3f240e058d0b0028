"""Returns in any channel (DESIGN §2.5, promise 8).

A return is asked for at any location with RETURNS, in any channel, for units of any order that
reached the customer. Eligibility is judged on the order locked for the command, so two returns
of one order can never together exceed what was fulfilled. Every stock effect of a receipt is a
ledger movement (restock, quarantine, write-off, transfer to the hub), so ``verify()`` stays
empty; the refund is computed from the price paid and issued once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from omniorder.model import checks
from omniorder.model.errors import (
    InsufficientStock,
    InvalidInput,
    ReturnNotAllowed,
    Shortfall,
    UnknownReturn,
)
from omniorder.model.events import (
    InspectedUnits,
    LineRefund,
    QuarantineResolved,
    RefundIssued,
    ReturnArrived,
    ReturnAuthorized,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
    ReturnUnits,
)
from omniorder.model.order import OrderRecord
from omniorder.model.position import MovementKind, Position
from omniorder.model.returns import (
    Conditions,
    Disposition,
    ReceivedUnits,
    ReturnAuthorization,
    ReturnLine,
    check_conditions,
    fulfilments,
    inspect,
)
from omniorder.model.values import Capability, Channel, lines_of
from omniorder.service.command import command
from omniorder.service.context import Context
from omniorder.service.orders import stored_order
from omniorder.service.work import Work
from omniorder.stores.base import UnitOfWork

__all__ = [
    "arrive_return",
    "authorize_return",
    "receive_return",
    "refund_return",
    "reject_return",
    "request_return",
    "resolve_quarantine",
    "return_authorization",
    "returnable",
    "returns_of_order",
]

_RECEIPT_MOVES = {
    Disposition.RESTOCK: MovementKind.RETURNED,
    Disposition.QUARANTINE: MovementKind.QUARANTINED,
    Disposition.WRITE_OFF: MovementKind.WRITTEN_OFF,
}
_RESOLVE_MOVES = {
    Disposition.RESTOCK: MovementKind.UNQUARANTINED,
    Disposition.WRITE_OFF: MovementKind.QUARANTINE_WRITTEN_OFF,
}


def returnable(
    uow: UnitOfWork, record: OrderRecord, now: datetime, window: timedelta
) -> dict[str, int]:
    """Units of each order line that may still be returned at ``now``.

    A unit may come back within the policy's window from when it reached the customer, and
    never more than fulfilled minus what other return authorisations (all but rejected ones)
    already cover.
    """
    reservations = {}
    for s in record.sourcing:
        found = uow.reservation(s.reservation_id)
        assert found is not None
        reservations[s.reservation_id] = found
    covered: dict[str, int] = {}
    for rma in uow.returns(order_id=record.id):
        if rma.counts:
            for line in rma.lines:
                covered[line.line_id] = covered.get(line.line_id, 0) + line.quantity
    result = {}
    for line_id, batches in fulfilments(record, reservations).items():
        fulfilled = sum(units for _, units in batches)
        recent = sum(units for when, units in batches if now < when + window)
        result[line_id] = max(0, min(recent, fulfilled - covered.get(line_id, 0)))
    return result


def _rma(w: Work, rma_id: str) -> ReturnAuthorization:
    found = w.uow.return_authorization(rma_id, for_update=True)
    if found is None:
        raise UnknownReturn(rma_id)
    return found


def _on_return(
    rma_id: str, change: Callable[[Work, ReturnAuthorization], ReturnAuthorization]
) -> Callable[[Work], ReturnAuthorization]:
    """The work of a command that changes one return authorisation, read locked by its id."""
    checks.identifier(rma_id, "rma_id")

    def work(w: Work) -> ReturnAuthorization:
        after = change(w, _rma(w, rma_id))
        w.uow.update_return(after)
        return after

    return work


# -- commands ------------------------------------------------------------------------------


@command(ReturnAuthorization)
def request_return(
    ctx: Context,
    order_id: str,
    lines: Mapping[str, int],
    *,
    at: str,
    channel: Channel,
    reason: str = "",
    exchange_for: str | None = None,
    key: str | None = None,
) -> Callable[[Work], ReturnAuthorization]:
    checks.identifier(order_id, "order_id")
    wanted = checks.lines(lines, max_lines=ctx.policy.max_lines)
    ctx.network.require(at, Capability.RETURNS, "request_return")
    channel = checks.check_enum(Channel, channel, "channel")
    checks.text(reason, "reason")
    if exchange_for is not None:
        checks.identifier(exchange_for, "exchange_for")
        if exchange_for == order_id:
            raise InvalidInput(
                "an order cannot be its own replacement", field="exchange_for", value=order_id
            )
    policy = ctx.policy.returns

    def work(w: Work) -> ReturnAuthorization:
        record = stored_order(w.uow, order_id, for_update=True)
        if exchange_for is not None:
            stored_order(w.uow, exchange_for)
        for line_id in wanted:
            record.order.line(line_id)  # InvalidInput for a line the order lacks
        allowed = returnable(w.uow, record, w.now, policy.window)
        refused = [
            f"line {line_id!r}: {units} asked, {allowed[line_id]} returnable"
            for line_id, units in wanted.items()
            if units > allowed[line_id]
        ]
        if refused:
            raise ReturnNotAllowed(
                order_id,
                "; ".join(refused)
                + f" (units fulfilled within {policy.window.days} days, less returns)",
            )
        return_lines = tuple(
            ReturnLine(line_id, line.sku, units, line.unit_price)
            for line_id, units in wanted.items()
            for line in [record.order.line(line_id)]
        )
        rma = ReturnAuthorization.request(
            id=ctx.new_id("rma"),
            order_id=order_id,
            at=at,
            channel=channel,
            ordered_in=record.order.channel,
            lines=return_lines,
            now=w.now,
            reason=reason,
            exchange_for=exchange_for,
            authorize=not policy.manual_review,
        )
        w.uow.add_return(rma)
        w.emit(
            ReturnRequested(
                at=w.now,
                rma_id=rma.id,
                order_id=order_id,
                location=at,
                channel=channel,
                ordered_in=rma.ordered_in,
                lines=tuple(ReturnUnits(x.line_id, x.sku, x.quantity) for x in return_lines),
                state=rma.state,
                reason=reason,
                exchange_for=exchange_for,
            )
        )
        return rma

    return work


@command(ReturnAuthorization)
def authorize_return(
    ctx: Context, rma_id: str, *, key: str | None = None
) -> Callable[[Work], ReturnAuthorization]:
    def change(w: Work, rma: ReturnAuthorization) -> ReturnAuthorization:
        done = rma.authorize(w.now)
        w.emit(ReturnAuthorized(at=w.now, rma_id=rma.id, order_id=rma.order_id))
        return done

    return _on_return(rma_id, change)


@command(ReturnAuthorization)
def reject_return(
    ctx: Context, rma_id: str, reason: str, *, key: str | None = None
) -> Callable[[Work], ReturnAuthorization]:
    checks.text(reason, "reason", required=True)

    def change(w: Work, rma: ReturnAuthorization) -> ReturnAuthorization:
        done = rma.reject(w.now, reason)
        w.emit(ReturnRejected(at=w.now, rma_id=rma.id, order_id=rma.order_id, reason=reason))
        return done

    return _on_return(rma_id, change)


@command(ReturnAuthorization)
def receive_return(
    ctx: Context,
    rma_id: str,
    conditions: Conditions | None = None,
    *,
    key: str | None = None,
) -> Callable[[Work], ReturnAuthorization]:
    policy = ctx.policy.returns
    checked = check_conditions(conditions)

    def change(w: Work, rma: ReturnAuthorization) -> ReturnAuthorization:
        received = inspect(rma, checked, policy)
        hub = _hub(ctx, rma, received)
        done = rma.receive(w.now, received, hub=hub)
        units = []
        for line in done.lines:
            for r in line.received:
                units.append(
                    InspectedUnits(line.line_id, line.sku, r.condition, r.disposition, r.quantity)
                )
                if r.disposition is Disposition.TRANSFER:
                    assert hub is not None
                    w.move(hub, line.sku, MovementKind.INBOUND, r.quantity, rma.id)
                else:
                    w.move(rma.at, line.sku, _RECEIPT_MOVES[r.disposition], r.quantity, rma.id)
        w.emit(
            ReturnReceived(
                at=w.now,
                rma_id=rma.id,
                order_id=rma.order_id,
                location=rma.at,
                channel=rma.channel,
                ordered_in=rma.ordered_in,
                units=tuple(units),
                refund=done.refund_total,
            )
        )
        return done

    return _on_return(rma_id, change)


def _hub(
    ctx: Context, rma: ReturnAuthorization, received: Mapping[str, tuple[ReceivedUnits, ...]]
) -> str | None:
    """The hub TRANSFER units go to, checked: it exists, it is not here, a lane leads there."""
    sending = any(
        r.disposition is Disposition.TRANSFER for units in received.values() for r in units
    )
    if not sending:
        return None
    hub = ctx.policy.returns.hub
    if hub is None:
        raise InvalidInput(
            "a TRANSFER disposition needs ReturnPolicy.hub", field="conditions", value=hub
        )
    if hub == rma.at or ctx.network.lane(rma.at, hub) is None:
        raise InvalidInput(
            f"no lane from {rma.at!r} to the returns hub {hub!r}",
            field="conditions",
            value=hub,
        )
    return hub


@command(ReturnAuthorization)
def refund_return(
    ctx: Context, rma_id: str, *, key: str | None = None
) -> Callable[[Work], ReturnAuthorization]:
    def change(w: Work, rma: ReturnAuthorization) -> ReturnAuthorization:
        done = rma.refund(w.now)
        w.emit(
            RefundIssued(
                at=w.now,
                rma_id=rma.id,
                order_id=rma.order_id,
                amount=done.refund_total,
                lines=tuple(LineRefund(line.line_id, line.refund) for line in done.lines),
            )
        )
        return done

    return _on_return(rma_id, change)


@command(ReturnAuthorization)
def arrive_return(
    ctx: Context, rma_id: str, *, key: str | None = None
) -> Callable[[Work], ReturnAuthorization]:
    def change(w: Work, rma: ReturnAuthorization) -> ReturnAuthorization:
        moving = rma.in_transit
        if not moving or rma.transfer_to is None:
            raise InvalidInput(
                f"return {rma.id!r} has nothing on its way to a hub",
                field="rma_id",
                value=rma.id,
            )
        for sku, units in sorted(moving.items()):
            w.move(rma.transfer_to, sku, MovementKind.ARRIVED, units, rma.id)
        w.emit(
            ReturnArrived(
                at=w.now,
                rma_id=rma.id,
                order_id=rma.order_id,
                location=rma.transfer_to,
                from_location=rma.at,
                lines=lines_of(moving),
            )
        )
        return rma.arrive(w.now)

    return _on_return(rma_id, change)


@command(Position)
def resolve_quarantine(
    ctx: Context,
    location: str,
    sku: str,
    quantity: int,
    *,
    disposition: Disposition,
    reason: str = "",
    key: str | None = None,
) -> Callable[[Work], Position]:
    ctx.network.location(location)
    checks.identifier(sku, "sku")
    checks.positive(quantity)
    disposition = checks.check_enum(Disposition, disposition, "disposition")
    if disposition not in _RESOLVE_MOVES:
        raise InvalidInput(
            "quarantined units are restocked (RESTOCK) or written off (WRITE_OFF)",
            field="disposition",
            value=disposition,
        )
    checks.text(reason, "reason")

    def work(w: Work) -> Position:
        current = w.positions([(location, sku)])[(location, sku)]
        if current.quarantine < quantity:
            raise InsufficientStock([Shortfall(sku, location, quantity, current.quarantine)])
        after = w.move(location, sku, _RESOLVE_MOVES[disposition], quantity, "quarantine")
        w.emit(
            QuarantineResolved(
                at=w.now,
                location=location,
                sku=sku,
                quantity=quantity,
                disposition=disposition,
                reason=reason,
            )
        )
        return after

    return work


# -- reading -------------------------------------------------------------------------------


def return_authorization(ctx: Context, rma_id: str) -> ReturnAuthorization:
    checks.identifier(rma_id, "rma_id")

    def read(uow: UnitOfWork, _: datetime) -> ReturnAuthorization:
        found = uow.return_authorization(rma_id)
        if found is None:
            raise UnknownReturn(rma_id)
        return found

    return ctx.read(read)


def returns_of_order(ctx: Context, order_id: str) -> list[ReturnAuthorization]:
    checks.identifier(order_id, "order_id")

    def read(uow: UnitOfWork, _: datetime) -> list[ReturnAuthorization]:
        stored_order(uow, order_id)
        return uow.returns(order_id=order_id)

    return ctx.read(read)
