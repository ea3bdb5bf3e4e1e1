"""The bot's side of a handoff: ``execute_handoff`` makes (or reopens) a conversation."""

from __future__ import annotations

import secrets
import time
from typing import Any

from handoff.errors import Conflict
from handoff.protocol.common import ConversationState, ConversationView
from handoff.routing.context import Context
from handoff.routing.lifecycle import Transition
from handoff.storage.bots import BotRecord

__all__ = ["BotSide"]


class BotSide:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def create_handoff(
        self,
        bot: BotRecord,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        reason: str | None,
        entities: dict[str, Any],
        team: str | None,
    ) -> ConversationView:
        """A new conversation waiting for its widget, or the open one again (idempotent)."""
        ctx = self._ctx
        conversations = ctx.stores.conversations
        actor = f"bot:{bot.id}"
        existing = await conversations.get(conversation_id) if conversation_id else None
        if existing is not None and existing.bot_id != bot.id:
            raise Conflict(
                "this ConversationID belongs to another bot",
                field="ConversationID",
                code="conversation_taken",
            )
        if existing is not None and existing.state != ConversationState.CLOSED:
            return existing
        details: dict[str, Any] = {
            "user": user,
            "reason": reason,
            "entities": entities,
            "team": team,
        }
        if existing is not None:
            view = await ctx.move(existing, Transition.REOPEN, actor, **details)
        else:
            view = await conversations.create(
                conversation_id or secrets.token_urlsafe(24), bot.id, actor=actor, **details
            )
        last = await ctx.stores.messages.max_seq(view.conversation_id)
        await ctx.state.seed_seq(view.conversation_id, last)
        # A reopened conversation starts a new handoff: what the widget was sent in
        # the earlier one is not sent again when it binds.
        await ctx.state.mark_widget_seen(view.conversation_id, last)
        await ctx.state.set_deadline(
            "wait", view.conversation_id, time.time() + await ctx.wait_limit(bot.id)
        )
        return view
