"""The stateful specification, run against the adapter."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.machine import machine_for

# Typed in Hypothesis 6.170 and later, untyped before: one signature for every release we allow.
_run_machine: Callable[..., None] = run_state_machine_as_test


class StatefulContract(ContractBase):
    """Every command, clock advances, key replays and bad input, against the reference model.

    Hypothesis's ``ci`` profile (loaded when ``CI`` is set) runs at least 200 examples of 50
    steps; set the profile's ``max_examples`` and ``stateful_step_count`` to change that.
    """

    stateful_examples: int | None = None
    """At most this many examples (None: the profile's), for adapters with slower steps."""
    stateful_steps: int | None = None
    """At most this many steps per example (None: the profile's)."""

    def test_every_command_keeps_every_promise_against_the_reference_model(self) -> None:
        machine = machine_for(self.make_store, self.dispose, f"{type(self).__name__}Machine")
        profile = settings()  # the loaded profile (dev, ci or thorough)
        _run_machine(
            machine,
            settings=settings(
                profile,
                max_examples=min(profile.max_examples, self.stateful_examples or 10**9),
                stateful_step_count=min(profile.stateful_step_count, self.stateful_steps or 10**9),
            ),
        )
