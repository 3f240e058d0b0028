"""The auditor behind ``engine.verify()``: replay the ledger and compare (promises 1 and 2)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import attrs

from omniorder.model.position import COUNTERS, Movement, Position
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.model.returns import ReturnAuthorization

__all__ = ["Discrepancy", "audit", "replay"]


@attrs.frozen
class Discrepancy:
    """One disagreement between the stored state and what the ledger and reservations imply.

    Attributes:
        kind: ``"ledger"`` (a counter differs from the replayed ledger), ``"reservations"``
            (reserved/committed differ from the sum over live reservations), ``"invariant"``
            (a counter is negative or reserved + committed exceed on_hand), ``"sequence"``
            (ledger or event numbers do not grow from 1 up).
        location: the location id ("" when not about one position).
        sku: the sku ("" when not about one position).
        field: the counter at fault (``"on_hand"``, ...), or what is at fault.
        expected: what the ledger or reservations say.
        actual: what is stored.
        detail: a readable sentence.
    """

    kind: str
    location: str
    sku: str
    field: str
    expected: int
    actual: int
    detail: str


def replay(movements: Iterable[Movement]) -> dict[tuple[str, str], Position]:
    """Every position, rebuilt from zero by applying ``movements`` in order."""
    positions: dict[tuple[str, str], Position] = {}
    for move in movements:
        key = (move.location, move.sku)
        current = positions.get(key) or Position(move.location, move.sku)
        positions[key] = current.apply(move.kind, move.quantity)
    return positions


def _sequence(name: str, numbers: Iterable[int]) -> list[Discrepancy]:
    """Numbers must grow (gaps are allowed: no store promises gap-free numbering)."""
    previous = 0
    for actual in numbers:
        if actual <= previous:
            return [
                Discrepancy(
                    "sequence",
                    "",
                    "",
                    name,
                    previous + 1,
                    actual,
                    f"{name} numbers do not grow: {actual} follows {previous}",
                )
            ]
        previous = actual
    return []


def audit(
    positions: Iterable[Position],
    movements: Iterable[Movement],
    reservations: Iterable[Reservation],
    event_seqs: Iterable[int] = (),
    returns: Iterable[ReturnAuthorization] = (),
) -> list[Discrepancy]:
    """Every discrepancy between stored positions, the ledger, and the live reservations.

    Args:
        positions: every stored position.
        movements: the whole ledger, in ``seq`` order.
        reservations: every open reservation as stored (HELD, CONFIRMED, READY, IN_TRANSIT),
            including holds past their expiry that no sweep has expired yet (their units are
            still counted); transfers in transit must account for every inbound unit.
        event_seqs: the event log's sequence numbers, in order.
        returns: every return authorisation (units sent to a returns hub are inbound there
            until they arrive).
    """
    moves = list(movements)
    found = _sequence("ledger", (m.seq for m in moves)) + _sequence("events", event_seqs)
    replayed = replay(moves)
    held: dict[tuple[str, str], int] = defaultdict(int)
    committed: dict[tuple[str, str], int] = defaultdict(int)
    inbound: dict[tuple[str, str], int] = defaultdict(int)
    for res in reservations:
        if res.state is ReservationState.IN_TRANSIT:
            assert res.destination is not None
            for line in res.lines:
                inbound[(res.destination, line.sku)] += line.open
            continue
        bucket = held if res.state is ReservationState.HELD else committed
        for line in res.lines:
            bucket[(res.location, line.sku)] += line.open
    for rma in returns:
        if rma.transfer_to is not None:
            for sku, units in rma.in_transit.items():
                inbound[(rma.transfer_to, sku)] += units
    stored = {(p.location, p.sku): p for p in positions}
    for key in sorted(set(stored) | set(replayed) | set(held) | set(committed) | set(inbound)):
        location, sku = key
        actual = stored.get(key) or Position(location, sku)
        expected = replayed.get(key) or Position(location, sku)
        for name, want, have in zip(COUNTERS, expected.counters(), actual.counters(), strict=True):
            if want != have:
                found.append(
                    Discrepancy(
                        "ledger",
                        location,
                        sku,
                        name,
                        want,
                        have,
                        f"{name} of {sku} at {location} is {have}; the ledger says {want}",
                    )
                )
        for name, want, have in (
            ("reserved", held[key], actual.reserved),
            ("committed", committed[key], actual.committed),
            ("inbound", inbound[key], actual.inbound),
        ):
            if want != have:
                found.append(
                    Discrepancy(
                        "reservations",
                        location,
                        sku,
                        name,
                        want,
                        have,
                        f"{name} of {sku} at {location} is {have}; live reservations hold {want}",
                    )
                )
        found.extend(
            Discrepancy(
                "invariant", location, sku, "position", 0, 0, f"{sku} at {location}: {problem}"
            )
            for problem in actual.violations()
        )
    return found
