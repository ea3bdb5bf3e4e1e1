import pytest

from handoff.routing.lifecycle import (
    CLOSE_REASONS,
    TRANSITIONS,
    ConversationState,
    IllegalTransition,
    Transition,
    next_state,
    plan,
)

S, T = ConversationState, Transition


@pytest.mark.parametrize(
    ("state", "transition", "expected"),
    [
        (S.PENDING, T.BIND, S.QUEUED),
        (S.QUEUED, T.ASSIGN, S.ASSIGNED),
        (S.ASSIGNED, T.TRANSFER, S.ASSIGNED),
        (S.ASSIGNED, T.REQUEUE, S.QUEUED),
        (S.ASSIGNED, T.RESOLVE, S.CLOSED),
        (S.QUEUED, T.NO_AGENT, S.CLOSED),
        (S.QUEUED, T.ABANDON, S.CLOSED),
        (S.PENDING, T.TIMEOUT, S.CLOSED),
        (S.CLOSED, T.REOPEN, S.PENDING),
    ],
)
def test_allowed_moves(state: S, transition: T, expected: S) -> None:
    assert next_state(state, transition) is expected


@pytest.mark.parametrize(
    ("state", "transition"),
    [
        (S.PENDING, T.ASSIGN),  # nobody is bound yet
        (S.QUEUED, T.TRANSFER),  # nobody has it to transfer
        (S.CLOSED, T.RESOLVE),  # closing twice
        (S.CLOSED, T.ASSIGN),
        (S.ASSIGNED, T.BIND),
        (S.PENDING, T.REQUEUE),
    ],
)
def test_illegal_moves_raise(state: S, transition: T) -> None:
    with pytest.raises(IllegalTransition, match=transition.value):
        next_state(state, transition)


def test_every_move_to_closed_has_a_reason() -> None:
    for (_, transition), target in TRANSITIONS.items():
        if target is S.CLOSED:
            assert transition in CLOSE_REASONS


def test_closed_is_left_only_by_reopen() -> None:
    leaving = {t for (s, t), target in TRANSITIONS.items() if s is S.CLOSED}
    assert leaving == {T.REOPEN}


def test_a_plan_carries_the_target_and_the_close_reason() -> None:
    move = plan(S.QUEUED, T.NO_AGENT)
    assert (move.source, move.target, move.close_reason) == (S.QUEUED, S.CLOSED, "no_agent")
    assert plan(S.ASSIGNED, T.TRANSFER).close_reason is None
    with pytest.raises(IllegalTransition):
        plan(S.CLOSED, T.ASSIGN)
