"""How a closed conversation's end is read for the flow's ``on_return``."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff.dialogues.handback import returned_outcome
from handoff.dialogues.turns import Returned
from handoff.protocol.agent import Close
from handoff.protocol.common import ConversationState, ConversationView, Outcome


def closed(outcome: Outcome | None, close_reason: str | None) -> ConversationView:
    return ConversationView(
        conversation_id="c" * 8,
        bot_id="b",
        state=ConversationState.CLOSED,
        close_reason=close_reason,
        outcome=outcome,
        created_at=datetime.now(UTC),
    )


def test_the_agents_outcome_else_the_close_reason() -> None:
    back = Outcome(status="back_to_bot", note="n", variables={"refund_id": "R1"})
    expected = Returned("back_to_bot", {"refund_id": "R1"})
    assert returned_outcome(closed(back, "resolved")) == expected
    follow = Outcome(status="follow_up", variables={"n": "3"})
    assert returned_outcome(closed(follow, "resolved")) == Returned("follow_up", {"n": "3"})
    # A plain-string outcome from the agent is a resolved one with that note.
    note = Close.model_validate({"conversation_id": "c" * 8, "outcome": "sorted out"}).outcome
    assert isinstance(note, Outcome)
    assert returned_outcome(closed(note, "resolved")) == Returned("resolved", {})
    assert returned_outcome(closed(None, "abandoned")) == Returned("abandoned", {})
    assert returned_outcome(closed(None, "no_agent")) == Returned("no_agent", {})
    assert returned_outcome(closed(None, None)) == Returned("resolved", {})
