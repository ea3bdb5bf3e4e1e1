"""What agents keep on a conversation for each other: private notes and tags."""

from __future__ import annotations

from handoff.errors import BadRequest
from handoff.protocol import events as ev
from handoff.protocol.common import ConversationState
from handoff.protocol.console import NoteView, TagsView
from handoff.routing.agent_actions import AgentActions
from handoff.routing.context import Context, is_blank
from handoff.storage.agents import AgentRecord

__all__ = ["ConversationNotes"]


class ConversationNotes:
    """Notes and tags, for any agent who serves the conversation's bot (open or closed)."""

    def __init__(self, ctx: Context, actions: AgentActions) -> None:
        self._ctx = ctx
        self._actions = actions

    async def notes(self, record: AgentRecord, conversation_id: str) -> list[NoteView]:
        """Every note of the conversation, oldest first."""
        await self._actions.served(record, conversation_id)
        return await self._ctx.stores.notes.of_conversation(conversation_id)

    async def add_note(self, record: AgentRecord, conversation_id: str, text: str) -> NoteView:
        """Store a note; the agent who has the conversation, if another, sees it at once."""
        view = await self._actions.served(record, conversation_id)
        if is_blank(text):
            raise BadRequest("text is empty (only spaces or invisible characters)", field="text")
        note = await self._ctx.stores.notes.add(conversation_id, record.id, text)
        # The writer has it from the answer; the one working the conversation learns it here.
        if (
            view.state == ConversationState.ASSIGNED
            and view.agent_id is not None
            and view.agent_id != record.id
        ):
            await self._ctx.notifier.agent(
                view.agent_id,
                ev.NOTE_ADDED,
                {"conversation_id": conversation_id, "note": note.model_dump(mode="json")},
            )
        return note

    async def set_tags(
        self, record: AgentRecord, conversation_id: str, tags: list[str]
    ) -> TagsView:
        """Replace the conversation's tags (already trimmed and de-duplicated)."""
        await self._actions.served(record, conversation_id)
        await self._ctx.stores.conversations.set_tags(conversation_id, tags)
        return TagsView(conversation_id=conversation_id, tags=tags)
