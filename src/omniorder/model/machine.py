"""A strict state machine as a table: ``(state, command) -> next state``.

One :class:`Table` per machine is the whole truth: the code fires it, the docs render it to Mermaid,
and the tests walk every ``(state, command)`` pair. The table is checked when it is built: targets
are states of the machine, terminal states have no way out, every state is reachable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Generic, TypeVar

import attrs
import networkx as nx

from omniorder.model.errors import InvalidTransition

__all__ = ["Table"]

S = TypeVar("S", bound=Enum)
C = TypeVar("C", bound=Enum)


def _frozen(mapping: Mapping[object, object]) -> Mapping[object, object]:
    return MappingProxyType(dict(mapping))


@attrs.frozen
class Table(Generic[S, C]):
    """A validated transition table.

    Attributes:
        name: the machine's name, used in errors and diagrams (``"reservation"``).
        states: the enum of states.
        commands: the enum of commands.
        initial: the commands that create a record, and the state each creates it in.
        transitions: ``(state, command) -> next state``; any pair not listed is illegal.
        terminal: the final states (no transition leaves them).

    Raises:
        ValueError: the table is malformed (a programming error, found at import time).
    """

    name: str
    states: type[S]
    commands: type[C]
    initial: Mapping[C, S] = attrs.field(converter=_frozen, hash=False)
    transitions: Mapping[tuple[S, C], S] = attrs.field(
        converter=_frozen,
        hash=False,
    )
    terminal: frozenset[S]

    def __attrs_post_init__(self) -> None:
        states = set(self.states)
        for (source, command), target in self.transitions.items():
            if source not in states or target not in states or command not in set(self.commands):
                raise ValueError(f"{self.name}: ({source}, {command}) -> {target} is not typed")
            if source in self.terminal:
                raise ValueError(f"{self.name}: terminal state {source} has a way out")
        graph: nx.DiGraph[object] = nx.DiGraph()
        graph.add_nodes_from(states)
        graph.add_edges_from((source, target) for (source, _), target in self.transitions.items())
        reachable: set[object] = set()
        for start in self.initial.values():
            reachable |= {start} | nx.descendants(graph, start)
        if unreachable := states - reachable:
            raise ValueError(f"{self.name}: unreachable states {sorted(map(str, unreachable))}")

    def allows(self, state: S, command: C) -> bool:
        """Whether ``command`` is legal in ``state``."""
        return (state, command) in self.transitions

    def fire(self, state: S, command: C, *, subject: str = "", reason: str = "") -> S:
        """The state after ``command`` in ``state``.

        Raises:
            InvalidTransition: the table has no such transition.
        """
        try:
            return self.transitions[(state, command)]
        except KeyError:
            raise InvalidTransition(
                self.name, state.name, str(command.value), subject=subject, reason=reason
            ) from None

    def refuse(self, state: S, command: C, *, subject: str = "", reason: str) -> InvalidTransition:
        """The error for a transition the table allows but a guard forbids (an expiry, a mode)."""
        return InvalidTransition(
            self.name, state.name, str(command.value), subject=subject, reason=reason
        )

    def commands_from(self, state: S) -> list[C]:
        """The commands legal in ``state``, in enum order."""
        return [c for c in self.commands if (state, c) in self.transitions]

    def pairs(self) -> Iterator[tuple[S, C]]:
        """Every ``(state, command)`` pair, legal or not (for exhaustive tests)."""
        for state in self.states:
            for command in self.commands:
                yield state, command

    def mermaid(self) -> str:
        """The table as a Mermaid ``stateDiagram-v2``."""
        rows = ["stateDiagram-v2"]
        rows += [
            f"    [*] --> {state.name}: {command.value}" for command, state in self.initial.items()
        ]
        rows += [
            f"    {source.name} --> {target.name}: {command.value}"
            for (source, command), target in self.transitions.items()
        ]
        rows += [f"    {state.name} --> [*]" for state in self.states if state in self.terminal]
        return "\n".join(rows)
