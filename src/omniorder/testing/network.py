"""The small network every contract test and the stateful machine run on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from omniorder.model.network import Lane, Location, Network
from omniorder.model.values import Capability, Geo, LocationKind

__all__ = ["START", "STORE_1", "STORE_2", "WAREHOUSE", "sample_network"]

STORE_1: Final = "store-camden"
"""A London store with a till, a pickup counter and returns; it does not ship."""
STORE_2: Final = "store-leeds"
"""A Leeds store with a till, a pickup counter, returns and ship-from-store."""
WAREHOUSE: Final = "wh-midlands"
"""A warehouse that ships; no till, no counter."""
START: Final = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
"""Where the tests' manual clocks start."""


def sample_network() -> Network:
    """Two stores and a warehouse in England, with lanes from the warehouse to both stores and
    from Leeds to Camden (for ship-to-store)."""
    return Network(
        [
            Location(
                STORE_1,
                LocationKind.STORE,
                Geo(51.5390, -0.1426),
                {Capability.PICKUP, Capability.SELL, Capability.RETURNS},
                name="Camden",
            ),
            Location(
                STORE_2,
                LocationKind.STORE,
                Geo(53.7997, -1.5492),
                {Capability.PICKUP, Capability.SELL, Capability.RETURNS, Capability.SHIP},
                name="Leeds",
            ),
            Location(
                WAREHOUSE,
                LocationKind.WAREHOUSE,
                Geo(52.4862, -1.8904),
                {Capability.SHIP},
                name="Midlands DC",
            ),
        ],
        [
            Lane(WAREHOUSE, STORE_1, timedelta(days=1), Decimal("6.00")),
            Lane(WAREHOUSE, STORE_2, timedelta(days=1), Decimal("5.00")),
            Lane(STORE_2, STORE_1, timedelta(days=2), Decimal("9.00")),
        ],
    )
