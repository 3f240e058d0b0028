"""Promises 1, 5 and 10 across real OS processes: the bank test, the idempotency race and the
kill -9 loop (RELIABILITY.md, test tiers).

Workers are separate Python processes (``tests/integration/workers.py``) that log every command
before and after it runs; the checker holds the store against those logs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import pytest

from omniorder import Engine, SQLiteStore
from omniorder.stores.base import Store
from omniorder.testing import take_snapshot
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE, sample_network
from tests.integration.checks import check, read_logs
from tests.integration.workers import COLD, HOT, open_store, shopper_life
from tests.postgres import drop_schema, new_schema, postgres_dsn
from tests.tiers import scale

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)
T = TypeVar("T")

# The kill loop's workers are forked by a server that has imported them once: each new life
# costs a fork, not an interpreter start (about a second of CPU on a loaded 2-core machine).
forks = multiprocessing.get_context("forkserver")
forks.set_forkserver_preload(["pytest", "tests.integration.workers"])


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


def test_an_outbox_reader_paging_while_eight_processes_write_sees_every_event_once(
    spec: str, tmp_path: Path
) -> None:
    """Promise 11: writers commit in any order; a reader paging by number misses none and
    repeats none, and reads them in the order the store numbers them."""
    steps = scale(dev=25, ci=40, thorough=300)
    stop = tmp_path / "stop"
    consumer = _worker("outbox", spec, tmp_path / "outbox.log", "--stop", str(stop))
    writers = [
        _worker(
            "shopper",
            spec,
            tmp_path / f"writer-{n}.log",
            "--name",
            f"w{n}",
            "--seed",
            str(n),
            "--steps",
            str(steps),
            "--calm",
        )
        for n in range(8)
    ]
    for process in writers:
        _finish(process)
    stop.touch()
    _finish(consumer)
    log = _entries(tmp_path / "outbox.log")
    assert log[-1]["step"] == "done"
    pages = [entry["seqs"] for entry in log if entry["step"] == "page"]
    read = [seq for page in pages for seq in page]
    store = open_store(spec)
    try:
        with store.unit_of_work(read_only=True) as uow:
            stored = [e.seq for e in uow.events()]
    finally:
        store.close()
    assert read == stored  # each once, none missed, in order
    assert len(stored) >= 8 * steps  # every command wrote at least one event
    assert len(pages) > 8  # it really paged while they wrote


def _entries(log: Path) -> list[dict[str, Any]]:
    """The complete lines a worker has logged so far (one being written is left for later)."""
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def _await_step(processes: list[subprocess.Popen[bytes]], logs: list[Path], step: str) -> None:
    """Wait until every worker has logged ``step`` (failing at once if one has died)."""
    deadline = time.monotonic() + 120
    while not all(any(e["step"] == step for e in _entries(log)) for log in logs):
        for process, log in zip(processes, logs, strict=True):
            assert process.poll() is None, log.with_suffix(".err").read_text()
        assert time.monotonic() < deadline, f"not every worker logged {step!r} in time"
        time.sleep(0.005)


def test_eight_processes_firing_the_same_key_at_once_apply_it_once(
    spec: str, tmp_path: Path
) -> None:
    """The collision is made certain, not hoped for: the racers open the store and say they are
    ready; the parent takes the write lock of the hot position (BEGIN IMMEDIATE on SQLite, a
    row lock on PostgreSQL), releases them all at once, and opens the lock only once every
    racer has fired. No command can finish before that (the key's first claimant needs the
    lock; every other claimant waits for the first), so all eight are in flight together, and
    their logged monotonic intervals prove it."""
    go = tmp_path / "go"
    logs = [tmp_path / f"racer-{n}.log" for n in range(8)]
    racers = [_worker("racer", spec, log, "--go", str(go)) for log in logs]
    _await_step(racers, logs, "ready")
    gate = open_store(spec)
    try:
        with gate.unit_of_work() as uow:
            uow.positions([(WAREHOUSE, HOT)], for_update=True)
            released = time.monotonic()
            go.touch()
            _await_step(racers, logs, "firing")
            time.sleep(0.2)  # the last to fire reaches the lock
            opened = time.monotonic()
    finally:
        gate.close()
    for process in racers:
        _finish(process)
    results = [_entries(log)[-1] for log in logs]
    assert [entry["step"] for entry in results] == ["ack"] * 8, results
    for entry in results:  # every command was in flight when the lock opened
        assert released <= entry["before"] < opened < entry["after"]
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


class _Life:
    """One life of one worker process, and what its log has said so far.

    The log is the worker's own account, written before and after each command: ``ready`` once
    the store is open, then ``try`` (a command is in flight) and ``ack``/``nack`` (it answered).
    """

    def __init__(self, process: BaseProcess, log: Path, *, spare: int) -> None:
        self.process = process
        self.log = log
        self.spare = spare
        """Commands the worker runs before the loop may kill it."""
        self.ready = False
        self.last = ""
        self.commands = 0
        self._seen = b""
        self._offset = 0

    def poll(self) -> None:
        """Read what the worker logged since the last poll (whole lines only)."""
        if not self.process.is_alive() and self.process.exitcode != -signal.SIGKILL:
            error = self.log.with_suffix(".err").read_text()
            raise AssertionError(f"{self.log.name} died: {error}")
        try:
            with self.log.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:  # the worker has not opened its store yet
            return
        self._offset += len(data)
        self._seen += data
        *lines, self._seen = self._seen.split(b"\n")
        for line in lines:
            step = json.loads(line)["step"]
            self.ready = self.ready or step == "ready"
            self.commands += step == "try"
            self.last = step

    @property
    def in_command(self) -> bool:
        """Whether the last thing the worker said is that a command is in flight."""
        return self.last == "try"

    @property
    def target(self) -> bool:
        """Whether the loop may kill the worker now: ready, past its spare commands, and inside
        a command."""
        return self.ready and self.commands > self.spare and self.in_command

    def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        self.process.kill()
        self.process.join()


@dataclass
class _Kills:
    """What a kill loop did."""

    made: int = 0
    inside: int = 0
    """Kills after which the log ends in ``try``: the command never answered."""


def _wait(find: Callable[[], T], what: str, timeout: float = 120.0) -> T:
    """Poll ``find`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (found := find()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.0002)
    return found


def _kill_loop(
    spec: str,
    tmp_path: Path,
    kills: int,
    *,
    workers: int = 4,
    calm: bool = False,
    stop_early: bool = False,
) -> _Kills:
    """Run shoppers and SIGKILL one of them inside a command ``kills`` times, restarting it.

    A worker is a target only once it has said it is ready (a kill while Python starts proves
    nothing) and has run the few commands its life was given; the loop waits until such a
    worker's log shows a command in flight, waits a random fraction of a millisecond more (so
    kills land at different points of the command), and kills it. Whether the kill landed inside
    the command is read back from the log. With ``stop_early`` the loop stops at the first check
    that finds damage.
    """
    rng = random.Random(20261125)
    names = [f"k{n}" for n in range(workers)]
    lives = dict.fromkeys(names, 0)

    def start(name: str) -> _Life:
        lives[name] += 1
        log = tmp_path / f"{name}.{lives[name]}.log"
        args = (log.with_suffix(".err"), spec, log, log.stem, rng.randrange(10**9), calm)
        process = forks.Process(target=shopper_life, args=args, daemon=True)
        process.start()
        return _Life(process, log, spare=rng.randint(0, 12))

    def targets() -> list[str]:
        for life in running.values():
            life.poll()
        return [name for name, life in running.items() if life.target]

    running = {name: start(name) for name in names}
    done = _Kills()
    try:
        while done.made < kills:
            name = rng.choice(_wait(targets, "a command in flight"))
            time.sleep(rng.uniform(0, 0.001))
            running[name].kill()
            running[name].poll()
            done.made += 1
            done.inside += running[name].in_command
            running[name] = start(name)
            if stop_early and done.made % 10 == 0 and _damaged(spec, tmp_path):
                break
    finally:
        for life in running.values():
            life.kill()
    return done


def _damaged(spec: str, tmp_path: Path) -> bool:
    store = open_store(spec.replace("sqlite-without-transactions:", "sqlite:"))
    try:
        return bool(check(store, read_logs(tmp_path.glob("k*.log")), replay=False).problems)
    finally:
        store.close()


def test_kill_minus_nine_inside_commands_loses_no_ack_and_half_applies_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shop.sqlite3"
    store = SQLiteStore(db)
    _stock(store)
    store.close()
    kills = scale(dev=50, ci=300, thorough=1000)
    done = _kill_loop(f"sqlite:{db}", tmp_path, kills)
    attempts = read_logs(tmp_path.glob("k*.log"))
    store = SQLiteStore(db)
    try:
        verdict = check(store, attempts)
    finally:
        store.close()
    logger.info("kill loop: %s, %s", done, verdict)  # --log-cli-level=INFO shows it
    assert verdict.problems == []
    assert done.made == kills
    # The aim is read back from the logs: most kills must have cut a command short.
    assert done.inside >= kills * 3 // 4, f"only {done.inside} of {kills} kills cut a command"
    assert verdict.unanswered >= done.inside
    assert verdict.acks > kills  # and the workers got work done between kills


def test_the_checker_catches_the_damage_when_transactions_are_disabled(tmp_path: Path) -> None:
    """The control run, on a store that commits each statement on its own: a worker left alone
    leaves a clean store, so the damage the checker finds once it is killed comes from kills."""
    alone, killed = tmp_path / "alone", tmp_path / "killed"
    for where in (alone, killed):
        where.mkdir()
        store = SQLiteStore(where / "shop.sqlite3")
        _stock(store)
        store.close()
    log = alone / "k0.1.log"
    spec = f"sqlite-without-transactions:{alone / 'shop.sqlite3'}"
    _finish(_worker("shopper", spec, log, "--name", "k0.1", "--steps", "300", "--calm"))
    store = SQLiteStore(alone / "shop.sqlite3")
    try:
        assert check(store, read_logs([log])).problems == []
    finally:
        store.close()
    spec = f"sqlite-without-transactions:{killed / 'shop.sqlite3'}"
    done = _kill_loop(spec, killed, 200, workers=1, calm=True, stop_early=True)
    logger.info("control run: damage found after %s", done)
    assert _damaged(spec, killed)


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
