"""Promises 1, 5 and 10 across real OS processes: the bank test, the idempotency race and the
kill -9 loop (RELIABILITY.md, test tiers).

Workers are separate Python processes (``tests/integration/workers.py``) that log every command
before and after it runs; the checker holds the store against those logs.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omniorder import Engine, SQLiteStore
from omniorder.stores.base import Store
from omniorder.testing import take_snapshot
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE, sample_network
from tests.integration.checks import check, read_logs
from tests.integration.workers import COLD, HOT, open_store
from tests.postgres import drop_schema, new_schema, postgres_dsn
from tests.tiers import scale

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


def _stock(store: Store) -> None:
    engine = Engine(sample_network(), store=store)
    engine.receive(STORE_2, HOT, 6)
    engine.receive(WAREHOUSE, HOT, 3)
    for sku in COLD:
        engine.receive(STORE_1, sku, 400)
        engine.receive(STORE_2, sku, 400)


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A stocked store shared by the processes of one test, as a worker spec."""
    if request.param == "sqlite":
        where = f"sqlite:{tmp_path / 'shop.sqlite3'}"
        store = open_store(where)
        _stock(store)
        store.close()
        yield where
        return
    dsn = postgres_dsn()
    schema = new_schema()
    where = f"postgres:{dsn}#{schema}"
    store = open_store(where)
    _stock(store)
    store.close()
    yield where
    drop_schema(dsn, schema)


def _worker(role: str, spec: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start a worker; its stderr goes to ``<log>.err`` (a file survives SIGKILL, a pipe leaks)."""
    with log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.workers", role, spec, str(log), *extra],
            cwd=ROOT,
            stderr=err,
        )


def _finish(process: subprocess.Popen[bytes], timeout: float = 600) -> None:
    process.wait(timeout=timeout)
    log = Path(str(process.args[5]))  # type: ignore[index]
    assert process.returncode == 0, log.with_suffix(".err").read_text()


def test_eight_processes_fighting_over_a_scarce_sku_never_oversell_drift_or_lose_an_ack(
    spec: str, tmp_path: Path
) -> None:
    steps = scale(dev=25, ci=60, thorough=300)
    stop = tmp_path / "stop"
    reader = _worker("reader", spec, tmp_path / "reader.log", "--stop", str(stop))
    shoppers = [
        _worker(
            "shopper",
            spec,
            tmp_path / f"shopper-{n}.log",
            "--name",
            f"s{n}",
            "--seed",
            str(n),
            "--steps",
            str(steps),
        )
        for n in range(8)
    ]
    for process in shoppers:
        _finish(process)
    stop.touch()
    _finish(reader)
    seen = [json.loads(line) for line in (tmp_path / "reader.log").read_text().splitlines()]
    assert [entry for entry in seen if entry["step"] != "reads"] == []
    assert seen[-1]["count"] > 0
    attempts = read_logs(tmp_path.glob("shopper-*.log"))
    assert len(attempts) == 8 * steps
    store = open_store(spec)
    try:
        verdict = check(store, attempts)
        assert verdict.problems == []
        assert verdict.acks >= steps  # work got done ...
        assert sum(a.outcome == "nack" for a in attempts.values()) > 0  # ... under contention
        snap = take_snapshot(store)
        received = sum(m.quantity for m in snap.ledger if m.sku == HOT and m.kind == "received")
        shipped = sum(m.quantity for m in snap.ledger if m.sku == HOT and m.kind == "fulfilled")
        assert shipped <= received
    finally:
        store.close()


def test_eight_processes_firing_the_same_key_at_once_apply_it_once(
    spec: str, tmp_path: Path
) -> None:
    start_at = time.time() + 3.0
    racers = [
        _worker("racer", spec, tmp_path / f"racer-{n}.log", "--start-at", str(start_at))
        for n in range(8)
    ]
    for process in racers:
        _finish(process)
    results = [json.loads((tmp_path / f"racer-{n}.log").read_text()) for n in range(8)]
    assert {entry["step"] for entry in results} == {"ack"}
    assert len({json.dumps(entry["result"], sort_keys=True) for entry in results}) == 1
    store = open_store(spec)
    try:
        snap = take_snapshot(store)
        assert [r.key for r in snap.keys] == ["the-same-key"]
        assert len(snap.reservations) == 1
        assert (
            next(p for p in snap.positions if (p.location, p.sku) == (WAREHOUSE, HOT)).reserved == 1
        )
    finally:
        store.close()


def _kill_loop(spec: str, tmp_path: Path, kills: int, *, stop_early: bool = False) -> int:
    """Run 4 shoppers, SIGKILL one at a random moment ``kills`` times, restarting it each time.

    Returns how many kills were made (fewer with ``stop_early``, once a check fails).
    """
    rng = random.Random(20261125)
    names = [f"k{n}" for n in range(4)]
    lives = dict.fromkeys(names, 0)

    def start(name: str) -> subprocess.Popen[bytes]:
        lives[name] += 1
        life = f"{name}.{lives[name]}"
        return _worker(
            "shopper",
            spec,
            tmp_path / f"{life}.log",
            "--name",
            life,
            "--seed",
            str(rng.randrange(10**9)),
        )

    running = {name: start(name) for name in names}
    made = 0
    try:
        for made in range(1, kills + 1):
            time.sleep(rng.uniform(0.05, 0.3))
            name = rng.choice(names)
            running[name].send_signal(signal.SIGKILL)
            running[name].wait()
            running[name] = start(name)
            if stop_early and made % 10 == 0 and _damaged(spec, tmp_path):
                break
    finally:
        for process in running.values():
            process.send_signal(signal.SIGKILL)
            process.wait()
    return made


def _damaged(spec: str, tmp_path: Path) -> bool:
    store = open_store(spec.replace("sqlite-without-transactions:", "sqlite:"))
    try:
        return bool(check(store, read_logs(tmp_path.glob("k*.log")), replay=False).problems)
    finally:
        store.close()


def test_kill_minus_nine_at_random_moments_loses_no_ack_and_half_applies_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db)
    _stock(store)
    store.close()
    kills = scale(dev=30, ci=200, thorough=500)
    assert _kill_loop(f"sqlite:{db}", tmp_path, kills) == kills
    attempts = read_logs(tmp_path.glob("k*.log"))
    store = SQLiteStore(db)
    try:
        verdict = check(store, attempts)
    finally:
        store.close()
    logger.info("kill loop: %d kills, %s", kills, verdict)  # --log-cli-level=INFO shows it
    assert verdict.problems == []
    assert verdict.unanswered > 0, "no kill landed inside a command: the test proved nothing"
    assert verdict.acks > kills


def test_the_checker_catches_the_damage_when_transactions_are_disabled(tmp_path: Path) -> None:
    """The control run: with each statement committed on its own, kills must leave damage."""
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db)
    _stock(store)
    store.close()
    made = _kill_loop(f"sqlite-without-transactions:{db}", tmp_path, 200, stop_early=True)
    logger.info("control run: damage found after %d kills", made)
    assert _damaged(f"sqlite:{db}", tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_workers_leave_logs_the_checker_can_read(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db)
    _stock(store)
    store.close()
    _finish(
        _worker("shopper", f"sqlite:{db}", tmp_path / "k0.1.log", "--name", "k0.1", "--steps", "20")
    )
    attempts = read_logs([tmp_path / "k0.1.log"])
    assert len(attempts) == 20
    assert all(a.outcome in ("ack", "nack") for a in attempts.values())
