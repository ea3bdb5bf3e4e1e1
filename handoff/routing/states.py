"""The conversation state machine: one enum of states, one transition table.

Every move of a conversation goes through :func:`next_state`, so a move that
the table does not allow is an error in one place rather than a silent bug.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CloseReason", "ConversationState", "IllegalTransition", "Transition", "next_state"]


class ConversationState(StrEnum):
    PENDING = "pending"
    """``execute_handoff`` created it; no widget has bound yet."""
    QUEUED = "queued"
    """A widget is bound and the conversation waits for an agent."""
    ASSIGNED = "assigned"
    """An agent has it (transfers keep it here)."""
    CLOSED = "closed"


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


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    NO_AGENT = "no_agent"
    TIMEOUT = "timeout"


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
