"""The checker of the multi-process tests: the store against the workers' try/ack logs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omniorder import Engine, ManualClock
from omniorder.serialization import unstructure
from omniorder.stores.base import IdempotencyRecord, Store
from omniorder.testing import take_snapshot
from omniorder.testing.network import sample_network
from tests.integration.workers import call


@dataclass
class Attempt:
    """What the logs say about one keyed command."""

    command: str
    args: dict[str, Any]
    outcome: str | None = None  # "ack", "nack", or None: killed before it answered
    result: Any = None


@dataclass
class Verdict:
    """What the checker found."""

    attempts: int = 0
    acks: int = 0
    unanswered: int = 0
    problems: list[str] = field(default_factory=list)


def read_logs(paths: Iterable[Path]) -> dict[str, Attempt]:
    """Every attempted command, by key, from the workers' logs."""
    attempts: dict[str, Attempt] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by SIGKILL: its command never reported anything
            if entry["step"] == "try":
                attempts[entry["key"]] = Attempt(entry["command"], entry["args"])
            elif entry["step"] in ("ack", "nack") and "key" in entry:
                attempts[entry["key"]].outcome = entry["step"]
                attempts[entry["key"]].result = entry.get("result")
    return attempts


def _attempt_problem(
    key: str, attempt: Attempt, record: IdempotencyRecord | None, moved: int
) -> str | None:
    if attempt.outcome == "ack":
        if record is None:
            return f"{key}: acknowledged {attempt.command} was lost"
        if record.result is not None and json.loads(record.result) != attempt.result:
            return f"{key}: stored result differs from the acknowledged one"
    elif attempt.outcome == "nack":
        if record is not None or moved:
            return f"{key}: refused {attempt.command} left a trace"
    elif record is None and moved:
        return f"{key}: {attempt.command} killed midway left ledger rows"
    return None


def _replay_problems(store: Store, attempts: dict[str, Attempt]) -> list[str]:
    before = take_snapshot(store)
    replayer = Engine(sample_network(), store=store, clock=ManualClock(_latest(store)))
    problems = [
        f"{key}: replay returned another result"
        for key, attempt in attempts.items()
        if attempt.outcome == "ack"
        and unstructure(call(replayer, attempt.command, attempt.args, key)) != attempt.result
    ]
    if take_snapshot(store) != before:
        problems.append("replaying acknowledged commands changed the store")
    return problems


def check(store: Store, attempts: dict[str, Attempt], *, replay: bool = True) -> Verdict:
    """0 lost acks, 0 half-applied commands, 0 drift, 0 oversell; replaying an ack is a no-op."""
    snap = take_snapshot(store)
    records = {r.key: r for r in snap.keys}
    moved = Counter(m.key for m in snap.ledger if m.key is not None)
    verdict = Verdict(
        attempts=len(attempts),
        acks=sum(a.outcome == "ack" for a in attempts.values()),
        unanswered=sum(a.outcome is None for a in attempts.values()),
    )
    problems = verdict.problems
    problems += [
        f"{k}: claimed but never finished (half applied)"
        for k, r in records.items()
        if r.result is None
    ]
    problems += [f"{k}: applied but never attempted" for k in records if k not in attempts]
    for key, attempt in attempts.items():
        if found := _attempt_problem(key, attempt, records.get(key), moved[key]):
            problems.append(found)
    problems += [f"oversold or negative: {p}" for p in snap.positions if p.violations()]
    engine = Engine(sample_network(), store=store, retries=50)
    problems += [f"verify: {d.detail}" for d in engine.verify()]
    if replay and not problems:
        problems += _replay_problems(store, attempts)
    return verdict


def _latest(store: Store) -> Any:
    """The latest time any command stored (every change writes an event at its time)."""
    with store.unit_of_work(read_only=True) as uow:
        return max(e.at for e in uow.events())
