"""The application layer: one module per capability, each a set of functions ``f(ctx, ...)``.

:class:`~omniorder.service.context.Context` is what every command needs (store, clock, policy,
solver, network, ids) and the one way it runs (a unit of work, retried when it loses a race, with
the idempotency protocol when keyed); :mod:`~omniorder.service.work` is the one write path, and
:func:`~omniorder.service.command.command` makes a keyed command of a function, its request read
from the call's own arguments.
The capabilities: :mod:`~omniorder.service.stock`, :mod:`~omniorder.service.holds`,
:mod:`~omniorder.service.orders`, :mod:`~omniorder.service.fulfilment`,
:mod:`~omniorder.service.returns` and :mod:`~omniorder.service.outbox`. Nothing here imports the
engine, which is the documented facade: each of its methods is one call into this package.
"""
