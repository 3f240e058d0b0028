"""The cost model every solver is judged by (DESIGN §3).

It is documented and reproducible, so plans can be compared across solvers:

* each **shipment** (one per order and origin, for shipped lines) costs
  ``shipment_fixed + per_km * km(origin, customer)`` (defaults 7 and 0.003);
* each **transfer** (one per order and origin, for ship-to-store lines) costs its lane's cost;
* each **unit** costs its origin's handling (``handling[kind]``: warehouse 0.5, store 1.5, or the
  location's own ``handling``);
* each unit left **unallocated** costs ``unfilled_penalty`` (100), so every solver fills first.

Costs are ``Decimal``. Where an algorithm needs integers (min-cost flow) or floats (the MIP),
:meth:`CostModel.to_minor` is the one conversion: integer minor units (1/100 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType
from typing import Final

import attrs

from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.network import Lane, Location
from omniorder.model.values import Geo, LocationKind

__all__ = ["DEFAULT_HANDLING", "SEARCH_SCALE", "CostModel"]

SEARCH_SCALE: Final = 1_000_000
"""Integer units per 1 of money in which heuristics add and compare costs (millionths)."""

DEFAULT_HANDLING: Final[Mapping[LocationKind, Decimal]] = MappingProxyType(
    {LocationKind.WAREHOUSE: Decimal("0.5"), LocationKind.STORE: Decimal("1.5")}
)
"""Per-unit handling by location kind: a store's pick costs more staff time than a warehouse's."""


def _fixed(value: Decimal | int) -> Decimal:
    return checks.money(value, "shipment_fixed")


def _per_km(value: Decimal | int) -> Decimal:
    return checks.money(value, "per_km")


def _penalty(value: Decimal | int) -> Decimal:
    return checks.money(value, "unfilled_penalty")


def _handling(value: Mapping[LocationKind | str, Decimal | int]) -> Mapping[LocationKind, Decimal]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            "handling must map LocationKind to Decimal", field="handling", value=value
        )
    merged = dict(DEFAULT_HANDLING)
    for kind, amount in value.items():
        merged[checks.check_enum(LocationKind, kind, "handling kind")] = checks.money(
            amount, f"handling[{kind!s}]"
        )
    return MappingProxyType(merged)


def _minor(_: object, __: attrs.Attribute[int], value: int) -> None:
    checks.positive(value, "minor_units")


@attrs.frozen
class CostModel:
    """What a plan costs.

    Attributes:
        shipment_fixed: the fixed cost of one shipment (7).
        per_km: the cost per great-circle kilometre of one shipment (0.003).
        handling: per-unit handling by location kind (warehouse 0.5, store 1.5); kinds left out
            keep the defaults. A location's own ``handling`` overrides its kind's.
        unfilled_penalty: the cost of each unit left unallocated (100).
        minor_units: integer units per 1 of money for integer algorithms (100: cents).
    """

    shipment_fixed: Decimal = attrs.field(default=Decimal(7), converter=_fixed)
    per_km: Decimal = attrs.field(default=Decimal("0.003"), converter=_per_km)
    handling: Mapping[LocationKind, Decimal] = attrs.field(
        factory=lambda: DEFAULT_HANDLING, converter=_handling, hash=False
    )
    unfilled_penalty: Decimal = attrs.field(default=Decimal(100), converter=_penalty)
    minor_units: int = attrs.field(default=100, validator=_minor)

    def unit(self, origin: Location) -> Decimal:
        """Handling cost of one unit at ``origin``."""
        return origin.handling if origin.handling is not None else self.handling[origin.kind]

    def shipment(self, origin: Location, to: Geo) -> Decimal:
        """Cost of one shipment from ``origin`` to ``to``."""
        km = Decimal(repr(round(origin.geo.km(to), 3)))
        return self.shipment_fixed + self.per_km * km

    def transfer(self, lane: Lane) -> Decimal:
        """Cost of one transfer over ``lane``."""
        return lane.cost

    def to_minor(self, amount: Decimal, *, scale: int | None = None) -> int:
        """``amount`` in integer units of ``1/scale`` (default ``1/minor_units``), banker's
        rounding: the one conversion of money to the integers algorithms compute with.

        Heuristics that only compare costs use ``scale=SEARCH_SCALE`` (millionths), exact for
        the default cost model.
        """
        per = self.minor_units if scale is None else scale
        with localcontext(checks.MONEY_CONTEXT):
            return int((amount * per).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
