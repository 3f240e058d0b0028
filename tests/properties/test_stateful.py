"""The stateful specification (tests/properties/machine.py) run against every store adapter.

CI runs at least 200 examples of 50 steps each (the ``ci`` Hypothesis profile).
"""

from __future__ import annotations

import pytest
from hypothesis.stateful import run_state_machine_as_test

from tests.factories import STORE_KINDS, make_store
from tests.properties.machine import machine_for


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_every_command_keeps_every_promise_against_the_reference_model(kind: str) -> None:
    machine = machine_for(lambda: make_store(kind), f"EngineOn{kind.title()}Store")
    run_state_machine_as_test(machine)  # type: ignore[no-untyped-call]  # untyped upstream
