"""What every command needs, and the one way a command runs: :class:`Context`.

A command is a plain function ``f(ctx, ...)`` in one of the capability modules of this package.
It checks its input first (bad input raises :class:`~omniorder.InvalidInput` before the store is
touched), then returns a function of one :class:`~omniorder.service.work.Work`, which
:func:`~omniorder.service.command.command` hands :meth:`Context.run`: the unit of work that
writes positions, ledger, reservations, events and the idempotency record together, or none of
them. Reads go through :meth:`Context.read`.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from omniorder.allocation.protocol import Solver
from omniorder.model import checks
from omniorder.model.clock import Clock, SystemClock
from omniorder.model.errors import (
    ClockWentBackwards,
    CommitOutcomeUnknown,
    ConcurrencyConflict,
    InvalidInput,
)
from omniorder.model.network import Network
from omniorder.model.policy import Policy
from omniorder.service.idempotency import Claim
from omniorder.service.work import Work
from omniorder.stores.base import Store, UnitOfWork

__all__ = ["Context", "new_id"]

R = TypeVar("R")

logger = logging.getLogger(__name__)

_BACKOFF = 0.005
"""Seconds before the first retry of a command that lost a race (doubling, jittered)."""
_BACKOFF_CAP = 0.25
"""The longest wait between two retries, in seconds."""


class _Ids:
    """The default id source: 16 random bytes per id, read from the system's random source 4 KiB
    at a time (one system call for 256 ids)."""

    _BLOCK = 4096

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self.draw()
        os.register_at_fork(after_in_child=self.draw)

    def draw(self) -> None:
        """Forget the random bytes drawn so far (at import, and in a child after ``fork``, which
        must never reuse its parent's)."""
        self._pool = b""
        self._at = 0

    def new(self, prefix: str) -> str:
        with self._guard:
            if self._at == len(self._pool):
                self._pool, self._at = os.urandom(self._BLOCK), 0
            part = self._pool[self._at : self._at + 16]
            self._at += 16
        return f"{prefix}_{part.hex()}"


new_id: Callable[[str], str] = _Ids().new
"""Make a new id: ``prefix``, ``_`` and 32 random hex digits (``res_3f9c...e01c``).

The 128 random bits come from the operating system's random source (as ``uuid4`` and
``secrets`` do), read in blocks so that an id costs no system call: ids are unique across
processes, engines and stores, and cannot be guessed from one another.
"""


@attrs.frozen(eq=False)
class Context:
    """The narrow context of every command: where state is, what time it is, the rules.

    Attributes:
        network: the locations and lanes.
        store: where state is kept.
        solver: sources orders.
        clock: where time comes from.
        policy: the declared rules.
        new_id: makes a new id from a prefix (``"res"``, ``"sale"``, ``"rma"``).
        retries: how many times a command that lost a race is run again.
    """

    network: Network
    store: Store
    solver: Solver
    clock: Clock
    policy: Policy
    new_id: Callable[[str], str]
    retries: int
    _jitter: random.Random = attrs.field(factory=random.Random, alias="jitter")
    _system_clock: bool = attrs.field(
        init=False,
        default=attrs.Factory(lambda ctx: type(ctx.clock) is SystemClock, takes_self=True),
    )
    """Whether the clock is the library's own :class:`SystemClock` (not a subclass): its time
    is read here directly, a UTC instant by construction."""

    def now(self) -> datetime:
        """The clock's time as a UTC instant: every time the engine keeps or compares is UTC."""
        if self._system_clock:
            return datetime.now(UTC)  # what SystemClock.now returns, without two calls
        now = self.clock.now()
        if type(now) is datetime and now.tzinfo is UTC:
            return now  # already a UTC instant: what the library's clocks return
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise InvalidInput(
                "the engine's clock must return timezone-aware datetimes", field="clock", value=now
            )
        return checks.aware(now, "clock")

    def run(
        self,
        command: str,
        request: Mapping[str, object],
        key: str | None,
        result_type: Any,
        work: Callable[[Work], R],
    ) -> R:
        """Run ``work`` as one unit of work, with the idempotency protocol when keyed.

        ``request`` is the command's checked arguments: under a key, the same command with the
        same request replays the first result, and another request is a conflict. A
        :class:`~omniorder.ConcurrencyConflict` (another writer won a race: a deadlock, a
        serialisation failure, a busy database) rolls the attempt back and runs the command
        again, up to ``retries`` times with jittered exponential backoff.
        """
        if key is not None:
            checks.identifier(key, "key")
        for attempt in itertools.count():
            try:
                return self._attempt(command, request, key, result_type, work)
            except ConcurrencyConflict:
                if attempt >= self.retries:
                    raise
                logger.debug("%s: concurrent change, retry %d", command, attempt + 1)
                time.sleep(self._jitter.uniform(0, min(_BACKOFF_CAP, _BACKOFF * 2**attempt)))
            except ClockWentBackwards as error:
                # Another writer stored a later time on a row this command writes after this
                # attempt read the clock: run again if the clock has caught up since; a clock
                # that really reads earlier is refused.
                last = error.last
                caught_up = isinstance(last, datetime) and (
                    self.now() >= last - self.store.clock_tolerance
                )
                if attempt >= self.retries or not caught_up:
                    raise
                logger.debug(
                    "%s: a later time was stored meanwhile, retry %d", command, attempt + 1
                )
            except CommitOutcomeUnknown as error:
                raise CommitOutcomeUnknown(error.detail, key) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        command: str,
        request: Mapping[str, object],
        key: str | None,
        result_type: Any,
        work: Callable[[Work], R],
    ) -> R:
        with self.store.unit_of_work() as uow:
            # the store refuses it where a row it writes changed later
            now = self.now()
            claim: Claim | None = None
            if key is not None:
                claim, first = Claim.take(
                    uow, key, command=command, request=request, result_type=result_type, now=now
                )
                if claim is None:
                    replayed: R = first
                    return replayed
            result = work(Work(uow, now, key))
            if claim is not None:
                claim.finish(result, result_type)
            return result

    def read(self, read: Callable[[UnitOfWork, datetime], R]) -> R:
        """Run ``read`` in a read-only unit of work at the clock's time."""
        with self.store.unit_of_work(read_only=True) as uow:
            return read(uow, self.now())
