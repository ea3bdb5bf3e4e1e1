"""What the dialogue runtime asks of the handoff core: the handoff options right now, and
how a handed-off conversation ended, as the flow's ``on_return`` keys it."""

from __future__ import annotations

from typing import Any

from handoff.dialogues.turns import OptionsDone, Returned
from handoff.protocol.common import ConversationView
from handoff.routing.service import HandoffService
from handoff.storage.bots import BotRecord

__all__ = ["provide_options", "returned_outcome"]


async def provide_options(
    service: HandoffService,
    bot: BotRecord,
    *,
    conversation_id: str,
    language: str,
    team: str | None,
    user: dict[str, Any],
) -> OptionsDone:
    """``provide_handoff_options`` as the engine takes it: available or not, and the
    messages (the preset dialogue's, in the person's language) to show."""
    answer = await service.handoff_options(
        bot, conversation_id=conversation_id, language=language, team=team, user=user
    )
    return OptionsDone(available=answer.available, messages=list(answer.messages))


def returned_outcome(view: ConversationView) -> Returned:
    """How a closed conversation ended: the agent's outcome status (``back_to_bot``,
    ``resolved``, ``follow_up``) with its variables, or else the close reason
    (``abandoned``, ``no_agent``, ``timeout``)."""
    if view.outcome is not None:
        return Returned(view.outcome.status.value, dict(view.outcome.variables))
    return Returned(str(view.close_reason or "resolved"))
