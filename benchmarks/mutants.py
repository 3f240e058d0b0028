"""The mutant catalogue: bugs the stateful specification must catch, and how often it does.

    python benchmarks/mutants.py [--examples 200] [--steps 50] [--jobs 2] [--only NAME ...]
    python benchmarks/mutants.py --tally          # per-rule outcomes of the unmutated machine

Each mutant is one small edit to the library's source: in one function (a dotted path such as
``omniorder.service.holds:extend``) or module-level table (``omniorder.model.position:EFFECTS``),
a snippet that must occur there exactly once is replaced. For each mutant the package is copied
to a temporary folder, the edit applied, and the stateful machine
(:mod:`omniorder.testing.machine` on :class:`~omniorder.InMemoryStore`, derandomised, at
Hypothesis's CI budget of 200 examples of 50 steps unless told otherwise, no shrinking) run
against the copy in a subprocess. A mutant is

- KILLED when the machine fails (its first line of failure is shown),
- SURVIVED when the machine passes: the specification has a hole, or the edit changes nothing
  observable (say which in ``why``),
- STALE when its function or snippet is no longer in the source: the code moved, so move the
  mutant with it (``tests/test_mutants.py`` fails on a stale mutant).

The unmutated source runs first and must pass, or every mutant would look killed. The goal is
that the machine alone kills at least 90 % of the catalogue; every bug fixed in the engine adds
the mutant that would bring it back.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass(frozen=True)
class Mutant:
    """One edit to the source: in ``where``, ``before`` (once) becomes ``after``."""

    name: str
    where: str
    """``module:Qualified.name`` of the function (or class, or module-level constant) the edit
    is made in."""
    before: str
    after: str
    why: str
    """The bug it plants, in the words of the promise it breaks."""


class Stale(Exception):
    """The mutant's function or snippet is no longer in the source."""


CATALOGUE: list[Mutant] = [
    Mutant(
        "extend-doubles-the-lifetime",
        "omniorder.service.holds:extend",
        'checks.later(w.now, ttl, "ttl")',
        'checks.later(w.now, ttl * 2, "ttl")',
        "An extended hold lives twice as long as asked (promise 6, exact expiry).",
    ),
    Mutant(
        "release-of-a-confirmed-reservation-keeps-its-units",
        "omniorder.model.reservation:Reservation.release",
        "return self._give_back(state, now)",
        "released, moves = self._give_back(state, now)\n"
        "        return released, ([] if self.state is _S.CONFIRMED else moves)",
        "Releasing a CONFIRMED reservation writes no COMMIT_RELEASED moves, so its committed "
        "units never go back on sale (§2.3, promise 2).",
    ),
    # -- holds -----------------------------------------------------------------------------------
    Mutant(
        "reserve-ignores-the-asked-ttl",
        "omniorder.service.holds:reserve",
        "ctx.policy.ttl_for(seen_by) if ttl is None else ttl",
        "ctx.policy.ttl_for(seen_by)",
        "A hold asked for with a ttl lives for the channel's default instead (§2.3, exact expiry).",
    ),
    Mutant(
        "mark-ready-ignores-the-pickup-window",
        "omniorder.service.holds:mark_ready",
        "window = ctx.policy.pickup_window_for(pickup_window)",
        "window = ctx.policy.pickup_window",
        "A pickup marked READY with a window gets the policy's deadline instead (§2.3).",
    ),
    Mutant(
        "collect-after-the-pickup-deadline",
        "omniorder.model.reservation:Reservation.collect",
        "now >= self.expires_at",
        "now > self.expires_at",
        "A pickup can still be collected at the very instant of its deadline, when it is a "
        "no-show to be expired (§2.3).",
    ),
    Mutant(
        "uncollected-units-released-as-a-hold",
        "omniorder.model.reservation:Reservation.collect",
        "moves.append((MovementKind.COMMIT_RELEASED, line.sku, rest))",
        "moves.append((MovementKind.HOLD_RELEASED, line.sku, rest))",
        "A partial collection gives the rest back from `reserved` instead of `committed` "
        "(§2.3 stock effects, promise 2).",
    ),
    Mutant(
        "confirmed-reservation-keeps-its-hold-expiry",
        "omniorder.model.reservation:Reservation.confirm",
        "self._moved(state, now, expires_at=None)",
        "self._moved(state, now)",
        "A confirmed reservation keeps the hold's expires_at, though CONFIRMED has no deadline "
        "(§2.3 reservation fields).",
    ),
    # -- expiry and the unit of work -------------------------------------------------------------
    Mutant(
        "hold-outlives-its-expiry-instant",
        "omniorder.model.reservation:Reservation.is_due",
        "now >= self.expires_at",
        "now > self.expires_at",
        "A hold at exactly expires_at still blocks stock and can be confirmed (promise 6, "
        "`now >= expires_at`).",
    ),
    Mutant(
        "memory-store-finds-due-holds-a-tick-late",
        "omniorder.stores.memory:_MemoryUnitOfWork.due_reservations",
        "heap[0][0] <= now",
        "heap[0][0] < now",
        "The store does not return a hold due at exactly now, so it is not swept and blocks a "
        "sale at its expiry instant (promise 6).",
    ),
    Mutant(
        "expire-due-forgets-no-shows",
        "omniorder.service.holds:expire_due",
        "states=(ReservationState.HELD, ReservationState.READY),",
        "states=(ReservationState.HELD,),",
        "expire_due never expires a READY no-show, so its units stay committed (§2.3 READY "
        "expire).",
    ),
    Mutant(
        "decisions-see-unswept-expired-holds",
        "omniorder.service.work:Work.positions",
        "self.sweep(ordered)",
        "pass  # expiry is left to expire_due",
        "Commands decide on positions that still count expired holds, so an expired hold "
        "blocks a sale (promise 6).",
    ),
    Mutant(
        "readers-count-one-lapsed-hold-per-position",
        "omniorder.service.work:effective_positions",
        "lapsed[(reservation.location, line.sku)] += line.open",
        "lapsed[(reservation.location, line.sku)] = line.open",
        "With two expired holds on one position, readers give back only one of them "
        "(promise 6: no expired hold blocks availability).",
    ),
    # -- fulfilment ------------------------------------------------------------------------------
    Mutant(
        "ship-leaves-the-parcel-on-the-shelf",
        "omniorder.model.reservation:Reservation.ship",
        "(MovementKind.FULFILLED, line.sku, line.open)",
        "(MovementKind.COMMIT_RELEASED, line.sku, line.open)",
        "Shipping releases the commitment but leaves the units on_hand (§2.3 ship: on_hand -= q).",
    ),
    Mutant(
        "dispatch-books-inbound-at-the-origin",
        "omniorder.service.fulfilment:_dispatch",
        "w.apply_at(r.destination, r.id, there)",
        "w.apply_at(r.location, r.id, there)",
        "A dispatched transfer raises the origin's inbound instead of the store's (§2.4 "
        "ShipToStore).",
    ),
    Mutant(
        "arrival-waits-at-the-origin",
        "omniorder.model.reservation:Reservation.await_pickup",
        "location=transfer.destination,",
        "location=transfer.location,",
        "The READY pickup made on arrival commits units at the origin, not at the store the "
        "customer collects from (§2.4).",
    ),
    Mutant(
        "arrival-readies-rejected-units-too",
        "omniorder.model.reservation:Reservation.await_pickup",
        "ReservationLine(line.sku, line.open)",
        "ReservationLine(line.sku, line.quantity)",
        "A transfer partly rejected before dispatch arrives READY for every unit it was made "
        "for, committing units that never came (promise 1/2).",
    ),
    Mutant(
        "short-pick-keeps-the-missing-units-on-hand",
        "omniorder.model.reservation:Reservation.reject",
        "                (MovementKind.ADJUSTED, sku, -units),\n",
        "",
        "A rejected (short-picked) line is released but the location's on_hand is not "
        "corrected (§2.4 reject).",
    ),
    Mutant(
        "resourcing-returns-to-the-rejecting-location",
        "omniorder.service.orders:_resource",
        "exclude=[reservation.location]",
        "exclude=[]",
        "Rejected units may be re-sourced at the very location that just rejected them "
        "(§2.4 re-sourcing elsewhere).",
    ),
    # -- ordering --------------------------------------------------------------------------------
    Mutant(
        "partly-sourced-order-placed-without-backorders",
        "omniorder.service.orders:place_order",
        "if plan.unallocated and not ctx.policy.backorders:",
        "if not plan.assignments and not ctx.policy.backorders:",
        "Without Policy.backorders an order that can be only partly sourced is placed "
        "(and backordered) instead of refused (§2.4, atomic placement).",
    ),
    Mutant(
        "placing-confirms-expired-holds",
        "omniorder.service.orders:_confirm_holds",
        "state = reservation.effective(w.now).state",
        "state = reservation.state",
        "place_order tries to confirm an expired but unswept hold instead of re-sourcing its "
        "lines (§2.3 place_order, promise 6).",
    ),
    Mutant(
        "holding-again-leaks-the-old-holds",
        "omniorder.service.orders:hold_order",
        '_release_holds(w, existing, reason="held again")',
        "pass",
        "Holding an order again leaves its previous holds reserving stock (promise 2).",
    ),
    Mutant(
        "placing-commits-a-confirmed-hold-again",
        "omniorder.service.orders:place_order",
        "covered: defaultdict[str, int] = defaultdict(int, carried.covered)",
        "covered: defaultdict[str, int] = defaultdict(int)",
        "A hold of a held order confirmed on its own is sourced again when the order is placed: "
        "its units are committed twice (promise 2; the bug fixed on 2026-12-02).",
    ),
    Mutant(
        "a-changed-cart-forgets-its-confirmed-holds",
        "omniorder.service.orders:_commitments",
        "if old is None or reservation.state not in _SOLD:",
        "if True:",
        "Holding again or placing a changed cart carries nothing the order sold over: its "
        "confirmed holds drop out of its sourcing and their lines are sourced afresh, so the "
        "confirmed units stay committed for no line (promise 2; the bug fixed on 2026-12-03).",
    ),
    Mutant(
        "a-cart-below-its-confirmed-units-is-accepted",
        "omniorder.service.orders:_commitments",
        "if covered[line.id] > line.quantity",
        "if covered[line.id] > line.quantity + 1",
        "A changed cart asking for one unit fewer than the order already sold is accepted: "
        "a committed unit belongs to no line (docs/concepts/orders.md, changing a held cart).",
    ),
    Mutant(
        "placed-order-recorded-as-held",
        "omniorder.service.orders:place_order",
        "OrderCommand.PLACE_ORDER,",
        "OrderCommand.HOLD_ORDER,",
        "A placed order keeps status HELD, so it can be held or placed again (§2.4 ORDER_TABLE).",
    ),
    Mutant(
        "placing-drops-the-confirmed-holds-from-the-order",
        "omniorder.service.orders:place_order",
        "previous = existing.sourcing if existing is not None and same else ()",
        "previous = ()",
        "Placing a held order forgets the holds it confirmed from the order's sourcing "
        "(one OrderView across locations, §2.4).",
    ),
    Mutant(
        "order-view-hides-an-undispatched-transfer",
        "omniorder.model.order:order_view",
        "if reservation.state is not ReservationState.FULFILLED:  # not arrived yet",
        "if reservation.state is ReservationState.IN_TRANSIT:",
        "A ship-to-store line whose transfer is not yet dispatched shows as sourced nowhere "
        "(§2.4 LineView.sourced).",
    ),
    # -- returns ---------------------------------------------------------------------------------
    Mutant(
        "return-window-includes-its-last-instant",
        "omniorder.service.returns:returnable",
        "now < when + window",
        "now <= when + window",
        "A unit can still be returned at exactly the end of the return window (§2.5 eligibility).",
    ),
    Mutant(
        "returns-forget-earlier-returns",
        "omniorder.service.returns:returnable",
        "fulfilled - covered.get(line_id, 0)",
        "fulfilled",
        "A line can be returned again and again, beyond what was fulfilled (promise 8: "
        "returned <= fulfilled).",
    ),
    Mutant(
        "rejected-returns-still-count",
        "omniorder.model.returns:ReturnAuthorization.counts",
        "return self.state is not ReturnState.REJECTED",
        "return True",
        "A return rejected on review still uses up the line's returnable units (§2.5).",
    ),
    Mutant(
        "refund-rounds-half-up",
        "omniorder.model.returns:refund_for",
        "rounding=ROUND_DOWN",
        'rounding="ROUND_HALF_UP"',
        "A refund after a fee is rounded up to the cent, refunding more than the policy allows "
        "(promise 8: refunds <= paid, rounded down).",
    ),
    Mutant(
        "restocking-fee-never-charged",
        "omniorder.model.returns:inspect",
        "policy.restocking_fee[p.condition]",
        "policy.restocking_fee[Condition.SELLABLE]",
        "Damaged and defective units refund in full, ignoring the restocking fee (§2.5 refund).",
    ),
    Mutant(
        "damaged-units-restocked",
        "omniorder.model.returns:inspect",
        "p.disposition or policy.dispositions[p.condition]",
        "p.disposition or Disposition.RESTOCK",
        "Every returned unit goes back on the shelf whatever its condition (§2.5 dispositions, "
        "quarantine).",
    ),
    Mutant(
        "refund-skips-the-return-table",
        "omniorder.model.returns:ReturnAuthorization.refund",
        "return self._to(ReturnCommand.REFUND, now, refunded_at=now)",
        "return attrs.evolve(\n"
        "            self,\n"
        "            state=ReturnState.CLOSED,\n"
        "            updated_at=now,\n"
        "            version=self.version + 1,\n"
        "            refunded_at=now,\n"
        "        )",
        "A refund closes the return without firing RETURN_TABLE, so a refund can be issued "
        "before receipt or twice (promises 7 and 8).",
    ),
    Mutant(
        "quarantine-cannot-be-emptied",
        "omniorder.service.returns:resolve_quarantine",
        "if current.quarantine < quantity:",
        "if current.quarantine <= quantity:",
        "Resolving every quarantined unit of a position is refused as insufficient stock "
        "(§2.5 quarantine).",
    ),
    Mutant(
        "unquarantined-units-never-reach-the-shelf",
        "omniorder.model.position:EFFECTS",
        "MovementKind.UNQUARANTINED: (1, 0, 0, 0, 0, -1),",
        "MovementKind.UNQUARANTINED: (0, 0, 0, 0, 0, -1),",
        "A quarantined unit resolved as RESTOCK leaves quarantine but never becomes on_hand "
        "(§2.5 RESTOCK: sellable at once).",
    ),
    # -- stock -----------------------------------------------------------------------------------
    Mutant(
        "dispatched-units-stay-on-the-origin-shelf",
        "omniorder.model.position:EFFECTS",
        "MovementKind.DISPATCHED: (-1, 0, -1, 0, 0, 0),",
        "MovementKind.DISPATCHED: (0, 0, -1, 0, 0, 0),",
        "A dispatched transfer releases its commitment but its units stay on_hand at the "
        "origin (§2.4 transfer: units leave on_hand at dispatch).",
    ),
    Mutant(
        "receive-accepts-zero",
        "omniorder.service.stock:receive",
        "checks.positive(quantity)",
        "checks.non_negative(quantity)",
        "Receiving zero units is accepted and writes an empty movement (quantities are >= 1).",
    ),
    Mutant(
        "absolute-adjust-applied-as-delta",
        "omniorder.service.stock:adjust",
        "change = to - current.on_hand if to is not None else delta",
        "change = to if to is not None else delta",
        "adjust(to=n) adds n to on_hand instead of setting it to n (a stock count).",
    ),
    Mutant(
        "adjust-may-take-committed-units",
        "omniorder.service.stock:adjust",
        "if current.free + change < 0:",
        "if current.on_hand + change < 0:",
        "An adjustment below what is held and committed is not refused as InsufficientStock "
        "(promise 1, typed errors).",
    ),
    Mutant(
        "safety-stock-set-relative",
        "omniorder.service.stock:set_safety_stock",
        "change = quantity - current.safety_stock",
        "change = quantity",
        "set_safety_stock adds to the buffer instead of setting it (§2.2 safety_stock).",
    ),
    Mutant(
        "sale-checked-against-the-tills-availability",
        "omniorder.service.stock:sell",
        "check_available(positions, keys, seen_by)",
        "check_available(positions, keys, Channel.STORE)",
        "A sale in a remote channel is judged without its safety-stock buffer (§2.2 "
        "available(channel)).",
    ),
    # -- idempotency -----------------------------------------------------------------------------
    Mutant(
        "fingerprint-includes-the-time",
        "omniorder.service.idempotency:Claim.take",
        'f"{command}\\n{body}"',
        'f"{command}\\n{body}\\n{now.isoformat()}"',
        "A replay at a later time is taken for another request and conflicts (promise 5).",
    ),
    Mutant(
        "same-command-other-request-replays",
        "omniorder.service.idempotency:Claim.take",
        "if existing.command != command or existing.fingerprint != fingerprint:",
        "if existing.command != command:",
        "The same key with a different request of the same command replays the first result "
        "instead of raising IdempotencyConflict (promise 5).",
    ),
    Mutant(
        "request-leaves-out-the-required-arguments",
        "omniorder.service.command:command.declare.asks",
        "return True",
        "return False",
        "A keyed command's request holds only the optional arguments a caller set, so the same key "
        "with other required arguments replays the first result (promise 5).",
    ),
    Mutant(
        "failed-command-keeps-its-key",
        "omniorder.stores.memory:_MemoryUnitOfWork.claim_key",
        "self._undo.append((self._s.keys, record.key, _ABSENT))",
        "pass",
        "A command that raises leaves its key claimed, so the key can never be used again "
        "(promises 4 and 5: errors are never stored under a key).",
    ),
    # -- model and store -------------------------------------------------------------------------
    Mutant(
        "availability-ignores-committed",
        "omniorder.model.position:Position.available",
        "max(0, self.free - self.buffer(channel))",
        "max(0, self.on_hand - self.reserved - self.buffer(channel))",
        "Committed (sold) units still look available (§2.2 available(), promise 1).",
    ),
    Mutant(
        "marketplace-sees-the-safety-stock",
        "omniorder.model.position:Position.buffer",
        "channel in REMOTE_CHANNELS",
        "channel is Channel.WEB",
        "Only the web withholds safety stock; app, call centre and marketplace sell it "
        "(§2.2 buffer, promise 12).",
    ),
    Mutant(
        "ledger-read-skips-a-movement",
        "omniorder.stores.memory:_MemoryUnitOfWork.movements",
        "self._s.ledger[max(0, after) :]",
        "self._s.ledger[max(0, after) + 1 :]",
        "Reading the ledger after a seq skips one movement, so a replay no longer gives the "
        "positions (promise 2).",
    ),
    Mutant(
        "limit-checked-on-the-movement-not-the-counter",
        "omniorder.model.position:refusal",
        "if above := after.above_limit():",
        "if movement.quantity > MAX_QUANTITY and (above := after.above_limit()):",
        "Two receipts that each fit can push on_hand past the largest storable quantity: the "
        "write path no longer refuses a counter above the limit (InvalidInput).",
    ),
    Mutant(
        "limit-check-off-by-one",
        "omniorder.model.position:Position.above_limit",
        "if value > MAX_QUANTITY",
        "if value > MAX_QUANTITY + 1",
        "A counter of MAX_QUANTITY + 1, which no 64-bit column holds, is accepted on the write "
        "path.",
    ),
    Mutant(
        "times-kept-in-their-own-zone",
        "omniorder.model.checks:aware",
        "return value.astimezone(UTC)",
        "return value",
        "An instant from a non-UTC clock is kept in its zone, not normalised to UTC, so "
        "deadlines follow wall clocks across DST (every instant is kept in UTC).",
    ),
]


def _defines(node: ast.stmt, name: str) -> bool:
    """Whether ``node`` defines ``name``: a function or class, or an assignment to the name."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name == name
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    return False


def _segment(source: str, qualname: str) -> tuple[int, int]:
    """Character offsets of the definition ``qualname`` (``Class.method``, or a module-level
    constant such as ``EFFECTS``) in ``source``."""
    tree: ast.AST = ast.parse(source)
    for part in qualname.split("."):
        body = getattr(tree, "body", [])
        found = [node for node in body if _defines(node, part)]
        if len(found) != 1:
            raise Stale(f"no single definition {part!r} in {qualname!r}")
        tree = found[0]
    assert isinstance(tree, ast.stmt)
    assert tree.end_lineno is not None
    lines = source.splitlines(keepends=True)
    decorators = getattr(tree, "decorator_list", [])
    first = decorators[0].lineno if decorators else tree.lineno
    start = sum(len(line) for line in lines[: first - 1])
    end = sum(len(line) for line in lines[: tree.end_lineno])
    return start, end


def source_file(mutant: Mutant, root: Path = SRC) -> Path:
    """The file of the mutant's module under ``root``."""
    module = mutant.where.partition(":")[0]
    base = root.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def mutated(mutant: Mutant, root: Path = SRC) -> str:
    """The mutant's file with its edit made; :class:`Stale` when the edit no longer applies."""
    path = source_file(mutant, root)
    if not path.exists():
        raise Stale(f"{path} does not exist")
    source = path.read_text(encoding="utf-8")
    start, end = _segment(source, mutant.where.partition(":")[2])
    segment = source[start:end]
    found = segment.count(mutant.before)
    if found != 1:
        raise Stale(f"{mutant.before!r} occurs {found} times in {mutant.where}")
    if mutant.before == mutant.after:
        raise Stale("the edit changes nothing")
    result = source[:start] + segment.replace(mutant.before, mutant.after) + source[end:]
    compile(result, str(path), "exec")
    return result


RUNNER = textwrap.dedent(
    """
    import sys
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    import omniorder
    from omniorder import InMemoryStore
    from omniorder.testing.machine import machine_for

    assert omniorder.__file__.startswith(sys.argv[3]), omniorder.__file__
    machine = machine_for(InMemoryStore, lambda store: None, "MutantMachine")
    if sys.argv[4] == "tally":
        from omniorder.testing.machine import Tally

        machine.tally = Tally()
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=int(sys.argv[1]),
                stateful_step_count=int(sys.argv[2]),
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            ),
        )
    finally:
        if getattr(machine, "tally", None) is not None:
            for rule, ok, errors in machine.tally.rows():
                print(f"{rule:40} {ok:6}  {errors}")
    """
)


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # KILLED, SURVIVED, STALE, or BROKEN for the unmutated run
    seconds: float
    detail: str


def run(
    mutant: Mutant | None, examples: int, steps: int, tally: bool = False, timeout: float = 1800
) -> Outcome:
    """Run the machine against the source with ``mutant`` applied (None: unmutated)."""
    name = mutant.name if mutant else "(unmutated)"
    folder = Path(tempfile.mkdtemp(prefix="omniorder-mutant-"))
    try:
        shutil.copytree(
            SRC / "omniorder", folder / "omniorder", ignore=shutil.ignore_patterns("__pycache__")
        )
        if mutant is not None:
            try:
                source_file(mutant, folder).write_text(mutated(mutant), encoding="utf-8")
            except Stale as stale:
                return Outcome(name, "STALE", 0.0, str(stale))
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("CI", None)
        try:
            done = subprocess.run(  # noqa: S603 - this interpreter, our own runner
                [
                    sys.executable,
                    "-c",
                    RUNNER,
                    str(examples),
                    str(steps),
                    str(folder),
                    "tally" if tally else "-",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Outcome(name, "KILLED", timeout, "timed out (a hang counts as caught)")
        seconds = time.perf_counter() - started
        if done.returncode == 0:
            return Outcome(name, "SURVIVED" if mutant else "passed", seconds, done.stdout)
        return Outcome(name, "KILLED" if mutant else "BROKEN", seconds, _first_failure(done))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_RAISED = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*)(?::|$)")
"""The last line of a traceback: ``module.Error: message`` (or the bare name)."""


def _first_failure(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    raised = [
        line for line in lines if _RAISED.match(line) and not line.startswith("Highest target")
    ]
    return (raised or lines or ["(no output)"])[-1][:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="run these mutants only")
    parser.add_argument("--tally", action="store_true", help="per-rule outcomes, unmutated")
    args = parser.parse_args(argv)
    budget = f"{args.examples} examples x {args.steps} steps"
    baseline = run(None, args.examples, args.steps, tally=args.tally)
    if baseline.status != "passed":
        print(f"the unmutated machine fails ({baseline.detail}): fix it first")
        return 1
    print(f"unmutated: passed in {baseline.seconds:.1f} s ({budget}, InMemoryStore)")
    if args.tally:
        print(f"{'rule':40} {'ok':>6}  typed errors\n{baseline.detail}")
        return 0
    chosen = [m for m in CATALOGUE if args.only is None or m.name in args.only]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(lambda m: run(m, args.examples, args.steps), chosen))
    for o in outcomes:
        shown = o.detail if o.status != "SURVIVED" else ""
        print(f"{o.status:8} {o.seconds:6.1f} s  {o.name:45} {shown}")
    killed = sum(o.status == "KILLED" for o in outcomes)
    stale = sum(o.status == "STALE" for o in outcomes)
    live = len(outcomes) - stale
    rate = killed / live if live else 0.0
    print(f"killed {killed} of {live} mutants ({rate:.0%}); {stale} stale; {budget}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
