"""Worker processes for the multi-process tests: ``python -m tests.integration.workers ROLE ...``.

Each worker opens its own store from a spec (``sqlite:PATH`` or ``postgres:DSN#SCHEMA``), runs
commands with idempotency keys, and appends one JSON line per step to its log *before* and
*after* each command: ``try`` (about to run), then ``ack`` (committed, with the result) or
``nack`` (refused with a typed domain error). A worker killed with SIGKILL leaves a ``try``
without an answer: the checker must then find that command applied completely or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from omniorder import (
    Channel,
    Engine,
    InsufficientStock,
    InvalidTransition,
    Mode,
    OmniOrderError,
    ReservationState,
    SQLiteStore,
)
from omniorder.serialization import unstructure
from omniorder.stores.base import Store
from omniorder.testing.network import STORE_1, STORE_2, WAREHOUSE, sample_network

HOT = "hot-sofa"
"""The scarce sku everyone fights over."""
COLD = ("lamp", "rug", "vase")
"""Skus there is plenty of."""


def open_store(spec: str) -> Store:
    """A store from ``sqlite:PATH`` or ``postgres:DSN#SCHEMA``."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SQLiteStore(where)
    if kind == "sqlite-without-transactions":  # the control run: the checker must catch it
        return SQLiteStore(where, _transactions=False)
    if kind == "postgres":
        from omniorder.stores.postgres import PostgresStore

        dsn, _, schema = where.rpartition("#")
        return PostgresStore(dsn, schema=schema, max_size=2)
    raise ValueError(f"unknown store spec {spec!r}")


class Log:
    """An append-only JSON-lines log, flushed after every line (a SIGKILL loses nothing)."""

    def __init__(self, path: Path) -> None:
        self._file: TextIO = path.open("a", encoding="utf-8")

    def write(self, **fields: Any) -> None:
        self._file.write(json.dumps(fields) + "\n")
        self._file.flush()


def call(engine: Engine, command: str, args: dict[str, Any], key: str) -> Any:
    """Run the logged ``command`` with its logged ``args``: the one way workers and checkers
    issue a command, so that a checker's replay is exactly the worker's request."""
    if command == "receive":
        return engine.receive(args["location"], args["sku"], args["quantity"], key=key)
    if command == "reserve":
        return engine.reserve(
            args["location"],
            args["lines"],
            channel=Channel.WEB,
            ttl=timedelta(seconds=args["ttl"]),
            mode=Mode(args["mode"]),
            key=key,
        )
    if command == "confirm":
        return engine.confirm(args["reservation_id"], key=key)
    if command == "ship":
        return engine.ship(args["reservation_id"], key=key)
    if command == "release":
        return engine.release(args["reservation_id"], reason="changed mind", key=key)
    if command == "sell":
        return engine.sell(args["location"], args["lines"], key=key)
    if command == "expire_due":
        return engine.expire_due(key=key)
    raise ValueError(f"unknown command {command!r}")


def _run(engine: Engine, log: Log, key: str, command: str, args: dict[str, Any]) -> Any:
    log.write(step="try", key=key, command=command, args=args)
    try:
        result = call(engine, command, args, key)
    except (InsufficientStock, InvalidTransition) as refused:
        log.write(step="nack", key=key, error=type(refused).__name__)
        return None
    log.write(step="ack", key=key, result=unstructure(result))
    return result


def _one_step(engine: Engine, log: Log, rng: random.Random, key: str, mine: list[str]) -> None:
    """One random command of a shop's life, keyed and logged."""
    roll = rng.random()
    if roll < 0.08:
        sku = rng.choice((HOT, *COLD))
        _run(
            engine,
            log,
            key,
            "receive",
            {"location": STORE_2, "sku": sku, "quantity": rng.randint(1, 2)},
        )
    elif roll < 0.45 or not mine:
        lines = {HOT: rng.randint(1, 2)}
        lines |= {rng.choice(COLD): 1} if rng.random() < 0.7 else {}
        args = {"location": STORE_2, "lines": lines, "ttl": rng.choice((1, 2, 30)), "mode": "ship"}
        made = _run(engine, log, key, "reserve", args)
        if made is not None:
            mine.append(made.id)
    elif roll < 0.60:
        _run(engine, log, key, "confirm", {"reservation_id": rng.choice(mine)})
    elif roll < 0.72:
        _run(engine, log, key, "ship", {"reservation_id": rng.choice(mine)})
    elif roll < 0.84:
        _run(engine, log, key, "release", {"reservation_id": mine.pop(rng.randrange(len(mine)))})
    elif roll < 0.92:
        _run(engine, log, key, "sell", {"location": STORE_1, "lines": {rng.choice(COLD): 1}})
    else:
        _run(engine, log, key, "expire_due", {})


def _calm_step(engine: Engine, log: Log, rng: random.Random, key: str, mine: list[str]) -> None:
    """One command that is never refused: a hold's life, one command at a time, on skus there is
    plenty of, with a lifetime no run outlasts (the control run's workload, where any trace the
    checker finds can only come from a kill)."""
    if not mine:
        args = {"location": STORE_2, "lines": {rng.choice(COLD): 1}, "ttl": 3600, "mode": "ship"}
        mine.append(_run(engine, log, key, "reserve", args).id)
    elif engine.reservation(mine[0]).state is ReservationState.HELD:
        _run(engine, log, key, "confirm", {"reservation_id": mine[0]})
    else:
        _run(engine, log, key, rng.choice(("ship", "release")), {"reservation_id": mine.pop()})


def shopper(
    spec: str, log_path: Path, name: str, seed: int, steps: int | None, *, calm: bool = False
) -> None:
    """Run random commands (forever, or ``steps`` of them), logging try/ack/nack.

    The first line of the log, ``ready``, is the handshake: the store is open and the next line
    is the first command.
    """
    store = open_store(spec)
    engine = Engine(sample_network(), store=store, retries=50)
    rng = random.Random(seed)
    log = Log(log_path)
    mine: list[str] = []
    step = _calm_step if calm else _one_step
    log.write(step="ready", pid=os.getpid())
    for n in range(steps if steps is not None else 10**12):
        try:
            step(engine, log, rng, f"{name}-{n}", mine)
        except OmniOrderError as error:  # anything else typed: logged, never silent
            log.write(step="error", key=f"{name}-{n}", error=f"{type(error).__name__}: {error}")
            raise
    log.write(step="done")
    store.close()


def shopper_life(err: Path, spec: str, log_path: Path, name: str, seed: int, calm: bool) -> None:
    """A shopper that runs until it is killed, as a child of a fork server (the kill loop's
    workers: forked from a process that has already imported everything, a new life starts in
    milliseconds instead of the second an interpreter takes). Its stderr goes to ``err``."""
    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND), sys.stderr.fileno())
    shopper(spec, log_path, name, seed, None, calm=calm)


def reader(spec: str, log_path: Path, stop: Path) -> None:
    """Check the invariants on consistent snapshots until ``stop`` exists."""
    from omniorder.testing import take_snapshot

    store = open_store(spec)
    log = Log(log_path)
    reads = 0
    while not stop.exists():
        snap = take_snapshot(store)
        for p in snap.positions:
            if not 0 <= p.reserved + p.committed <= p.on_hand or min(p.counters()) < 0:
                log.write(step="violation", position=unstructure(p))
        received = sum(m.quantity for m in snap.ledger if m.sku == HOT and m.kind == "received")
        gone = sum(m.quantity for m in snap.ledger if m.sku == HOT and m.kind == "fulfilled")
        on_hand = sum(p.on_hand for p in snap.positions if p.sku == HOT)
        if received - gone != on_hand:
            log.write(step="drift", received=received, gone=gone, on_hand=on_hand)
        live = sum(
            line.quantity - line.fulfilled - line.released
            for r in snap.reservations
            if r.state in (ReservationState.HELD, ReservationState.CONFIRMED)
            for line in r.lines
            if line.sku == HOT
        )
        held = sum(p.reserved + p.committed for p in snap.positions if p.sku == HOT)
        if live != held:
            log.write(step="drift", live=live, held=held)
        reads += 1
        time.sleep(0.01)
    log.write(step="reads", count=reads)
    store.close()


def outbox(spec: str, log_path: Path, stop: Path) -> None:
    """Page through the outbox while others write, as a consumer would (promise 11): each page
    ``events(after=<last seq read>, limit=7)`` is logged as the numbers it held. Once ``stop``
    exists (every writer has finished), it reads on to the end and logs ``done``."""
    store = open_store(spec)
    engine = Engine(sample_network(), store=store)
    log = Log(log_path)
    log.write(step="ready", pid=os.getpid())
    cursor = 0
    while True:
        finished = stop.exists()  # looked at before the read: the last pass sees every commit
        page = engine.events(after=cursor, limit=7)
        if page:
            log.write(step="page", seqs=[e.seq for e in page])
            cursor = page[-1].seq
        elif finished:
            break
    log.write(step="done")
    store.close()


def racer(spec: str, log_path: Path, go: Path) -> None:
    """Fire the shared key once, as soon as ``go`` exists.

    The handshake: ``ready`` once the store is open (the parent waits for every racer's), then
    a spin on ``go``; ``firing`` just before the command, and with the answer the
    ``time.monotonic()`` readings taken just before and just after it (system-wide on Linux),
    so the parent can tell which commands were in flight at the same time.
    """
    store = open_store(spec)
    engine = Engine(sample_network(), store=store, retries=50)
    log = Log(log_path)
    log.write(step="ready", pid=os.getpid())
    while not go.exists():
        time.sleep(0.0005)
    log.write(step="firing")
    before = time.monotonic()
    try:
        made = engine.reserve(
            WAREHOUSE, {HOT: 1}, channel=Channel.WEB, mode=Mode.SHIP, key="the-same-key"
        )
        after = time.monotonic()
        log.write(step="ack", result=unstructure(made), before=before, after=after)
    except OmniOrderError as error:
        log.write(step="error", error=f"{type(error).__name__}: {error}")
    store.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("shopper", "reader", "outbox", "racer"))
    parser.add_argument("spec")
    parser.add_argument("log", type=Path)
    parser.add_argument("--name", default="w")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--stop", type=Path)
    parser.add_argument("--go", type=Path, help="the racers fire when this file exists")
    parser.add_argument("--calm", action="store_true", help="only commands that are never refused")
    args = parser.parse_args(argv)
    if args.role == "shopper":
        shopper(args.spec, args.log, args.name, args.seed, args.steps, calm=args.calm)
    elif args.role == "reader":
        reader(args.spec, args.log, args.stop)
    elif args.role == "outbox":
        outbox(args.spec, args.log, args.stop)
    else:
        racer(args.spec, args.log, args.go)


if __name__ == "__main__":
    main(sys.argv[1:])
