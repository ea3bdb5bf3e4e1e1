"""The conversation life cycle: the states (named in ``protocol``), one transition table.

Every move of a conversation goes through :func:`next_state`, so a move that
the table does not allow is an error in one place rather than a silent bug.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handoff.protocol.common import CloseReason, ConversationState

__all__ = [
    "CloseReason",
    "ConversationState",
    "IllegalTransition",
    "Move",
    "Transition",
    "next_state",
    "plan",
]


class Transition(StrEnum):
    BIND = "bind"
    ASSIGN = "assign"
    TRANSFER = "transfer"
    REQUEUE = "requeue"
    RESOLVE = "resolve"
    ABANDON = "abandon"
    NO_AGENT = "no_agent"
    TIMEOUT = "timeout"
    REOPEN = "reopen"


_S = ConversationState
_T = Transition

TRANSITIONS: dict[tuple[ConversationState, Transition], ConversationState] = {
    (_S.PENDING, _T.BIND): _S.QUEUED,
    (_S.PENDING, _T.ABANDON): _S.CLOSED,
    (_S.PENDING, _T.TIMEOUT): _S.CLOSED,
    (_S.QUEUED, _T.ASSIGN): _S.ASSIGNED,
    (_S.QUEUED, _T.ABANDON): _S.CLOSED,
    (_S.QUEUED, _T.NO_AGENT): _S.CLOSED,
    (_S.ASSIGNED, _T.TRANSFER): _S.ASSIGNED,
    (_S.ASSIGNED, _T.REQUEUE): _S.QUEUED,
    (_S.ASSIGNED, _T.RESOLVE): _S.CLOSED,
    (_S.ASSIGNED, _T.ABANDON): _S.CLOSED,
    (_S.CLOSED, _T.REOPEN): _S.PENDING,
}
"""(from state, transition) → to state. Anything missing is illegal."""

CLOSE_REASONS: dict[Transition, CloseReason] = {
    _T.RESOLVE: CloseReason.RESOLVED,
    _T.ABANDON: CloseReason.ABANDONED,
    _T.NO_AGENT: CloseReason.NO_AGENT,
    _T.TIMEOUT: CloseReason.TIMEOUT,
}


class IllegalTransition(Exception):
    """A move the transition table does not allow."""

    def __init__(self, state: ConversationState, transition: Transition) -> None:
        super().__init__(f"cannot {transition.value} a conversation that is {state.value}")
        self.state = state
        self.transition = transition


def next_state(state: ConversationState, transition: Transition) -> ConversationState:
    """The state after ``transition``; raises :class:`IllegalTransition` if not allowed."""
    try:
        return TRANSITIONS[(state, transition)]
    except KeyError:
        raise IllegalTransition(state, transition) from None


@dataclass(frozen=True, slots=True)
class Move:
    """One allowed move, worked out here and carried out by the conversation repository."""

    transition: Transition
    source: ConversationState
    target: ConversationState
    close_reason: CloseReason | None


def plan(state: ConversationState, transition: Transition) -> Move:
    """The move ``transition`` makes from ``state``; raises :class:`IllegalTransition`."""
    return Move(transition, state, next_state(state, transition), CLOSE_REASONS.get(transition))
