"""The declared rules an engine runs by: hold lifetimes, pickup window, limits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Final

import attrs

from omniorder.model import checks
from omniorder.model.errors import InvalidInput
from omniorder.model.returns import ReturnPolicy
from omniorder.model.values import Channel

__all__ = ["DEFAULT_HOLD_TTL", "Policy"]

DEFAULT_HOLD_TTL: Final[Mapping[Channel, timedelta]] = MappingProxyType(
    {
        Channel.WEB: timedelta(minutes=15),
        Channel.APP: timedelta(minutes=15),
        Channel.CALL_CENTER: timedelta(hours=48),
        Channel.STORE: timedelta(hours=2),
        Channel.MARKETPLACE: timedelta(minutes=30),
    }
)
"""How long a hold lasts when the caller gives no ``ttl``, per channel.

A web or app cart holds for 15 minutes (a checkout), a marketplace for 30; a store associate's
hold lasts 2 hours (the customer is on the way); a chat or call-centre agent's hold lasts 48 hours
(the customer was promised the item and must have time to come).
"""


def _hold_ttl(value: Mapping[Channel | str, timedelta]) -> Mapping[Channel, timedelta]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            "hold_ttl must be a mapping of Channel to timedelta", field="hold_ttl", value=value
        )
    merged = dict(DEFAULT_HOLD_TTL)
    for channel, ttl in value.items():
        merged[checks.check_enum(Channel, channel, "hold_ttl channel")] = checks.positive_duration(
            ttl, f"hold_ttl[{channel!s}]"
        )
    return MappingProxyType(merged)


def _duration(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    checks.positive_duration(value, attribute.name)


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    checks.positive(value, attribute.name)


def _flag(_: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise InvalidInput(f"{attribute.name} must be a bool", field=attribute.name, value=value)


def _return_policy(_: object, __: attrs.Attribute[ReturnPolicy], value: ReturnPolicy) -> None:
    if not isinstance(value, ReturnPolicy):
        raise InvalidInput("returns must be a ReturnPolicy", field="returns", value=value)


@attrs.frozen
class Policy:
    """The rules the engine applies where a caller does not say otherwise.

    Attributes:
        hold_ttl: how long a hold lasts per channel when ``reserve`` is given no ``ttl``; the
            channels you leave out keep :data:`DEFAULT_HOLD_TTL` (web/app 15 min, call centre
            48 h, store 2 h, marketplace 30 min).
        max_hold_ttl: the longest ``ttl`` any hold or extension may ask for (7 days).
        pickup_window: how long a READY pickup waits at the counter before it is a no-show
            (3 days).
        max_pickup_window: the longest pickup window ``mark_ready`` may ask for (30 days).
        backorders: whether order lines that cannot be sourced are backordered (True) or the
            order is refused with InsufficientStock (False, the default).
        max_lines: the most lines one command may carry (100).
        returns: the :class:`~omniorder.ReturnPolicy` (window, review, dispositions, fees).

    Raises:
        InvalidInput: a non-positive duration, a default TTL above ``max_hold_ttl``, a pickup
            window above ``max_pickup_window``, or a limit below 1.
    """

    hold_ttl: Mapping[Channel, timedelta] = attrs.field(
        factory=lambda: DEFAULT_HOLD_TTL, converter=_hold_ttl, hash=False
    )
    max_hold_ttl: timedelta = attrs.field(default=timedelta(days=7), validator=_duration)
    pickup_window: timedelta = attrs.field(default=timedelta(days=3), validator=_duration)
    max_pickup_window: timedelta = attrs.field(default=timedelta(days=30), validator=_duration)
    backorders: bool = attrs.field(default=False, validator=_flag)
    max_lines: int = attrs.field(default=100, validator=_positive)
    returns: ReturnPolicy = attrs.field(factory=ReturnPolicy, validator=_return_policy)

    def __attrs_post_init__(self) -> None:
        for channel, ttl in self.hold_ttl.items():
            if ttl > self.max_hold_ttl:
                raise InvalidInput(
                    f"hold_ttl[{channel}] {ttl} is above max_hold_ttl {self.max_hold_ttl}",
                    field="hold_ttl",
                    value=ttl,
                )
        if self.pickup_window > self.max_pickup_window:
            raise InvalidInput(
                f"pickup_window {self.pickup_window} is above max_pickup_window "
                f"{self.max_pickup_window}",
                field="pickup_window",
                value=self.pickup_window,
            )

    def ttl_for(self, channel: Channel) -> timedelta:
        """The default hold lifetime for ``channel``."""
        return self.hold_ttl[channel]

    def pickup_window_for(self, asked: timedelta | None) -> timedelta:
        """The pickup window a caller ``asked`` for (checked against ``max_pickup_window``), or
        the policy's own when it asked for none.

        Raises:
            InvalidInput: a window that is not positive or above the maximum.
        """
        if asked is None:
            return self.pickup_window
        return checks.positive_duration(asked, "pickup_window", maximum=self.max_pickup_window)
