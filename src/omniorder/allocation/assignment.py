"""What a plan is made of: units of an order line given by a location, or given by none."""

from __future__ import annotations

import attrs

__all__ = ["Assignment", "Unallocated"]


@attrs.frozen
class Assignment:
    """Units of one order line given by one location.

    Attributes:
        order_id: the order.
        line_id: the line.
        location: where the units come from.
        quantity: how many (at least 1).
    """

    order_id: str
    line_id: str
    location: str
    quantity: int


@attrs.frozen
class Unallocated:
    """Units of one order line no location gives.

    Attributes:
        order_id: the order.
        line_id: the line.
        quantity: how many (at least 1).
        reason: why, in words (``"not enough stock: ..."``, ``"no location can serve it"``).
    """

    order_id: str
    line_id: str
    quantity: int
    reason: str
