"""Hypothesis strategies for omniorder's values and events (needs the ``hypothesis`` package).

Use them in your own property tests::

    from hypothesis import given
    from omniorder.testing import strategies as ost

    @given(ost.networks())
    def test_my_router_accepts_any_network(network): ...
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from omniorder.allocation.problem import AllocationProblem
from omniorder.model.events import (
    EVENT_TYPES,
    Event,
    InspectedUnits,
    LineRefund,
    LocationUnits,
    ReturnUnits,
)
from omniorder.model.network import Lane, Location, Network
from omniorder.model.order import Order, OrderLine, Pickup, Ship, ShipToStore
from omniorder.model.position import MovementKind, Position
from omniorder.model.reservation import Reservation, ReservationLine, ReservationState
from omniorder.model.returns import Condition, Disposition, ReturnState
from omniorder.model.values import Capability, Channel, Geo, Line, LocationKind, Mode

__all__ = [
    "aware_datetimes",
    "channels",
    "events",
    "geos",
    "identifiers",
    "lanes_for",
    "lines",
    "locations",
    "money",
    "movement_kinds",
    "networks",
    "positions",
    "problems",
    "quantities",
    "reservations",
    "skus",
]

_ID_ALPHABET = st.characters(codec="utf-8", categories=("L", "N"), include_characters="-_.:/")


def identifiers(prefix: str = "") -> st.SearchStrategy[str]:
    """Valid ids: printable, no surrounding whitespace, 1 to 40 characters."""
    return st.text(_ID_ALPHABET, min_size=1, max_size=40).map(lambda s: prefix + s)


def skus() -> st.SearchStrategy[str]:
    """Valid sku ids."""
    return identifiers()


def quantities(max_value: int = 1_000) -> st.SearchStrategy[int]:
    """Positive unit counts."""
    return st.integers(min_value=1, max_value=max_value)


def money() -> st.SearchStrategy[Decimal]:
    """Non-negative amounts with two decimal places."""
    return st.decimals(
        min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False
    )


def aware_datetimes() -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes (UTC and fixed offsets)."""
    zones = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))])
    # Hypothesis takes naive bounds and attaches the zones itself.
    low, high = datetime(2000, 1, 1), datetime(2100, 1, 1)  # noqa: DTZ001
    return st.datetimes(min_value=low, max_value=high, timezones=zones)


def channels() -> st.SearchStrategy[Channel]:
    """Any channel."""
    return st.sampled_from(Channel)


def geos() -> st.SearchStrategy[Geo]:
    """Points on Earth."""
    return st.builds(
        Geo,
        st.floats(min_value=-90, max_value=90, allow_nan=False),
        st.floats(min_value=-180, max_value=180, allow_nan=False),
    )


def locations(location_id: str | None = None) -> st.SearchStrategy[Location]:
    """A warehouse or store with any capabilities."""
    return st.builds(
        Location,
        st.just(location_id) if location_id is not None else identifiers("L"),
        st.sampled_from(LocationKind),
        geos(),
        st.frozensets(st.sampled_from(Capability)),
        priority=st.integers(min_value=-10, max_value=10),
        capacity=st.none() | st.integers(min_value=0, max_value=50),
        handling=st.none() | money(),
        name=st.text(max_size=20).filter(str.isprintable),
    )


def lanes_for(ids: list[str]) -> st.SearchStrategy[list[Lane]]:
    """Lanes between distinct locations of ``ids`` (at most one per ordered pair)."""
    pairs = [(a, b) for a in ids for b in ids if a != b]
    if not pairs:
        return st.just([])
    return st.lists(st.sampled_from(pairs), unique=True, max_size=min(len(pairs), 6)).flatmap(
        lambda chosen: st.tuples(
            *(
                st.builds(
                    Lane,
                    st.just(a),
                    st.just(b),
                    st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=5)),
                    money(),
                )
                for a, b in chosen
            )
        ).map(list)
    )


@st.composite
def networks(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> Network:
    """A network of distinct locations, with some lanes between them."""
    count = draw(st.integers(min_value=min_size, max_value=max_size))
    found = [draw(locations(f"L{i}")) for i in range(count)]
    return Network(found, draw(lanes_for([loc.id for loc in found])))


def lines(
    sku_ids: list[str] | None = None, max_units: int = 5
) -> st.SearchStrategy[dict[str, int]]:
    """Non-empty ``{sku: units}`` mappings."""
    keys = st.sampled_from(sku_ids) if sku_ids else skus()
    return st.dictionaries(keys, quantities(max_units), min_size=1, max_size=4)


def positions() -> st.SearchStrategy[Position]:
    """Legal positions (reserved + committed never above on_hand)."""

    @st.composite
    def build(draw: st.DrawFn) -> Position:
        on_hand = draw(st.integers(min_value=0, max_value=1_000))
        reserved = draw(st.integers(min_value=0, max_value=on_hand))
        committed = draw(st.integers(min_value=0, max_value=on_hand - reserved))
        return Position(
            draw(identifiers("L")),
            draw(skus()),
            on_hand,
            reserved,
            committed,
            draw(st.integers(min_value=0, max_value=50)),
            draw(st.integers(min_value=0, max_value=50)),
            draw(st.integers(min_value=0, max_value=50)),
        )

    return build()


@st.composite
def reservations(draw: st.DrawFn) -> Reservation:
    """Reservations in any state, with consistent per-line quantities."""
    res_lines = []
    for sku, units in sorted(draw(lines()).items()):
        fulfilled = draw(st.integers(min_value=0, max_value=units))
        released = draw(st.integers(min_value=0, max_value=units - fulfilled))
        res_lines.append(ReservationLine(sku, units, fulfilled, released))
    created = draw(aware_datetimes())
    return Reservation(
        id=draw(identifiers("res_")),
        location=draw(identifiers("L")),
        lines=tuple(res_lines),
        channel=draw(channels()),
        mode=draw(st.sampled_from(Mode)),
        state=draw(st.sampled_from(ReservationState)),
        created_at=created,
        expires_at=draw(st.none() | aware_datetimes()),
        order_id=draw(st.none() | identifiers("O")),
        version=draw(st.integers(min_value=1, max_value=20)),
        updated_at=draw(st.none() | aware_datetimes()),
    )


def _line_tuples() -> st.SearchStrategy[tuple[Line, ...]]:
    return lines().map(lambda m: tuple(Line(s, q) for s, q in sorted(m.items())))


def _for_type(hint: Any) -> st.SearchStrategy[Any]:
    table: dict[Any, st.SearchStrategy[Any]] = {
        datetime: aware_datetimes(),
        str: identifiers(),
        str | None: st.none() | identifiers(),
        int: st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
        Channel: channels(),
        Mode: st.sampled_from(Mode),
        ReservationState: st.sampled_from(ReservationState),
        tuple[Line, ...]: _line_tuples(),
        tuple[str, ...]: st.lists(identifiers(), max_size=3).map(tuple),
        tuple[LocationUnits, ...]: st.lists(
            st.builds(LocationUnits, identifiers("L"), quantities()), max_size=3
        ).map(tuple),
        Decimal: money(),
        ReturnState: st.sampled_from(ReturnState),
        Disposition: st.sampled_from(Disposition),
        tuple[ReturnUnits, ...]: st.lists(
            st.builds(ReturnUnits, identifiers(), identifiers(), quantities()), max_size=3
        ).map(tuple),
        tuple[InspectedUnits, ...]: st.lists(
            st.builds(
                InspectedUnits,
                identifiers(),
                identifiers(),
                st.sampled_from(Condition),
                st.sampled_from(Disposition),
                quantities(),
            ),
            max_size=3,
        ).map(tuple),
        tuple[LineRefund, ...]: st.lists(
            st.builds(LineRefund, identifiers(), money()), max_size=3
        ).map(tuple),
    }
    return table[hint]


def events() -> st.SearchStrategy[Event]:
    """Any event, with plausible field values (for round-trip tests)."""
    builders = []
    for cls in EVENT_TYPES:
        hints = typing.get_type_hints(cls)
        kwargs = {f.name: _for_type(hints[f.name]) for f in attrs.fields(cls)}
        kwargs["seq"] = st.integers(min_value=1, max_value=10**9)
        builders.append(st.builds(cls, **kwargs))
    return st.one_of(builders)


def movement_kinds() -> st.SearchStrategy[MovementKind]:
    """Any movement kind."""
    return st.sampled_from(MovementKind)


@st.composite
def problems(
    draw: st.DrawFn,
    max_orders: int = 6,
    max_locations: int = 5,
    sku_ids: tuple[str, ...] = ("a", "b", "c"),
) -> AllocationProblem:
    """Sourcing problems: random networks in one region, stock, capacities, split limits, and
    orders mixing shipped, pickup and ship-to-store lines."""
    region = st.builds(Geo, st.floats(50, 55), st.floats(-4, 1))
    locations = [
        Location(
            f"L{i}",
            draw(st.sampled_from(LocationKind)),
            draw(region),
            draw(st.frozensets(st.sampled_from(Capability))),
            priority=draw(st.integers(-2, 2)),
            capacity=draw(st.none() | st.integers(0, 4)),
        )
        for i in range(draw(st.integers(1, max_locations)))
    ]
    ids = [loc.id for loc in locations]
    network = Network(locations, draw(lanes_for(ids)))
    supply = {
        (loc, sku): draw(st.integers(0, 6)) for loc in ids for sku in sku_ids if draw(st.booleans())
    }
    orders = []
    for n in range(draw(st.integers(1, max_orders))):
        to = draw(region)
        kinds = st.one_of(
            st.just(Ship(to)),
            st.sampled_from(ids).map(Pickup),
            st.sampled_from(ids).map(ShipToStore),
        )
        lines: dict[tuple[str, tuple[str, str]], OrderLine] = {}
        for j in range(draw(st.integers(1, 3))):
            line = OrderLine(
                f"{j}",
                draw(st.sampled_from(sku_ids)),
                draw(st.integers(1, 4)),
                Decimal("9.99"),
                draw(kinds),
            )
            lines.setdefault((line.sku, line.slot), line)
        orders.append(Order(f"O{n}", draw(channels()), list(lines.values())))
    return AllocationProblem(
        network, orders, supply, max_splits=draw(st.none() | st.integers(1, 3))
    )
