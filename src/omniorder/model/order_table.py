"""The order's status as a strict state machine: :data:`ORDER_TABLE` (DESIGN §2.4).

An order's :class:`~omniorder.OrderStatus` says where the order stands as a whole; its units move
through the reservation machine. Which order command is legal in which status is this table and
nothing else: the engine asks :func:`order_status_after` and never tests a status itself.

"No order yet" is not a status. Like the reservation and return tables, the commands that make an
order are :attr:`Table.initial <omniorder.model.machine.Table.initial>` (``hold_order`` makes it
HELD, ``place_order`` makes it PLACED), and :func:`order_status_after` takes ``None`` for an order
that does not exist. A state for "absent" would be a state no stored order is ever in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from omniorder.model.machine import Table
from omniorder.model.order import OrderStatus

__all__ = ["ORDER_TABLE", "OrderCommand", "order_status_after"]


class OrderCommand(StrEnum):
    """The commands of :data:`ORDER_TABLE`, named after the engine's methods."""

    HOLD_ORDER = "hold_order"
    """Hold the order's stock for checkout (again: the old holds are released first)."""
    PLACE_ORDER = "place_order"
    """Sell the order: confirm its holds and source the rest (or backorder it)."""


_S = OrderStatus
_C = OrderCommand

ORDER_TABLE: Final = Table(
    name="order",
    states=OrderStatus,
    commands=OrderCommand,
    initial={_C.HOLD_ORDER: _S.HELD, _C.PLACE_ORDER: _S.PLACED},
    transitions={
        (_S.HELD, _C.HOLD_ORDER): _S.HELD,
        (_S.HELD, _C.PLACE_ORDER): _S.PLACED,
    },
    terminal=frozenset({_S.PLACED}),
)
"""``(status, command) -> status`` for orders: the whole truth (promise 7).

A held order can be held again (its cart changed, or its holds are renewed) or placed; a placed
order is never held or placed again. PLACED is final *for the status*: what happens to a placed
order's units afterwards (shipping, collection, rejection, returns) is the reservation machine's.
"""


def order_status_after(
    status: OrderStatus | None, command: OrderCommand, *, order_id: str
) -> OrderStatus:
    """The status of order ``order_id`` after ``command``.

    Args:
        status: the order's status now, or None when there is no such order yet.
        command: what is asked of it.
        order_id: the order (named in the error).

    Raises:
        InvalidTransition: :data:`ORDER_TABLE` refuses ``command`` in ``status`` (a placed order
            is never held or placed again); nothing may be written.
    """
    if status is None:  # every order command today makes the order it names
        return ORDER_TABLE.initial[command]
    reason = f"it is already {status.name.lower()}" if status in ORDER_TABLE.terminal else ""
    return ORDER_TABLE.fire(status, command, subject=order_id, reason=reason)
