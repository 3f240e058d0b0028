"""The outbox and the audit: reading events in order, and checking a store against its ledger."""

from __future__ import annotations

from omniorder.model import checks
from omniorder.model.audit import Discrepancy, audit
from omniorder.model.events import Event
from omniorder.model.reservation import OPEN_STATES
from omniorder.service.context import Context
from omniorder.stores.base import Store

__all__ = ["events", "verify_store"]


def events(ctx: Context, after: int, limit: int | None) -> list[Event]:
    """Events with ``seq > after``, oldest first (at most ``limit``)."""
    checks.non_negative(after, "after")
    if limit is not None:
        checks.positive(limit, "limit")
    return ctx.read(lambda uow, _: uow.events(after, limit))


def verify_store(store: Store) -> list[Discrepancy]:
    """Every discrepancy between the positions, the ledger, the live reservations, the returns
    in transit and the event numbering of ``store``; empty when it is healthy (promise 2)."""
    with store.unit_of_work(read_only=True) as uow:
        return audit(
            uow.positions(),
            uow.movements(),
            uow.reservations(states=OPEN_STATES),
            [e.seq for e in uow.events()],
            uow.returns(),
        )
