"""The mutant catalogue (``benchmarks/mutants.py``) stays true to the code; its first mutants die.

The full run (every mutant at the CI budget) is a benchmark: ``python benchmarks/mutants.py``.
Here, every mutant must still apply where the catalogue says (a stale mutant means the code moved
and its mutant must move with it), and the two bugs that once survived the stateful machine must
be caught by it, in a subprocess, on a small derandomised budget.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "benchmarks" / "mutants.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutants"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


mutants = _load()
ONCE_SURVIVED = [
    "extend-doubles-the-lifetime",
    "release-of-a-confirmed-reservation-keeps-its-units",
]


def test_the_catalogue_holds_at_least_thirty_distinct_mutants() -> None:
    names = [m.name for m in mutants.CATALOGUE]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    assert set(ONCE_SURVIVED) <= set(names)


@pytest.mark.parametrize("mutant", mutants.CATALOGUE, ids=lambda m: m.name)
def test_every_mutant_still_applies_where_the_catalogue_says(mutant: object) -> None:
    assert mutants.mutated(mutant) != mutants.source_file(mutant).read_text(encoding="utf-8")


def test_a_snippet_that_moved_makes_its_mutant_stale() -> None:
    moved = mutants.Mutant("moved", "omniorder.service.holds:extend", "no such code", "x", "-")
    gone = mutants.Mutant("gone", "omniorder.service.holds:no_such_function", "a", "b", "-")
    for mutant in (moved, gone):
        with pytest.raises(mutants.Stale):
            mutants.mutated(mutant)
        assert mutants.run(mutant, 1, 1).status == "STALE"


@pytest.mark.parametrize("name", ONCE_SURVIVED)
def test_the_stateful_machine_kills_the_mutants_that_once_survived_it(name: str) -> None:
    (mutant,) = [m for m in mutants.CATALOGUE if m.name == name]
    outcome = mutants.run(mutant, examples=60, steps=30, timeout=600)
    assert outcome.status == "KILLED", outcome
