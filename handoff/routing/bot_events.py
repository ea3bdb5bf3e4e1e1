"""What the bot is told about a move: the webhook events each transition makes.

Built here, where the move is planned, and handed to the conversation
repository, which writes them to the outbox in the move's own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handoff.protocol.common import CloseReason, ConversationView, Outcome
from handoff.protocol.webhooks import (
    AssignedData,
    ClosedData,
    EventType,
    QueuedData,
    TransferredData,
    WebhookEvent,
    new_event,
)
from handoff.routing.lifecycle import Move, Transition

__all__ = ["events_for"]

_CLOSES = {Transition.RESOLVE, Transition.ABANDON, Transition.NO_AGENT, Transition.TIMEOUT}


def events_for(view: ConversationView, step: Move, changes: dict[str, Any]) -> list[WebhookEvent]:
    """The events reporting ``step`` of ``view`` with ``changes`` (the repository's keywords)."""
    t = step.transition
    detail: dict[str, Any] = changes.get("detail") or {}
    team = changes.get("team") or view.team
    now = datetime.now(UTC)

    def event(
        kind: EventType, data: QueuedData | AssignedData | TransferredData | ClosedData
    ) -> WebhookEvent:
        return new_event(kind, view.bot_id, view.conversation_id, data, now)

    if t is Transition.BIND:
        return [event(EventType.QUEUED, QueuedData(team=team))]
    if t is Transition.ASSIGN:
        assigned = AssignedData(
            agent_id=changes["agent_id"], agent_name=detail.get("agent_name"), team=team
        )
        return [event(EventType.ASSIGNED, assigned)]
    if t is Transition.TRANSFER:
        moved = TransferredData(
            from_agent_id=view.agent_id,
            to_agent_id=changes.get("agent_id"),
            note=detail.get("note"),
        )
        return [event(EventType.TRANSFERRED, moved)]
    if t is Transition.REQUEUE:
        queued = event(EventType.QUEUED, QueuedData(team=team, requeued=True))
        if "from_agent_id" not in detail:  # the agent went away: back to the queue
            return [queued]
        moved = TransferredData(
            from_agent_id=detail["from_agent_id"],
            to_team=changes.get("team"),
            note=detail.get("note"),
        )
        return [event(EventType.TRANSFERRED, moved), queued]
    if t in _CLOSES:
        outcome: Outcome | None = changes.get("outcome")
        reason = step.close_reason or CloseReason.RESOLVED
        closed = ClosedData(close_reason=reason, outcome=outcome, agent_id=view.agent_id)
        return [event(EventType.CLOSED, closed)]
    return []  # reopen: the bot itself asked for it
