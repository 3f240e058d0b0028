"""The stateful specification, run against the adapter."""

from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.machine import machine_for


class StatefulContract(ContractBase):
    """Every command, clock advances, key replays and bad input, against the reference model.

    Hypothesis's ``ci`` profile (loaded when ``CI`` is set) runs at least 200 examples of 50
    steps; set the profile's ``max_examples`` and ``stateful_step_count`` to change that.
    """

    def test_every_command_keeps_every_promise_against_the_reference_model(self) -> None:
        machine = machine_for(self.make_store, self.dispose, f"{type(self).__name__}Machine")
        run_state_machine_as_test(machine)  # type: ignore[no-untyped-call]  # untyped upstream
