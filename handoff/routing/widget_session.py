"""The person's side: a widget binds to its conversation, types, leaves and comes back."""

from __future__ import annotations

import time
from dataclasses import dataclass

from handoff.errors import TooLarge
from handoff.protocol import events as ev
from handoff.protocol.common import (
    ConversationState,
    ConversationView,
    MessageView,
    TranscriptItem,
)
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import Transition
from handoff.routing.queueing import Queue
from handoff.routing.refusals import BotMismatch, ConversationClosed
from handoff.storage.writer import NewMessage

__all__ = ["BindResult", "WidgetSession"]

S = ConversationState


@dataclass(frozen=True, slots=True)
class BindResult:
    conversation: ConversationView
    backlog: list[MessageView]
    """Agent messages the widget has not been shown yet, oldest first."""


class WidgetSession:
    def __init__(self, ctx: Context, queue: Queue, dispatcher: Dispatcher) -> None:
        self._ctx = ctx
        self._queue = queue
        self._dispatcher = dispatcher

    async def bind(
        self, conversation_id: str, bot_id: str, *, resume_after_seq: int | None
    ) -> BindResult:
        """A widget socket names its conversation: queue it, or resume where it was."""
        ctx = self._ctx
        view = await ctx.conversation(conversation_id)
        if view.bot_id != bot_id:
            raise BotMismatch()
        if view.state == S.CLOSED:
            raise ConversationClosed()
        await ctx.state.touch_connection("widget", conversation_id, +1)
        returned = await ctx.state.clear_deadline("widget", conversation_id)
        was_assigned = view.state == S.ASSIGNED
        if view.state == S.PENDING:
            view = await ctx.move(view, Transition.BIND, "widget")
            await self._queue.enqueue(view, at_head=False)
            await self._dispatcher.dispatch(view.bot_id)
            view = await ctx.conversation(conversation_id)
        elif view.state == S.QUEUED:
            await ctx.state.forget_position(conversation_id)
            await self._queue.announce(view.bot_id, only=conversation_id)
        if was_assigned and returned and view.agent_id:
            await ctx.notifier.agent(
                view.agent_id, ev.USER_RETURNED, {"conversation_id": conversation_id}
            )
        after = resume_after_seq
        if after is None:
            after = await ctx.state.widget_seen(conversation_id)
        backlog = await ctx.stores.messages.history(
            conversation_id, after_seq=after, senders=("agent",)
        )
        if backlog:
            await ctx.state.mark_widget_seen(conversation_id, backlog[-1].seq)
        return BindResult(view, backlog)

    async def left(self, conversation_id: str) -> None:
        """A bound widget socket went away; after the grace period the person has abandoned."""
        ctx = self._ctx
        if await ctx.state.touch_connection("widget", conversation_id, -1):
            return
        view = await ctx.stores.conversations.get(conversation_id)
        if view is None or view.state == S.CLOSED:
            return
        await ctx.state.set_deadline(
            "widget", conversation_id, time.time() + ctx.settings.widget_grace_seconds
        )
        if view.agent_id:
            await ctx.notifier.agent(
                view.agent_id, ev.USER_LEFT, {"conversation_id": conversation_id}
            )

    async def message(self, conversation_id: str, text: str) -> MessageView:
        """Persist what the person typed, then deliver it to the agent (or hold it)."""
        ctx = self._ctx
        ctx.check_text(text, "message")
        seq = await ctx.state.next_seq(conversation_id)
        if seq is None:
            raise ConversationClosed()
        stored = await ctx.stores.writer.write(NewMessage(conversation_id, seq, "user", text))
        agent_id = await ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await ctx.notifier.agent(
                agent_id,
                ev.USER_MESSAGE,
                {
                    "conversation_id": conversation_id,
                    "seq": stored.seq,
                    "text": stored.text,
                    "sent_at": stored.sent_at.isoformat(),
                },
            )
        return stored

    async def transcript(
        self, conversation_id: str, bot_id: str, items: list[TranscriptItem]
    ) -> None:
        """Store the user–bot transcript the widget sent, and show it to the agent."""
        ctx = self._ctx
        if bot_id != (await ctx.conversation(conversation_id)).bot_id:
            raise BotMismatch(field="bot_id")
        if len(items) > ctx.settings.max_transcript_messages:
            raise TooLarge(
                f"{len(items)} messages; the limit is {ctx.settings.max_transcript_messages}",
                field="messages",
            )
        messages = ctx.stores.messages
        if not items and await messages.transcript(conversation_id):
            # The seed snippet answers every `messages` request, and a widget that
            # does not fill it in sends []: that must not wipe a transcript we have.
            return
        await messages.replace_transcript(conversation_id, items)
        agent_id = await ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await ctx.notifier.agent(
                agent_id,
                ev.TRANSCRIPT,
                {"conversation_id": conversation_id, "messages": [i.model_dump() for i in items]},
            )

    async def typing(self, conversation_id: str, typing: bool) -> None:
        agent_id = await self._ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await self._ctx.notifier.agent(
                agent_id, ev.USER_TYPING, {"conversation_id": conversation_id, "typing": typing}
            )
