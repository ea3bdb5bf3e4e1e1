"""How a closed conversation's end is read for the flow's ``on_return``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from handoff.dialogues.engine import Returned
from handoff.dialogues.runtime import returned_outcome
from handoff.protocol.common import ConversationState, ConversationView


def closed(outcome: Any, close_reason: str | None) -> ConversationView:
    # model_construct: the outcome's type is widened by the typed-outcome part of issue 8.
    return ConversationView.model_construct(
        conversation_id="c" * 8,
        bot_id="b",
        state=ConversationState.CLOSED,
        close_reason=close_reason,
        outcome=outcome,
        created_at=datetime.now(UTC),
    )


class Status(StrEnum):
    BACK = "back_to_bot"


@dataclass
class Outcome:
    status: Status
    note: str | None
    variables: dict[str, str]


def test_a_typed_outcome_a_mapping_or_a_plain_note() -> None:
    typed = closed(Outcome(Status.BACK, "n", {"refund_id": "R1"}), "resolved")
    assert returned_outcome(typed) == Returned("back_to_bot", {"refund_id": "R1"})
    mapping = closed({"status": "follow_up", "variables": {"n": 3}}, "resolved")
    assert returned_outcome(mapping) == Returned("follow_up", {"n": "3"})
    assert returned_outcome(closed("sorted out", "resolved")) == Returned("resolved", {})
    assert returned_outcome(closed(None, "abandoned")) == Returned("abandoned", {})
    assert returned_outcome(closed(None, "no_agent")) == Returned("no_agent", {})
    assert returned_outcome(closed({"variables": "junk"}, None)) == Returned("resolved", {})
