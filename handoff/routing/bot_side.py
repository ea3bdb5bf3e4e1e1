"""The bot's side of a handoff: ``execute_handoff`` makes (or reopens) a conversation.

What the bot sends is the handoff packet agents see. A ``transcript`` is stored
as the bot transcript (the widget is then not asked for one); ``agent_id`` must be
an agent of the bot (and of the team, when one is named).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from handoff.errors import Conflict, NotFound, TooLarge
from handoff.protocol.common import ConversationState, ConversationView, TranscriptItem
from handoff.protocol.rest import BotTranscriptLine
from handoff.routing.availability import Availability
from handoff.routing.context import Context
from handoff.routing.lifecycle import Transition
from handoff.storage.bots import BotRecord

__all__ = ["BotSide"]


class BotSide:
    def __init__(self, ctx: Context, availability: Availability) -> None:
        self._ctx = ctx
        self._availability = availability

    async def create_handoff(
        self,
        bot: BotRecord,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        reason: str | None,
        entities: dict[str, Any],
        team: str | None,
        agent_id: str | None = None,
        priority: str = "normal",
        transcript: list[BotTranscriptLine] | None = None,
        error: dict[str, Any] | None = None,
    ) -> ConversationView:
        """A new conversation waiting for its widget, or the open one again (idempotent).

        Refused (409) while the bot is outside its business hours or its queue is full;
        a repeat for an open conversation is answered as before, whatever the hours.
        """
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
        if transcript is not None and len(transcript) > ctx.settings.max_transcript_messages:
            raise TooLarge(
                f"{len(transcript)} lines; the limit is {ctx.settings.max_transcript_messages}",
                field="transcript",
            )
        if agent_id is not None:
            await self._check_target(bot, agent_id, team)
        await self._availability.gate(bot)
        details: dict[str, Any] = {
            "user": user,
            "reason": reason,
            "entities": entities,
            "team": team,
            "priority": priority,
            "target_agent_id": agent_id,
            "bot_transcript": len(transcript or ()),
            "handoff_error": error,
        }
        if existing is not None:
            view = await ctx.move(existing, Transition.REOPEN, actor, **details)
        else:
            view = await conversations.create(
                conversation_id or secrets.token_urlsafe(24), bot.id, actor=actor, **details
            )
        if transcript:
            await ctx.stores.messages.replace_transcript(
                view.conversation_id,
                [TranscriptItem(sender=t.sender, message=t.message) for t in transcript],
            )
        await self._prepare(view, bot, keep_deadline=False)
        return view

    async def _check_target(self, bot: BotRecord, agent_id: str, team: str | None) -> None:
        record = await self._ctx.stores.agents.get(agent_id)
        if record is None or record.disabled or bot.id not in record.bots:
            raise NotFound(
                "agent_id: no such agent serves this bot", field="agent_id", code="unknown_agent"
            )
        if team is not None and team not in record.teams.get(bot.id, []):
            raise NotFound(
                f"agent_id: the agent is not in team {team!r}",
                field="agent_id",
                code="unknown_agent",
            )

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
