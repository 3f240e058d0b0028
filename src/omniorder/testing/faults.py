"""A store wrapper that fails (or kills its own process) at the Nth store call.

``FaultyStore(store, at=n)`` forwards everything to ``store`` and counts the calls made on its
units of work, the commit included; at call ``n`` it raises :class:`InjectedFault` (a
:class:`~omniorder.StoreError`, so the unit of work rolls back) or, with ``kill=True``, sends
itself SIGKILL. Driving a command with ``n = 1, 2, 3, ...`` proves it leaves the store as it was
before or as it is after, never in between.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from omniorder.model.errors import StoreError
from omniorder.stores.base import Store, UnitOfWork

__all__ = ["FaultyStore", "InjectedFault"]


class InjectedFault(StoreError):
    """The failure a :class:`FaultyStore` injects."""

    def __init__(self, call: int, name: str) -> None:
        super().__init__(f"injected fault at store call {call} ({name})")
        self.call = call
        self.name = name


class _CountingUnitOfWork:
    """Forwards every method to the real unit of work, ticking the counter first."""

    def __init__(self, inner: UnitOfWork, tick: Callable[[str], None]) -> None:
        self._inner = inner
        self._tick = tick

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self._tick(name)
            return target(*args, **kwargs)

        return call


class FaultyStore:
    """Wraps a store; the ``at``-th call made through it fails (or kills the process).

    Args:
        inner: the store to wrap.
        at: the call that fails, counting from 1 over every unit of work; None never fails.
        kill: at that call, SIGKILL this process instead of raising.

    Attributes:
        calls: the calls made so far, by method name (``"commit"``, ``"committed"`` around
            a commit).
        fired: whether the fault has been injected.
    """

    def __init__(self, inner: Store, *, at: int | None, kill: bool = False) -> None:
        self.inner = inner
        self.at = at
        self.kill = kill
        self.calls: list[str] = []
        self.fired = False

    @property
    def clock_tolerance(self) -> timedelta:
        """The wrapped store's clock tolerance."""
        return self.inner.clock_tolerance

    def _tick(self, name: str) -> None:
        self.calls.append(name)
        if self.at is not None and len(self.calls) == self.at:
            self.fired = True
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise InjectedFault(len(self.calls), name)

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[UnitOfWork]:
        """The wrapped store's unit of work, counting calls.

        A write counts two more: ``"commit"`` just before the commit (a fault there rolls back)
        and ``"committed"`` just after it (a fault there reports an error for a command that
        was applied: the outcome-unknown case).
        """
        with self.inner.unit_of_work(read_only=read_only) as uow:
            counted: Any = _CountingUnitOfWork(uow, self._tick)
            yield counted
            if not read_only:
                self._tick("commit")
        if not read_only:
            self._tick("committed")

    def close(self) -> None:
        """Close the wrapped store."""
        self.inner.close()
