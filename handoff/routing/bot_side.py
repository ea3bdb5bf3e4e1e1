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
            if existing.state == ConversationState.PENDING:
                # A repeat after a call that stored the conversation but failed before
                # its counters and wait limit were set (storage hiccup): set them now.
                await self._prepare(existing, bot, keep_deadline=True)
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
        await self._prepare(view, bot, keep_deadline=False)
        return view

    async def _prepare(
        self, view: ConversationView, bot: BotRecord, *, keep_deadline: bool
    ) -> None:
        """Sequence counter, delivery mark and wait limit of a pending conversation (idempotent)."""
        ctx = self._ctx
        cid = view.conversation_id
        last = await ctx.stores.messages.max_seq(cid)
        await ctx.state.seed_seq(cid, last)
        # A reopened conversation starts a new handoff: what the widget was sent in
        # the earlier one is not sent again when it binds.
        await ctx.state.mark_widget_seen(cid, last)
        await ctx.state.set_deadline(
            "wait", cid, time.time() + await ctx.wait_limit(bot.id), keep_newer=keep_deadline
        )
