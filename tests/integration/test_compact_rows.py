"""SQLite's compact rows (schema 7, issue 15): fewer bytes per command, the same values read back.

A reservation's or an event's body holds only what its row's columns do not; loading it gives
the value that was written, down to the public JSON (a time's offset included). A store written
at schema 6 (``fixtures/schema_6.sqlite3``, whole JSON bodies) opens, is migrated, reads every old
row as the old code did, and works; a damaged compact body is a :class:`StoreError`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniorder import Channel, Engine, ManualClock, Mode, SQLiteStore
from omniorder.model.errors import StoreError
from omniorder.model.events import Event
from omniorder.model.reservation import Reservation, ReservationState
from omniorder.serialization import structure, to_json
from omniorder.stores import _sql
from omniorder.stores._compact import (
    event_body,
    event_from_row,
    reservation_body,
    reservation_from_row,
)
from omniorder.testing import strategies as ost
from omniorder.testing.network import START, STORE_2, sample_network

FIXTURE = Path(__file__).parent / "fixtures" / "schema_6.sqlite3"
LAST_TIME = START + timedelta(hours=1)  # the fixture's last command


def _row(reservation: Reservation) -> tuple[object, ...]:
    expires = reservation.expires_at
    return (
        reservation_body(reservation),
        reservation.id,
        reservation.location,
        reservation.state.value,
        reservation.version,
        None if expires is None else _sql.micros(expires),
    )


@given(ost.reservations(), st.none() | ost.identifiers("store-"))
def test_a_compact_reservation_loads_as_it_was_written(
    reservation: Reservation, destination: str | None
) -> None:
    reservation = attrs.evolve(reservation, destination=destination)
    loaded = reservation_from_row(_row(reservation))
    assert loaded == reservation
    assert to_json(loaded) == to_json(reservation)


@given(ost.events())
def test_a_compact_event_loads_as_it_was_written(event: Event) -> None:
    row = (event.seq, event_body(event), type(event).__name__, event.at.isoformat())
    loaded = event_from_row(row)
    assert loaded == event
    assert to_json(loaded) == to_json(event)


def test_a_new_hold_is_written_without_what_its_columns_hold() -> None:
    now = datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC)
    held, _ = Reservation.hold(
        id="res_1",
        location=STORE_2,
        quantities={"sofa": 1},
        channel=Channel.WEB,
        mode=Mode.SHIP,
        now=now,
        expires_at=now + timedelta(minutes=15),
    )
    assert json.loads(reservation_body(held)) == {
        "lines": [["sofa", 1]],
        "channel": "web",
        "mode": "ship",
        "created_at": _sql.micros(now),
    }


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "{",
        '{"lines": [["sofa"]], "channel": "web", "mode": "ship", "created_at": 1}',
        '{"lines": [["sofa", 1]], "channel": "web", "mode": "ship"}',
        '{"lines": [["sofa", 1]], "channel": "web", "mode": "ship", "created_at": 1, "x": 1}',
        '{"lines": [["sofa", true]], "channel": "web", "mode": "ship", "created_at": 1}',
        '{"lines": [["sofa", 1]], "channel": "tv", "mode": "ship", "created_at": 1}',
        '{"lines": [["sofa", 1]], "channel": "web", "mode": "ship", "created_at": 10E300}',
        '{"lines": [["sofa", 1]], "channel": "web", "mode": "ship", "created_at": 10000000000'
        "0000000000}",
    ],
)
def test_a_damaged_compact_reservation_is_a_store_error(body: str) -> None:
    with pytest.raises(StoreError):
        reservation_from_row((body, "res_1", STORE_2, "HELD", 1, None))


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("Teleported", "{}"),
        ("StockReceived", "[]"),
        ("StockReceived", '{"location": "store-leeds", "sku": "sofa"}'),
        ("StockReceived", '{"location": "store-leeds", "sku": "sofa", "quantity": 1, "x": 1}'),
        ("StockSold", '{"sale_id": "s", "location": "l", "channel": "store", "lines": [["a"]]}'),
        ("StockSold", '{"sale_id": "s", "location": "l", "channel": "store", "lines": "a"}'),
        (
            "ReservationExtended",
            '{"reservation_id": "r", "location": "l", "channel": "web", "expires_at": "soon"}',
        ),
    ],
)
def test_a_damaged_compact_event_is_a_store_error(kind: str, body: str) -> None:
    with pytest.raises(StoreError):
        event_from_row((1, body, kind, START.isoformat()))


# -- a store written at schema 6 ----------------------------------------------------------------
@pytest.fixture
def old_path(tmp_path: Path) -> Path:
    path = tmp_path / "schema_6.sqlite3"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (6,)
    return path


def _as_written(path: Path) -> tuple[list[Event], list[Reservation]]:
    """The events and reservations of a schema 6 file, read as schema 6's code read them."""
    with sqlite3.connect(path) as conn:
        events = [
            attrs.evolve(structure(json.loads(body), Event), seq=seq)
            for seq, body in conn.execute("SELECT seq, body FROM event ORDER BY seq")
        ]
        reservations = [
            structure(json.loads(body), Reservation)
            for (body,) in conn.execute("SELECT body FROM reservation ORDER BY id")
        ]
    return events, reservations


def test_a_store_written_at_schema_6_reads_every_old_row_as_it_was(old_path: Path) -> None:
    events, reservations = _as_written(old_path)
    store = SQLiteStore(old_path)
    try:
        conn = store._connection()
        assert conn.execute("PRAGMA user_version").fetchone() == (7,)
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "ledger_by_position" not in indexes
        engine = Engine(sample_network(), store=store, clock=ManualClock(LAST_TIME))
        read = engine.events()
        assert read == events
        assert [to_json(e) for e in read] == [to_json(e) for e in events]
        with store.unit_of_work(read_only=True) as uow:
            assert uow.reservations() == reservations
        assert engine.verify() == []
    finally:
        store.close()


def test_old_holds_change_and_new_rows_are_compact_beside_old_ones(old_path: Path) -> None:
    store = SQLiteStore(old_path)
    try:
        clock = ManualClock(LAST_TIME + timedelta(minutes=1))
        engine = Engine(sample_network(), store=store, clock=clock)
        with store.unit_of_work(read_only=True) as uow:
            (old,) = uow.reservations(states=[ReservationState.HELD])
        confirmed = engine.confirm(old.id)
        assert engine.reservation(old.id) == confirmed
        held = engine.reserve(STORE_2, {"sofa": 1}, channel=Channel.WEB, ttl=timedelta(hours=1))
        assert engine.reservation(held.id) == held
        clock.advance(timedelta(hours=2))
        (expired,) = engine.expire_due()
        assert expired.id == held.id
        assert engine.reservation(held.id) == expired
        conn = store._connection()
        bodies = dict(conn.execute("SELECT id, body FROM reservation").fetchall())
        assert '"id"' not in bodies[old.id]
        assert '"id"' not in bodies[held.id]
        events = engine.events()
        assert [e.seq for e in events] == sorted({e.seq for e in events})
        assert {type(e).__name__ for e in events[-3:]} == {
            "ReservationConfirmed",
            "ReservationHeld",
            "ReservationExpired",
        }
        assert engine.verify() == []
    finally:
        store.close()
