"""The Hypothesis profiles.

Profiles: ``dev`` (fast, the default on a workstation), ``ci`` (a child of Hypothesis's built-in
``ci`` profile: derandomised, no example database; loaded automatically when ``CI`` is set) and
``thorough`` (by hand: ``HYPOTHESIS_PROFILE=thorough pytest``).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

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
