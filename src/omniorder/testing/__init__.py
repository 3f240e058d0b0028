"""Helpers for your own test suites: store snapshots, Hypothesis strategies, contracts.

They need pytest and Hypothesis, which the ``testing`` extra installs
(``pip install "omniorder[testing]"``); without them, importing this package says so.
"""

try:
    import hypothesis  # noqa: F401  (the contracts, strategies and machine need both)
    import pytest  # noqa: F401
except ImportError as missing:  # pragma: no cover - the dev environment has both
    raise ImportError(
        f"omniorder.testing needs pytest and Hypothesis ({missing.name} is missing): "
        'pip install "omniorder[testing]"'
    ) from missing

from omniorder.testing.snapshot import Snapshot, take_snapshot

__all__ = ["Snapshot", "take_snapshot"]
