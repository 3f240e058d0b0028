"""Small shared values: channels, modes, capabilities, geography and sku lines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum

import attrs

from omniorder.model import checks

__all__ = [
    "REMOTE_CHANNELS",
    "Capability",
    "Channel",
    "Geo",
    "Line",
    "LocationKind",
    "Mode",
    "lines_of",
]

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), used for great-circle distances."""


class Channel(StrEnum):
    """Where a customer interaction comes from.

    Every channel reads and writes the same ledger; the only difference between two channels'
    availability is a declared policy: safety stock is withheld from the remote channels
    (:data:`REMOTE_CHANNELS`) and not from ``STORE`` (the store's own till and counter).
    """

    WEB = "web"
    APP = "app"
    STORE = "store"
    CALL_CENTER = "call_center"
    MARKETPLACE = "marketplace"


REMOTE_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.WEB, Channel.APP, Channel.CALL_CENTER, Channel.MARKETPLACE}
)
"""Channels that sell stock the customer cannot see on the shelf: safety stock is withheld."""


class Mode(StrEnum):
    """How a reservation's units leave their location.

    ``PICKUP``: the customer collects them at that location (``mark_ready`` then ``collect``).
    ``SHIP``: a parcel to the customer (``ship``). ``TRANSFER``: sent to another location
    (ship-to-store), also ended by ``ship``.
    """

    PICKUP = "pickup"
    SHIP = "ship"
    TRANSFER = "transfer"


class Capability(StrEnum):
    """What a location can do."""

    SHIP = "ship"
    """Ships parcels to customers."""
    PICKUP = "pickup"
    """Has a click-and-collect counter."""
    RETURNS = "returns"
    """Accepts returns."""
    SELL = "sell"
    """Has a till that sells to walk-in customers."""


class LocationKind(StrEnum):
    """Warehouse (distribution centre) or store."""

    WAREHOUSE = "warehouse"
    STORE = "store"


def _latitude(_: object, __: attrs.Attribute[float], value: float) -> None:
    checks.finite(value, "lat", -90.0, 90.0)


def _longitude(_: object, __: attrs.Attribute[float], value: float) -> None:
    checks.finite(value, "lon", -180.0, 180.0)


@attrs.frozen
class Geo:
    """A point on Earth.

    Attributes:
        lat: latitude in degrees, -90 to 90.
        lon: longitude in degrees, -180 to 180.
    """

    lat: float = attrs.field(validator=_latitude)
    lon: float = attrs.field(validator=_longitude)

    def km(self, other: Geo) -> float:
        """Great-circle distance to ``other`` in kilometres (haversine, mean Earth radius).

        >>> round(Geo(51.5074, -0.1278).km(Geo(48.8566, 2.3522)))
        344
        """
        phi1, phi2 = math.radians(self.lat), math.radians(other.lat)
        dphi = phi2 - phi1
        dlmb = math.radians(other.lon - self.lon)
        h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _line_sku(_: object, __: attrs.Attribute[str], value: str) -> None:
    checks.identifier(value, "sku")


def _line_quantity(_: object, __: attrs.Attribute[int], value: int) -> None:
    checks.positive(value, "quantity")


@attrs.frozen
class Line:
    """Some units of one sku.

    Attributes:
        sku: the stock keeping unit.
        quantity: how many units (at least 1).
    """

    sku: str = attrs.field(validator=_line_sku)
    quantity: int = attrs.field(validator=_line_quantity)


def _trusted_line(sku: str, quantity: int) -> Line:
    """A :class:`Line` of a sku and a quantity the model has already checked, made without
    running the validators again (a reservation's own lines: values are validated once).

    Only for values that went through :func:`~omniorder.model.checks.identifier` and
    :func:`~omniorder.model.checks.positive`; anything from outside goes through ``Line(...)``.
    """
    line = object.__new__(Line)
    object.__setattr__(line, "sku", sku)  # what attrs' own __init__ does, less the validators
    object.__setattr__(line, "quantity", quantity)
    return line


def lines_of(quantities: Mapping[str, int]) -> tuple[Line, ...]:
    """The ``{sku: units}`` mapping as :class:`Line` values sorted by sku, skipping zeros."""
    return tuple(Line(sku, units) for sku, units in sorted(quantities.items()) if units)
