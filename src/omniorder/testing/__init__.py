"""Helpers for your own test suites: store snapshots, Hypothesis strategies, contracts.

``omniorder.testing.strategies`` needs Hypothesis (a test dependency, not a runtime one).
"""

from omniorder.testing.snapshot import Snapshot, take_snapshot

__all__ = ["Snapshot", "take_snapshot"]
