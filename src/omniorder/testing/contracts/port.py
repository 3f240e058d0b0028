"""The store port's refusals, on every adapter: each refused write leaves nothing behind.

:class:`StaleWriteContract`: a reservation, order or return written from a version the store no
longer holds is refused with :class:`~omniorder.ConcurrencyConflict` (the optimistic check that
guards against two writers who both read the same version; the engine retries it).
:class:`StoreRefusalContract`: a write in a read-only unit of work, a second record under an id
the store holds, a unit of work on a closed store; and a unit of work that raises leaves no
trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import pytest

from omniorder.model.errors import ConcurrencyConflict, StoreError
from omniorder.model.events import StockReceived
from omniorder.model.position import Movement, MovementKind
from omniorder.model.reservation import Reservation
from omniorder.stores.base import IdempotencyRecord, Store, UnitOfWork
from omniorder.testing.contracts.atomicity import CART, WHEN, Ids, prepare
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE
from omniorder.testing.snapshot import take_snapshot

__all__ = ["StaleWriteContract", "StoreRefusalContract"]

T = TypeVar("T")

_Read = Callable[[UnitOfWork], Any]
_Write = Callable[[UnitOfWork, Any], None]


def _versioned(kind: str, ids: Ids) -> tuple[_Read, _Write]:
    """How to read one prepared record of ``kind`` for update, and how to write it back."""
    if kind == "reservation":
        return (
            lambda uow: uow.reservation(ids["held"], for_update=True),
            lambda uow, r: uow.update_reservation(r),
        )
    if kind == "order":
        return (
            lambda uow: uow.order(CART.id, for_update=True),
            lambda uow, r: uow.update_order(r),
        )
    return (
        lambda uow: uow.return_authorization(ids["requested"], for_update=True),
        lambda uow, r: uow.update_return(r),
    )


def _write_versions(store: Store, read: _Read, write: _Write, *ahead: int) -> int:
    """In one unit of work, write the record read back with its version raised by each of
    ``ahead`` in turn (every write made from what was read); return the version read."""
    with store.unit_of_work() as uow:
        stored = read(uow)
        for step in ahead:
            write(uow, attrs.evolve(stored, version=stored.version + step))
        version: int = stored.version
        return version


class StaleWriteContract(ContractBase):
    """A store refuses a reservation, order or return written from a version it no longer holds.

    The engine reads what it changes under a lock, so with omniorder's stores these refusals
    guard against a store (or a future command) that does not; they must still refuse, with
    :class:`~omniorder.ConcurrencyConflict` (which the engine retries), and the unit of work
    that met one must leave nothing behind.
    """

    @pytest.mark.parametrize("kind", ["reservation", "order", "return"])
    def test_a_record_written_from_a_stale_version_is_refused_and_leaves_nothing(
        self, kind: str
    ) -> None:
        store = self.make_store()
        try:
            ids = prepare(store)
            read, write = _versioned(kind, ids)
            before = take_snapshot(store)
            # Two writers changed the same version: the second write is made from a version
            # the first one already replaced.
            with pytest.raises(ConcurrencyConflict):
                _write_versions(store, read, write, 1, 1)
            assert take_snapshot(store) == before
            with pytest.raises(ConcurrencyConflict):
                _write_versions(store, read, write, 2)  # skips a version
            assert take_snapshot(store) == before
            was = _write_versions(store, read, write, 1)  # the next version is taken
            with store.unit_of_work() as uow:  # (reads for update: a writing unit of work)
                assert read(uow).version == was + 1
        finally:
            self.dispose(store)


class _Abandoned(Exception):
    """Raised inside a unit of work to abandon it."""


def _in_unit_of_work(store: Store, work: Callable[[UnitOfWork], object], **kwargs: bool) -> None:
    with store.unit_of_work(**kwargs) as uow:
        work(uow)


def _received(sku: str) -> Movement:
    return Movement(0, WHEN, STORE_1, sku, MovementKind.RECEIVED, 3, "test")


class StoreRefusalContract(ContractBase):
    """What every store refuses at its port, leaving nothing behind: a write in a read-only unit
    of work, a second record under an id it holds, any unit of work once it is closed; and a
    unit of work that raises leaves no trace, not even the positions it created."""

    def test_a_write_in_a_read_only_unit_of_work_is_refused_and_leaves_nothing(
        self, store: Store
    ) -> None:
        ids = prepare(store)
        before = take_snapshot(store)
        writes: dict[str, Callable[[UnitOfWork], object]] = {
            "move": lambda uow: uow.move(_received("lamp")),
            "claim_key": lambda uow: uow.claim_key(
                IdempotencyRecord("k", "receive", "0", "{}", None, WHEN)
            ),
            "update_reservation": lambda uow: uow.update_reservation(
                _next_version(uow.reservation(ids["held"]))
            ),
        }
        for name, write in writes.items():
            with pytest.raises(StoreError):
                _in_unit_of_work(store, write, read_only=True)
            assert take_snapshot(store) == before, name

    def test_a_second_record_under_an_id_the_store_holds_is_refused_and_leaves_nothing(
        self, store: Store
    ) -> None:
        ids = prepare(store)
        before = take_snapshot(store)
        adds: dict[str, Callable[[UnitOfWork], object]] = {
            "add_reservation": lambda uow: uow.add_reservation(
                _present(uow.reservation(ids["held"]))
            ),
            "add_order": lambda uow: uow.add_order(_present(uow.order(CART.id))),
            "add_return": lambda uow: uow.add_return(
                _present(uow.return_authorization(ids["requested"]))
            ),
        }
        for name, add in adds.items():
            # PostgreSQL cannot tell a duplicate from an insert that lost a race: a conflict.
            with pytest.raises((StoreError, ConcurrencyConflict)):
                _in_unit_of_work(store, add)
            assert take_snapshot(store) == before, name

    def test_a_unit_of_work_that_raises_leaves_no_trace_even_of_positions_it_created(
        self, store: Store
    ) -> None:
        prepare(store)
        before = take_snapshot(store)

        def abandon(uow: UnitOfWork) -> None:
            uow.move(_received("teapot"))  # a position that did not exist
            uow.move(_received("lamp"))
            uow.append_event(StockReceived(at=WHEN, location=STORE_1, sku="teapot", quantity=3))
            raise _Abandoned

        with pytest.raises(_Abandoned):
            _in_unit_of_work(store, abandon)
        assert take_snapshot(store) == before

    def test_positions_are_filtered_by_sku_and_by_location(self, store: Store) -> None:
        prepare(store)
        with store.unit_of_work(read_only=True) as uow:
            every = uow.positions()
            for location in (STORE_1, STORE_2, WAREHOUSE):
                found = uow.positions(location=location)
                assert found == [p for p in every if p.location == location] != []
            for sku in ("lamp", "clock"):
                found = uow.positions(sku=sku)
                assert found == [p for p in every if p.sku == sku] != []
            assert uow.positions(sku="lamp", location=STORE_2) == [
                p for p in every if (p.location, p.sku) == (STORE_2, "lamp")
            ]

    def test_a_closed_store_refuses_every_unit_of_work(self, store: Store) -> None:
        store.close()
        for read_only in (False, True):
            with pytest.raises(StoreError):
                _in_unit_of_work(store, lambda uow: uow.positions(), read_only=read_only)


def _present(record: T | None) -> T:
    assert record is not None
    return record


def _next_version(reservation: Reservation | None) -> Reservation:
    return attrs.evolve(_present(reservation), version=_present(reservation).version + 1)
