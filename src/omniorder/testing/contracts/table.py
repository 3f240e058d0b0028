"""Promise 7: the reservation table of DESIGN §2.3 is the whole truth.

Every (state, command) pair, in every mode, is tried on a real reservation through the engine:
a pair the table allows moves to the table's target; any other raises InvalidTransition carrying
the state and the command, and leaves the store exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from omniorder import Channel, Engine, InvalidTransition, ManualClock, Mode, ReservationState
from omniorder.model import MODE_COMMANDS, RESERVATION_TABLE, ReservationCommand
from omniorder.model.reservation import SHIP_COMMANDS
from omniorder.testing import take_snapshot
from omniorder.testing.contracts.base import ContractBase
from omniorder.testing.network import STORE_1, STORE_2

S = ReservationState
C = ReservationCommand


def reservation_in(engine: Engine, clock: ManualClock, state: S, mode: Mode) -> str:
    """A reservation of 2 units at STORE_2 (which ships, hands over and has a lane to
    STORE_1) in ``state``."""
    engine.receive(STORE_2, "lamp", 2)
    made = engine.reserve(
        STORE_2,
        {"lamp": 2},
        channel=Channel.WEB,
        mode=mode,
        ttl=timedelta(minutes=10),
        destination=STORE_1 if mode is Mode.TRANSFER else None,
    )
    rid = made.id
    if state is S.HELD:
        return rid
    if state is S.RELEASED:
        engine.release(rid)
        return rid
    if state is S.EXPIRED:
        clock.advance(timedelta(minutes=10))
        engine.expire_due()
        return rid
    engine.confirm(rid)
    if state is S.CONFIRMED:
        return rid
    if mode is not Mode.PICKUP:
        engine.ship(rid)  # SHIP: fulfilled; TRANSFER: in transit
        if state is S.FULFILLED and mode is Mode.TRANSFER:
            engine.arrive(rid)
        return rid
    engine.mark_ready(rid)
    if state is S.FULFILLED:
        engine.collect(rid)
    return rid


def fire(engine: Engine, clock: ManualClock, rid: str, command: C) -> None:
    """Issue ``command`` through the engine's public API."""
    calls = {
        C.EXTEND: lambda: engine.extend(rid, timedelta(minutes=5)),
        C.CONFIRM: lambda: engine.confirm(rid),
        C.MARK_READY: lambda: engine.mark_ready(rid),
        C.SHIP: lambda: engine.ship(rid),
        C.COLLECT: lambda: engine.collect(rid),
        C.RELEASE: lambda: engine.release(rid),
        C.REJECT: lambda: engine.reject(rid, {"lamp": 1}, reason="short pick"),
        C.DISPATCH: lambda: engine.ship(rid),
        C.ARRIVE: lambda: engine.arrive(rid),
    }
    calls[command]()


def reachable(state: S, mode: Mode) -> bool:
    """Whether a reservation of ``mode`` can be in ``state`` at all."""
    if state is S.READY:
        return mode is Mode.PICKUP
    if state is S.IN_TRANSIT:
        return mode is Mode.TRANSFER
    return True


def issued(command: C, mode: Mode) -> bool:
    """Whether the public API issues ``command`` for ``mode`` (``ship`` dispatches a TRANSFER)."""
    if command in (C.SHIP, C.DISPATCH):
        return SHIP_COMMANDS[mode] is command
    return command not in (C.RESERVE, C.PLACE, C.EXPIRE)  # creations, and the sweep's own


CASES = [
    (state, command, mode)
    for state, command in RESERVATION_TABLE.pairs()
    for mode in Mode
    if issued(command, mode) and reachable(state, mode)
]


class TableContract(ContractBase):
    """Promise 7: the reservation table, pair by pair."""

    @pytest.mark.parametrize(
        ("state", "command", "mode"),
        CASES,
        ids=[f"{s.name}-{c.value}-{m.value}" for s, c, m in CASES],
    )
    def test_every_state_and_command_follows_the_table(
        self, engine: Engine, clock: ManualClock, state: S, command: C, mode: Mode
    ) -> None:
        rid = reservation_in(engine, clock, state, mode)
        assert engine.reservation(rid).state is state
        legal = RESERVATION_TABLE.allows(state, command) and mode in MODE_COMMANDS.get(
            command, frozenset(Mode)
        )
        before = take_snapshot(engine.store)
        if legal:
            fire(engine, clock, rid, command)
            assert engine.reservation(rid).state is RESERVATION_TABLE.transitions[(state, command)]
            assert engine.verify() == []
        else:
            with pytest.raises(InvalidTransition) as raised:
                fire(engine, clock, rid, command)
            assert (raised.value.state, raised.value.command) == (state.name, command.value)
            assert raised.value.machine == "reservation"
            assert raised.value.subject == rid
            assert take_snapshot(engine.store) == before

    @pytest.mark.parametrize("state", list(S), ids=[s.name for s in S])
    def test_only_due_holds_and_no_shows_are_expired_by_the_sweep(
        self, engine: Engine, clock: ManualClock, state: S
    ) -> None:
        mode = Mode.TRANSFER if state is S.IN_TRANSIT else Mode.PICKUP
        rid = reservation_in(engine, clock, state, mode)
        clock.advance(timedelta(days=30))
        expired = engine.expire_due()
        if RESERVATION_TABLE.allows(state, C.EXPIRE):
            assert [r.id for r in expired] == [rid]
            assert engine.reservation(rid).state is S.EXPIRED
        else:
            assert expired == []
            assert engine.reservation(rid).state is state
        assert engine.verify() == []

    def test_reserve_only_creates_and_terminal_states_are_final(self) -> None:
        for state in S:
            assert not RESERVATION_TABLE.allows(state, C.RESERVE)
            assert not RESERVATION_TABLE.allows(state, C.PLACE)
        for state in RESERVATION_TABLE.terminal:
            assert RESERVATION_TABLE.commands_from(state) == []
        assert RESERVATION_TABLE.initial == {
            C.RESERVE: S.HELD,
            C.PLACE: S.CONFIRMED,
            C.ARRIVE: S.READY,
        }

    def test_the_table_is_exactly_the_one_in_the_design(self) -> None:
        assert dict(RESERVATION_TABLE.transitions) == {
            (S.HELD, C.EXTEND): S.HELD,
            (S.HELD, C.CONFIRM): S.CONFIRMED,
            (S.HELD, C.RELEASE): S.RELEASED,
            (S.HELD, C.EXPIRE): S.EXPIRED,
            (S.CONFIRMED, C.MARK_READY): S.READY,
            (S.CONFIRMED, C.SHIP): S.FULFILLED,
            (S.CONFIRMED, C.RELEASE): S.RELEASED,
            (S.CONFIRMED, C.REJECT): S.CONFIRMED,
            (S.CONFIRMED, C.DISPATCH): S.IN_TRANSIT,
            (S.IN_TRANSIT, C.ARRIVE): S.FULFILLED,
            (S.READY, C.COLLECT): S.FULFILLED,
            (S.READY, C.EXPIRE): S.EXPIRED,
            (S.READY, C.RELEASE): S.RELEASED,
        }

    def test_the_table_renders_as_a_mermaid_diagram(self) -> None:
        diagram = RESERVATION_TABLE.mermaid()
        assert diagram.splitlines()[0] == "stateDiagram-v2"
        assert "[*] --> HELD: reserve" in diagram
        assert "READY --> FULFILLED: collect" in diagram
        assert "EXPIRED --> [*]" in diagram
        assert "[*] --> CONFIRMED: place" in diagram
        assert "[*] --> READY: arrive" in diagram
        assert diagram.count("-->") == 3 + len(RESERVATION_TABLE.transitions) + 3
