"""Leave a message: a follow-up stored for agents when nobody could take the conversation."""

from __future__ import annotations

from typing import Any

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol import events as ev
from handoff.protocol.offline import MAX_OFFLINE_MESSAGES_SHOWN, OfflineMessageView
from handoff.routing.context import Context, is_blank
from handoff.routing.refusals import NotYourBot
from handoff.storage.agents import AgentRecord
from handoff.storage.bots import BotRecord

__all__ = ["MessagesLeft"]


class MessagesLeft:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def leave(
        self,
        bot: BotRecord,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        contact: str,
        message: str,
    ) -> OfflineMessageView:
        """Store the message for the bot's agents; ``message.left`` goes to the bot with it."""
        for name, text in (("message", message), ("contact", contact)):
            if is_blank(text):
                raise BadRequest(
                    f"{name} is empty (only spaces or invisible characters)", field=name
                )
        if conversation_id is not None:
            existing = await self._ctx.stores.conversations.get(conversation_id)
            if existing is not None and existing.bot_id != bot.id:
                raise Conflict(
                    "this ConversationID belongs to another bot",
                    field="ConversationID",
                    code="conversation_taken",
                )
        stored = await self._ctx.stores.offline.leave(
            bot.id, conversation_id=conversation_id, user=user, contact=contact, message=message
        )
        await self._ctx.notifier.bot_agents(
            bot.id,
            ev.OFFLINE_MESSAGE,
            {"bot_id": bot.id, "message": stored.model_dump(mode="json")},
        )
        return stored

    async def handled(
        self, record: AgentRecord, bot_id: str, message_id: str
    ) -> OfflineMessageView:
        """Mark a message handled (once: doing it again answers the same); agents are told."""
        if bot_id not in record.bots:
            raise NotYourBot(field="bot_id")
        marked = await self._ctx.stores.offline.mark_handled(bot_id, message_id, record.id)
        if marked is None:  # also another bot's: not told apart, so ids do not leak
            raise NotFound(
                "this bot has no offline message with this id",
                field="message_id",
                code="unknown_offline_message",
            )
        view, changed = marked
        if changed:
            await self._ctx.notifier.bot_agents(
                bot_id, ev.OFFLINE_MESSAGE_HANDLED, {"bot_id": bot_id, "message_id": view.id}
            )
        return view

    async def for_agent(self, record: AgentRecord, bot_id: str | None) -> list[OfflineMessageView]:
        """The newest unhandled messages left for the bots this agent serves (or one of them)."""
        if bot_id is not None and bot_id not in record.bots:
            raise NotYourBot(field="bot_id")
        bots = [bot_id] if bot_id else list(record.bots)
        return await self._ctx.stores.offline.latest(bots, limit=MAX_OFFLINE_MESSAGES_SHOWN)
