"""A walk-in sale at a till."""

from __future__ import annotations

from datetime import datetime

import attrs

from omniorder.model.values import Channel, Line

__all__ = ["Sale"]


@attrs.frozen
class Sale:
    """Units sold over the counter at a location with a till.

    Attributes:
        id: the sale's id (the ledger's reference for its movements).
        location: the store that sold.
        channel: the channel it is booked in (``Channel.STORE`` for a till).
        lines: what was sold, by sku.
        at: when.
    """

    id: str
    location: str
    channel: Channel
    lines: tuple[Line, ...]
    at: datetime
