"""Keyed commands, declared once: :func:`command` makes each one's idempotency request.

A keyed command is written as a function ``f(ctx, ..., *, key=None)`` that checks its arguments
and returns its work (a function of one :class:`~omniorder.service.work.Work`). ``@command``
runs that work through :meth:`Context.run <omniorder.service.context.Context.run>` under the
function's name, with the call's own arguments as the request the key is bound to: nobody writes
a request by hand, so no command can leave an argument out of it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any, Concatenate, ParamSpec, TypeVar

from omniorder.model import checks
from omniorder.model.reservation import Reservation
from omniorder.service.context import Context
from omniorder.service.idempotency import canonical
from omniorder.service.work import Work

__all__ = ["command", "on_reservation"]

P = ParamSpec("P")
R = TypeVar("R")

_NOT_ASKED = frozenset({"ctx", "key"})
"""Parameters that say how a command runs, not what it asks for."""


def command(
    result_type: type[R],
) -> Callable[
    [Callable[Concatenate[Context, P], Callable[[Work], R]]], Callable[Concatenate[Context, P], R]
]:
    """Make ``prepare(ctx, ..., *, key=None) -> work`` the keyed command named as the function,
    whose result is a ``result_type``.

    The request is the call's arguments but ``ctx`` and ``key``, bound by name, each left out
    when it equals its declared default (canonically: ``"web"`` is ``Channel.WEB``). So a caller
    may name a default or not, and a new optional parameter never changes what an existing call
    asks for. ``prepare`` runs first: bad input is refused before the key is looked at.

    Raises:
        TypeError: (when declared) ``prepare`` has no keyword parameter ``key`` defaulting to
            None.
    """

    def declare(
        prepare: Callable[Concatenate[Context, P], Callable[[Work], R]],
    ) -> Callable[Concatenate[Context, P], R]:
        signature = inspect.signature(prepare)
        key = signature.parameters.get("key")
        if key is None or key.kind is not key.KEYWORD_ONLY or key.default is not None:
            raise TypeError(f"{prepare.__name__} must take a keyword argument key=None")
        defaults = {
            p.name: (p.default, canonical(p.default))
            for p in signature.parameters.values()
            if p.default is not p.empty
        }
        called = prepare.__name__
        kinds = {p.kind for p in signature.parameters.values()}
        # the names positional arguments bind to, after ctx (None: bind through the signature)
        positional = (
            None
            if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.VAR_KEYWORD in kinds
            else tuple(
                p.name
                for p in signature.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            )[1:]
        )

        def asks(parameter: str, value: object) -> bool:
            if parameter in _NOT_ASKED:
                return False
            if parameter not in defaults:
                return True
            default, text = defaults[parameter]
            if default is None or (type(value) is type(default) and isinstance(default, Enum)):
                # only None is null, and enum members are singletons: compared by identity
                return value is not default
            return value is not default and canonical(value) != text

        def request(
            ctx: Context, args: tuple[object, ...], kwargs: dict[str, object]
        ) -> dict[str, object]:
            if positional is None:
                asked = signature.bind(ctx, *args, **kwargs).arguments
            else:
                # prepare has just accepted these arguments, so they bind: by place, then by name
                asked = dict(zip(positional, args, strict=False))
                asked.update(kwargs)
            return {p: value for p, value in asked.items() if asks(p, value)}

        @functools.wraps(prepare)
        def run(ctx: Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
            work = prepare(ctx, *args, **kwargs)
            key: Any = kwargs.get("key")  # Context.run checks it
            if key is None:  # no key: no request to bind it to
                return ctx.run(called, {}, None, result_type, work)
            return ctx.run(called, request(ctx, args, kwargs), key, result_type, work)

        return run

    return declare


def on_reservation(
    reservation_id: str, change: Callable[[Work, Reservation], Reservation]
) -> Callable[[Work], Reservation]:
    """The work of a command that changes one reservation, read locked by its id.

    Raises:
        InvalidInput: a bad id (at once, before any store is read).
    """
    checks.identifier(reservation_id, "reservation_id")
    return lambda w: change(w, w.reservation(reservation_id))
