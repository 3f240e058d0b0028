"""How hard the slow tests push: by the Hypothesis profile in use (dev, ci or thorough)."""

from __future__ import annotations

import os

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
"""The profile name: ``dev`` by default, ``ci`` when ``CI`` is set, or as chosen by hand."""


def scale(*, dev: int, ci: int, thorough: int) -> int:
    """The number for the profile in use."""
    return {"dev": dev, "ci": ci, "thorough": thorough}.get(PROFILE, ci)
