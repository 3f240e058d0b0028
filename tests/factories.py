"""Test building blocks: the sample network and the store adapters to run against."""

from __future__ import annotations

from omniorder import Capability, Geo, InMemoryStore, Location, LocationKind, Network
from omniorder.stores.base import Store

STORE_1 = "store-camden"
"""A London store with a till, a pickup counter and returns; it does not ship."""
STORE_2 = "store-leeds"
"""A Leeds store with a till, a pickup counter and ship-from-store."""
WAREHOUSE = "wh-midlands"
"""A warehouse that ships; no till, no counter."""

STORE_KINDS = ("memory",)
"""The adapters every store-dependent test runs against."""


def sample_network() -> Network:
    """Two stores and a warehouse in England."""
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
        ]
    )


def make_store(kind: str) -> Store:
    """A new, empty store of ``kind``."""
    if kind == "memory":
        return InMemoryStore()
    raise ValueError(f"unknown store kind {kind!r}")
