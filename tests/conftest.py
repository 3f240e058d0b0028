"""The Hypothesis profiles.

Profiles: ``dev`` (fast, the default on a workstation), ``ci`` (a child of Hypothesis's built-in
``ci`` profile: derandomised, no example database; loaded automatically when ``CI`` is set) and
``thorough`` (by hand: ``HYPOTHESIS_PROFILE=thorough pytest``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.postgres import DSN_VARIABLE
from tests.tiers import PROFILE

settings.register_profile(
    "dev", max_examples=25, stateful_step_count=20, deadline=None, print_blob=True
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    stateful_step_count=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)


def pytest_report_header() -> list[str]:
    """Say up front whether the PostgreSQL tests will run, and why not."""
    if os.environ.get(DSN_VARIABLE):
        required = os.environ.get("OMNIORDER_REQUIRE_POSTGRES") == "1"
        return [f"PostgreSQL tests: on ({DSN_VARIABLE} is set{', required' if required else ''})"]
    return [f"PostgreSQL tests: skipped (set {DSN_VARIABLE} to a database they may use)"]
