"""Clocks. Time is passed in: the engine asks its clock and hands ``now`` to pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from omniorder.model import checks
from omniorder.model.errors import InvalidInput

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning a timezone-aware ``datetime``."""

    def now(self) -> datetime:
        """The current time (timezone-aware)."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to: for tests, simulations and examples.

    It keeps and returns UTC, whatever zone it is given: advancing it is real elapsed time, also
    across a change to or from daylight saving time.

    >>> clock = ManualClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    >>> clock.advance(timedelta(minutes=15)).isoformat()
    '2026-11-25T09:15:00+00:00'

    Raises:
        InvalidInput: a naive start, a naive or earlier ``set``, a negative ``advance`` or one
            past the last representable time.
    """

    def __init__(self, start: datetime) -> None:
        self._now = checks.aware(start, "start")

    def now(self) -> datetime:
        """The time the clock was last set or advanced to, in UTC."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by`` (zero is allowed) and return the new time."""
        if not isinstance(by, timedelta):
            raise InvalidInput("advance takes a timedelta", field="by", value=by)
        if by < timedelta(0):
            raise InvalidInput(f"a clock cannot go backwards ({by})", field="by", value=by)
        self._now = checks.later(self._now, by, "by")
        return self._now

    def set(self, to: datetime) -> datetime:
        """Jump to ``to``, which must not be earlier than now; return it (in UTC)."""
        to = checks.aware(to, "to")
        if to < self._now:
            raise InvalidInput(
                f"a clock cannot go backwards (from {self._now.isoformat()} to {to.isoformat()})",
                field="to",
                value=to,
            )
        self._now = to
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
