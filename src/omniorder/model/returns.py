"""Returns in any channel (DESIGN §2.5): the return authorisation machine, policy and refunds.

A :class:`ReturnAuthorization` (RMA) lets a customer bring back units of an order at any location
with ``RETURNS``, whatever channel the order was placed or fulfilled in. Its states and the
commands between them are :data:`RETURN_TABLE`; the engine fires it and nothing else moves an RMA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

import attrs

from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.machine import Table
from omniorder.model.order import OrderRecord
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.values import Channel, Mode

__all__ = [
    "CENT",
    "DEFAULT_DISPOSITIONS",
    "RETURN_TABLE",
    "Checked",
    "Condition",
    "Conditions",
    "Disposition",
    "Inspection",
    "ReceivedUnits",
    "ReturnAuthorization",
    "ReturnCommand",
    "ReturnLine",
    "ReturnPolicy",
    "ReturnState",
    "check_conditions",
    "fulfilments",
    "inspect",
    "refund_for",
]

CENT: Final = Decimal("0.01")
"""Refunds are rounded down to this (never more than paid)."""


class ReturnState(StrEnum):
    """Where a return authorisation stands."""

    REQUESTED = "REQUESTED"
    """Asked for; waits for a person's review (``ReturnPolicy(manual_review=True)``)."""
    AUTHORIZED = "AUTHORIZED"
    """The customer may bring the units back."""
    REJECTED = "REJECTED"
    """Refused on review (terminal)."""
    RECEIVED = "RECEIVED"
    """The units are back and inspected; the refund is computed, not yet issued."""
    CLOSED = "CLOSED"
    """The refund is issued (terminal)."""


class ReturnCommand(StrEnum):
    """The commands of :data:`RETURN_TABLE`."""

    REQUEST = "request"
    AUTHORIZE = "authorize"
    REJECT = "reject"
    RECEIVE = "receive"
    REFUND = "refund"


RETURN_TABLE: Final = Table(
    name="return",
    states=ReturnState,
    commands=ReturnCommand,
    initial={ReturnCommand.REQUEST: ReturnState.REQUESTED},
    transitions={
        (ReturnState.REQUESTED, ReturnCommand.AUTHORIZE): ReturnState.AUTHORIZED,
        (ReturnState.REQUESTED, ReturnCommand.REJECT): ReturnState.REJECTED,
        (ReturnState.AUTHORIZED, ReturnCommand.RECEIVE): ReturnState.RECEIVED,
        (ReturnState.RECEIVED, ReturnCommand.REFUND): ReturnState.CLOSED,
    },
    terminal=frozenset({ReturnState.REJECTED, ReturnState.CLOSED}),
)
"""The whole truth about return authorisations (promise 7).

``request_return`` makes an RMA in REQUESTED and, unless the policy asks for manual review,
authorises it in the same command.
"""


class Condition(StrEnum):
    """The state a returned unit is found in."""

    SELLABLE = "SELLABLE"
    DAMAGED = "DAMAGED"
    DEFECTIVE = "DEFECTIVE"


class Disposition(StrEnum):
    """What happens to a returned unit."""

    RESTOCK = "RESTOCK"
    """On hand at the receiving location: sellable at once in every channel."""
    QUARANTINE = "QUARANTINE"
    """Into the position's quarantine: never sellable until ``resolve_quarantine``."""
    WRITE_OFF = "WRITE_OFF"
    """Gone: a ledger movement, no stock."""
    TRANSFER = "TRANSFER"
    """Sent to the policy's returns hub over a lane: inbound there until ``arrive_return``."""


DEFAULT_DISPOSITIONS: Final[Mapping[Condition, Disposition]] = MappingProxyType(
    {
        Condition.SELLABLE: Disposition.RESTOCK,
        Condition.DAMAGED: Disposition.QUARANTINE,
        Condition.DEFECTIVE: Disposition.WRITE_OFF,
    }
)
"""Sellable units go back on the shelf, damaged ones wait for inspection, defective ones go."""


def _dispositions(value: object) -> Mapping[Condition, Disposition]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            "dispositions must map Condition to Disposition", field="dispositions", value=value
        )
    merged = dict(DEFAULT_DISPOSITIONS)
    for condition, disposition in value.items():
        merged[checks.check_enum(Condition, condition, "dispositions condition")] = (
            checks.check_enum(Disposition, disposition, "dispositions disposition")
        )
    return MappingProxyType(merged)


def _fees(value: object) -> Mapping[Condition, Decimal]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            "restocking_fee must map Condition to a fraction", field="restocking_fee", value=value
        )
    merged = dict.fromkeys(Condition, Decimal(0))
    for condition, fee in value.items():
        rate = checks.money(fee, f"restocking_fee[{condition!s}]")
        if rate > 1:
            raise InvalidInput(
                f"restocking_fee[{condition!s}] is a fraction of the price, at most 1; got {fee}",
                field="restocking_fee",
                value=fee,
            )
        merged[checks.check_enum(Condition, condition, "restocking_fee condition")] = rate
    return MappingProxyType(merged)


def _window(_: object, __: attrs.Attribute[timedelta], value: timedelta) -> None:
    checks.positive_duration(value, "window")


def _flag(_: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise InvalidInput(f"{attribute.name} must be a bool", field=attribute.name, value=value)


def _hub(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        checks.identifier(value, "hub")


@attrs.frozen
class ReturnPolicy:
    """The rules for returns.

    Attributes:
        window: how long after a unit was fulfilled it may be returned (30 days).
        manual_review: whether requests wait in REQUESTED for ``authorize_return`` or
            ``reject_return`` (False: eligible requests are authorised at once).
        dispositions: what happens to a unit in each :class:`Condition`; conditions left out
            keep :data:`DEFAULT_DISPOSITIONS` (sellable: restock, damaged: quarantine,
            defective: write off).
        restocking_fee: the fraction of the unit price kept per condition (0 to 1; 0 when left
            out). ``{Condition.DAMAGED: Decimal("0.15")}`` refunds 85 % of a damaged unit.
        hub: the returns hub that TRANSFER dispositions send units to (over a lane from the
            receiving location); required when any disposition is TRANSFER.

    Raises:
        InvalidInput: a non-positive window, a fee outside 0..1, an unknown condition or
            disposition, or TRANSFER without a hub.
    """

    window: timedelta = attrs.field(default=timedelta(days=30), validator=_window)
    manual_review: bool = attrs.field(default=False, validator=_flag)
    dispositions: Mapping[Condition, Disposition] = attrs.field(
        factory=lambda: DEFAULT_DISPOSITIONS, converter=_dispositions, hash=False
    )
    restocking_fee: Mapping[Condition, Decimal] = attrs.field(
        factory=dict, converter=_fees, hash=False
    )
    hub: str | None = attrs.field(default=None, validator=_hub)

    def __attrs_post_init__(self) -> None:
        if self.hub is None and Disposition.TRANSFER in self.dispositions.values():
            raise InvalidInput(
                "a TRANSFER disposition needs a returns hub", field="hub", value=self.hub
            )


def refund_for(unit_price: Decimal, units: int, fee: Decimal) -> Decimal:
    """What ``units`` units bought at ``unit_price`` refund after a ``fee`` fraction, rounded
    down to the cent so that the refund never exceeds what was paid.

    >>> refund_for(Decimal("49.99"), 2, Decimal("0.15"))
    Decimal('84.98')
    """
    with localcontext(checks.MONEY_CONTEXT):
        return (unit_price * units * (1 - fee)).quantize(CENT, rounding=ROUND_DOWN)


def _condition(value: object) -> Condition:
    return checks.check_enum(Condition, value, "condition")


def _disposition(value: object) -> Disposition | None:
    return None if value is None else checks.check_enum(Disposition, value, "disposition")


def _units(_: object, __: attrs.Attribute[int], value: int) -> None:
    checks.positive(value)


@attrs.frozen
class Inspection:
    """Units of one returned line found in one condition.

    Attributes:
        condition: what they are found like.
        quantity: how many units.
        disposition: what to do with them; None: the policy's for the condition.
    """

    condition: Condition = attrs.field(converter=_condition)
    quantity: int = attrs.field(validator=_units)
    disposition: Disposition | None = attrs.field(default=None, converter=_disposition)


@attrs.frozen
class ReceivedUnits:
    """Units of one returned line, as received.

    Attributes:
        condition: what they were found like.
        disposition: what was done with them.
        quantity: how many units.
        refund: what they refund (price less the condition's restocking fee).
    """

    condition: Condition
    disposition: Disposition
    quantity: int
    refund: Decimal


@attrs.frozen
class ReturnLine:
    """Units of one order line coming back.

    Attributes:
        line_id: the order line.
        sku: its sku.
        quantity: units authorised for return.
        unit_price: what the customer paid per unit.
        received: how the units were found and what was done with them (after receipt).
    """

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    received: tuple[ReceivedUnits, ...] = ()

    @property
    def refund(self) -> Decimal:
        """What this line refunds (zero before receipt)."""
        with localcontext(checks.MONEY_CONTEXT):
            return sum((r.refund for r in self.received), Decimal(0))


@attrs.frozen
class ReturnAuthorization:
    """A return merchandise authorisation (RMA).

    Attributes:
        id: unique id.
        order_id: the order the units were bought in.
        at: the location the units are brought back to (it has ``RETURNS``).
        channel: the channel the return is made in (``Channel.STORE`` at a counter).
        ordered_in: the channel the order was placed in.
        lines: the units coming back, per order line.
        state: the :class:`ReturnState`.
        created_at: when it was requested.
        updated_at: when it last changed.
        reason: the customer's reason.
        decision: why it was rejected (REJECTED only).
        exchange_for: the id of a replacement order, for an exchange.
        transfer_to: the hub units with the TRANSFER disposition were sent to.
        arrived_at: when those units arrived at the hub.
        refunded_at: when the refund was issued (CLOSED).
        version: 1 when made, +1 at every change.
    """

    id: str
    order_id: str
    at: str
    channel: Channel
    ordered_in: Channel
    lines: tuple[ReturnLine, ...]
    state: ReturnState
    created_at: datetime
    updated_at: datetime
    reason: str = ""
    decision: str = ""
    exchange_for: str | None = None
    transfer_to: str | None = None
    arrived_at: datetime | None = None
    refunded_at: datetime | None = None
    version: int = 1

    @classmethod
    def request(
        cls,
        *,
        id: str,  # noqa: A002 - the field's name
        order_id: str,
        at: str,
        channel: Channel,
        ordered_in: Channel,
        lines: tuple[ReturnLine, ...],
        now: datetime,
        reason: str = "",
        exchange_for: str | None = None,
        authorize: bool,
    ) -> ReturnAuthorization:
        """A new RMA in REQUESTED, or AUTHORIZED at once when ``authorize``."""
        rma = cls(
            id=id,
            order_id=order_id,
            at=at,
            channel=channel,
            ordered_in=ordered_in,
            lines=lines,
            state=RETURN_TABLE.initial[ReturnCommand.REQUEST],
            created_at=now,
            updated_at=now,
            reason=reason,
            exchange_for=exchange_for,
        )
        return rma.authorize(now, fresh=True) if authorize else rma

    def _to(self, command: ReturnCommand, now: datetime, **changes: Any) -> ReturnAuthorization:
        state = RETURN_TABLE.fire(self.state, command, subject=self.id)
        return attrs.evolve(self, state=state, updated_at=now, version=self.version + 1, **changes)

    def authorize(self, now: datetime, *, fresh: bool = False) -> ReturnAuthorization:
        """REQUESTED -> AUTHORIZED (``fresh``: in the command that made it; version stays 1)."""
        done = self._to(ReturnCommand.AUTHORIZE, now)
        return attrs.evolve(done, version=self.version) if fresh else done

    def reject(self, now: datetime, reason: str) -> ReturnAuthorization:
        """REQUESTED -> REJECTED, with the reviewer's reason."""
        return self._to(ReturnCommand.REJECT, now, decision=reason)

    def receive(
        self,
        now: datetime,
        received: Mapping[str, tuple[ReceivedUnits, ...]],
        *,
        hub: str | None,
    ) -> ReturnAuthorization:
        """AUTHORIZED -> RECEIVED: each line with how its units were found and handled."""
        lines = tuple(attrs.evolve(line, received=received[line.line_id]) for line in self.lines)
        sent = any(r.disposition is Disposition.TRANSFER for line in lines for r in line.received)
        return self._to(ReturnCommand.RECEIVE, now, lines=lines, transfer_to=hub if sent else None)

    def refund(self, now: datetime) -> ReturnAuthorization:
        """RECEIVED -> CLOSED: the refund is issued."""
        return self._to(ReturnCommand.REFUND, now, refunded_at=now)

    def arrive(self, now: datetime) -> ReturnAuthorization:
        """The transferred units reached the hub (not a transition: the state stays)."""
        return attrs.evolve(self, arrived_at=now, updated_at=now, version=self.version + 1)

    @property
    def refund_total(self) -> Decimal:
        """The refund of every line (zero before receipt)."""
        with localcontext(checks.MONEY_CONTEXT):
            return sum((line.refund for line in self.lines), Decimal(0))

    @property
    def counts(self) -> bool:
        """Whether its units count against what may still be returned (all but REJECTED)."""
        return self.state is not ReturnState.REJECTED

    def units(self, disposition: Disposition) -> dict[str, int]:
        """Received units per sku with ``disposition``."""
        found: dict[str, int] = {}
        for line in self.lines:
            for r in line.received:
                if r.disposition is disposition:
                    found[line.sku] = found.get(line.sku, 0) + r.quantity
        return found

    @property
    def in_transit(self) -> dict[str, int]:
        """Units per sku on their way to the hub (TRANSFER, not arrived yet)."""
        return {} if self.arrived_at is not None else self.units(Disposition.TRANSFER)


def fulfilments(
    record: OrderRecord, reservations: Mapping[str, Reservation]
) -> dict[str, list[tuple[datetime, int]]]:
    """When the units of each order line reached the customer: ``{line_id: [(when, units)]}``.

    Shipped and collected units count; a ship-to-store transfer's arrival at the store does not
    (the customer collects from the READY reservation made then).
    """
    found: dict[str, list[tuple[datetime, int]]] = {line.id: [] for line in record.order.lines}
    seen: set[tuple[str, str]] = set()
    skus = {line.id: line.sku for line in record.order.lines}
    for s in record.sourcing:
        reservation = reservations.get(s.reservation_id)
        if (
            reservation is None
            or reservation.mode is Mode.TRANSFER
            or reservation.state is not ReservationState.FULFILLED
            or (s.reservation_id, s.line_id) in seen
        ):
            continue
        seen.add((s.reservation_id, s.line_id))
        for held in reservation.lines:
            if held.sku == skus[s.line_id] and held.fulfilled:
                when = reservation.changed_at
                found[s.line_id].append((when, held.fulfilled))
    return found


Conditions = Mapping[str, "Condition | Inspection | Sequence[Inspection]"]
"""What ``receive_return`` is told: per order line id, one Condition or Inspection values."""

Checked = dict[str, tuple[Inspection, ...] | Condition]


def check_conditions(conditions: object) -> Checked:
    """``conditions`` checked for shape (before any store is read), sorted by line id.

    Raises:
        InvalidInput: not a mapping of line ids to a Condition, an Inspection or a non-empty
            sequence of Inspections.
    """
    if conditions is None:
        return {}
    if not isinstance(conditions, Mapping):
        raise InvalidInput(
            "conditions must map order line ids to a Condition or Inspections",
            field="conditions",
            value=conditions,
        )
    checked: Checked = {}
    for line_id, given in sorted(conditions.items(), key=lambda kv: str(kv[0])):
        checks.identifier(line_id, "conditions line id")
        if isinstance(given, Inspection):
            checked[line_id] = (given,)
        elif isinstance(given, Sequence) and not isinstance(given, str):
            parts = tuple(given)
            if not parts or not all(isinstance(p, Inspection) for p in parts):
                raise InvalidInput(
                    f"conditions[{line_id!r}] must be Inspection values",
                    field="conditions",
                    value=given,
                )
            checked[line_id] = parts
        else:
            checked[line_id] = checks.check_enum(Condition, given, f"conditions[{line_id!r}]")
    return checked


def inspect(
    rma: ReturnAuthorization, conditions: Checked, policy: ReturnPolicy
) -> dict[str, tuple[ReceivedUnits, ...]]:
    """How every unit of ``rma`` was found, and its disposition and refund.

    Args:
        rma: the authorisation being received.
        conditions: from :func:`check_conditions`; lines left out are SELLABLE.
        policy: gives the disposition (unless an inspection names one) and the fees.

    Raises:
        InvalidInput: a line not in the RMA, or inspections that do not add up to the line's
            units.
    """
    lines = {line.line_id: line for line in rma.lines}
    for line_id in conditions:
        if line_id not in lines:
            raise InvalidInput(
                f"return {rma.id!r} has no line {line_id!r}", field="conditions", value=line_id
            )
    received: dict[str, tuple[ReceivedUnits, ...]] = {}
    for line_id, line in lines.items():
        given = conditions.get(line_id, Condition.SELLABLE)
        parts = given if isinstance(given, tuple) else (Inspection(given, line.quantity),)
        if sum(p.quantity for p in parts) != line.quantity:
            raise InvalidInput(
                f"conditions[{line_id!r}] cover {sum(p.quantity for p in parts)} units; "
                f"{line.quantity} are returned",
                field="conditions",
                value=given,
            )
        received[line_id] = tuple(
            ReceivedUnits(
                p.condition,
                p.disposition or policy.dispositions[p.condition],
                p.quantity,
                refund_for(line.unit_price, p.quantity, policy.restocking_fee[p.condition]),
            )
            for p in parts
        )
    return received
