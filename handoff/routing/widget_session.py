"""The person's side: a widget binds to its conversation, types, leaves and comes back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from handoff.errors import StateUnavailable, TooLarge
from handoff.metrics import LATENCY_TO_AGENT
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
_AGENT = ("agent",)


@dataclass(frozen=True, slots=True)
class BindResult:
    conversation: ConversationView
    generation: int
    """The handoff this socket is now bound to; the socket's later requests name it."""
    backlog: list[MessageView]
    """Agent messages the widget may not have been shown yet, oldest first."""
    agent_names: dict[str, str]
    """The name of each agent who wrote a message in ``backlog``, by id."""


class WidgetSession:
    def __init__(self, ctx: Context, queue: Queue, dispatcher: Dispatcher) -> None:
        self._ctx = ctx
        self._queue = queue
        self._dispatcher = dispatcher

    async def generation(self, conversation_id: str) -> int | None:
        """The conversation's current handoff, which a binding belongs to; None when closed."""
        return await self._ctx.state.generation(conversation_id)

    async def bind(
        self, conversation_id: str, bot_id: str, *, resume_after_seq: int | None
    ) -> BindResult:
        """A widget socket names its conversation: queue it, or resume where it was.

        A bind that fails changes nothing: what it counted and took is given back, as
        if the socket had come and gone (so a grace period runs again, if one ran).
        """
        ctx = self._ctx
        view = await ctx.conversation(conversation_id)
        if view.bot_id != bot_id:
            raise BotMismatch()
        generation = await ctx.state.generation(conversation_id)
        if view.state == S.CLOSED or generation is None:
            if view.state != S.CLOSED and not await ctx.state.ready():
                raise StateUnavailable()  # Redis lost it; the rebuild is under way
            raise ConversationClosed()
        lost = await ctx.state.take_widget_lost(conversation_id)
        await ctx.state.touch_connection("widget", conversation_id, +1)
        try:
            returned = await ctx.state.clear_deadline("widget", conversation_id)
            backlog = await self._backlog(conversation_id, resume_after_seq, lost)
            names = await self._agent_names(backlog)
            view = await self._enter(view, returned)
        except BaseException:
            if lost is not None:
                await ctx.state.mark_widget_lost(conversation_id, lost)
            await self.left(conversation_id, generation, notify=False)
            raise
        if backlog:
            await ctx.state.mark_widget_seen(conversation_id, backlog[-1].seq)
        return BindResult(view, generation, backlog, names)

    async def _enter(self, view: ConversationView, returned: bool) -> ConversationView:
        """Queue a conversation whose first widget came; tell who waits that it is back."""
        ctx = self._ctx
        cid = view.conversation_id
        was_assigned = view.state == S.ASSIGNED
        if view.state == S.PENDING:
            view = await ctx.move(view, Transition.BIND, "widget")
            await self._queue.enqueue(view, at_head=False)
            await self._dispatcher.dispatch(view.bot_id)
            view = await ctx.conversation(cid)
        elif view.state == S.QUEUED:
            await ctx.state.forget_position(cid)
            await self._queue.announce(view.bot_id, only=cid)
        if was_assigned and returned and view.agent_id:
            await ctx.notifier.agent(view.agent_id, ev.USER_RETURNED, {"conversation_id": cid})
        return view

    async def _backlog(
        self, conversation_id: str, resume_after_seq: int | None, lost: float | None
    ) -> list[MessageView]:
        """The agent messages to send a widget that binds, oldest first.

        With ``resume_after_seq`` the widget says what it has. Otherwise: every agent
        message above the delivery mark, and every one of this handoff sent since
        ``lost``, the last proof of life of a widget socket that left since the last
        bind (a socket that dies silently is counted as there until Engine.IO notices,
        so the mark alone would skip what was sent to it meanwhile).
        """
        messages = self._ctx.stores.messages
        if resume_after_seq is not None:
            return await messages.history(
                conversation_id, after_seq=resume_after_seq, senders=_AGENT
            )
        after = await self._ctx.state.widget_seen(conversation_id)
        if lost is not None:
            after = min(after, await self._sent_by(conversation_id, lost))
        return await messages.history(conversation_id, after_seq=after, senders=_AGENT)

    async def _sent_by(self, conversation_id: str, at: float) -> int:
        """The last agent seq of this handoff sent before ``at`` (its start seq if none)."""
        stores = self._ctx.stores
        return await stores.messages.last_seq_before(
            conversation_id,
            after_seq=await stores.conversations.session_start_seq(conversation_id),
            sender="agent",
            before=datetime.fromtimestamp(at, UTC),
        )

    async def _agent_names(self, backlog: list[MessageView]) -> dict[str, str]:
        names: dict[str, str] = {}
        for agent_id in {m.agent_id for m in backlog if m.agent_id}:
            presence = await self._ctx.state.get_agent(agent_id)
            record = None if presence else await self._ctx.stores.agents.get(agent_id)
            name = presence.name if presence else record.name if record else None
            if name is not None:
                names[agent_id] = name
        return names

    async def left(
        self,
        conversation_id: str,
        generation: int,
        *,
        alive_at: float | None = None,
        notify: bool = True,
    ) -> None:
        """A bound widget socket went away; after the grace period the person has abandoned.

        ``generation``: the handoff the socket was bound to; a socket left over from
        an earlier handoff of the conversation counts for nothing. ``alive_at``: the
        socket's last proof of life, from which on agent messages are sent again when
        a widget binds.
        """
        ctx = self._ctx
        if await ctx.state.generation(conversation_id) != generation:
            return
        if alive_at is not None:
            await ctx.state.mark_widget_lost(conversation_id, alive_at)
        if await ctx.state.touch_connection("widget", conversation_id, -1):
            return
        await self.gone(conversation_id, notify=notify)

    async def gone(self, conversation_id: str, *, notify: bool = True) -> None:
        """The conversation's last widget socket went (here, or on a process that died):
        its grace period starts, and the agent is told (``notify``)."""
        ctx = self._ctx
        view = await ctx.stores.conversations.get(conversation_id)
        # Pending: no widget was ever bound to this handoff (a bind failed half way),
        # so there is nobody to wait for; the wait limit still runs.
        if view is None or view.state in (S.CLOSED, S.PENDING):
            return
        await ctx.state.set_deadline(
            "widget", conversation_id, time.time() + ctx.settings.widget_grace_seconds
        )
        if view.agent_id and notify:
            await ctx.notifier.agent(
                view.agent_id, ev.USER_LEFT, {"conversation_id": conversation_id}
            )

    async def message(
        self, conversation_id: str, text: str, *, generation: int | None = None
    ) -> MessageView:
        """Persist what the person typed, then deliver it to the agent (or hold it).

        ``generation``: the handoff the widget is bound to; once it ended the message
        is refused (``conversation_closed``), even if the conversation was reopened.
        """
        received = time.perf_counter()
        ctx = self._ctx
        ctx.check_text(text, "message")
        numbered = await ctx.state.next_seq(conversation_id, generation=generation)
        if numbered is None:
            raise ConversationClosed()
        stored = await ctx.stores.writer.write(
            NewMessage(conversation_id, numbered.seq, "user", text)
        )
        # Read once stored: an agent socket counted after this reads the message back.
        reach = await ctx.state.agent_reach(conversation_id)
        if reach is not None:
            await ctx.notifier.agent(
                reach.agent_id,
                ev.USER_MESSAGE,
                {
                    "conversation_id": conversation_id,
                    "seq": stored.seq,
                    "text": stored.text,
                    "sent_at": stored.sent_at.isoformat(),
                },
                elsewhere=reach.elsewhere > 0,
            )
            LATENCY_TO_AGENT.observe(time.perf_counter() - received)
        await ctx.tell_watchers(
            conversation_id,
            ev.WATCHED_MESSAGE,
            lambda: {"conversation_id": conversation_id, "message": stored.model_dump(mode="json")},
            watchers=numbered.watchers,
        )
        return stored

    async def transcript(
        self,
        conversation_id: str,
        bot_id: str,
        items: list[TranscriptItem],
        *,
        generation: int | None = None,
    ) -> None:
        """Store the user–bot transcript the widget sent, and show it to the agent."""
        ctx = self._ctx
        if bot_id != (await ctx.conversation(conversation_id)).bot_id:
            raise BotMismatch(field="bot_id")
        await self._current(conversation_id, generation)
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
        shown = {"conversation_id": conversation_id, "messages": [i.model_dump() for i in items]}
        await ctx.tell_watchers(conversation_id, ev.WATCHED_TRANSCRIPT, lambda: shown)
        agent_id = await ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await ctx.notifier.agent(agent_id, ev.TRANSCRIPT, shown)

    async def typing(
        self, conversation_id: str, typing: bool, *, generation: int | None = None
    ) -> None:
        await self._current(conversation_id, generation)
        agent_id = await self._ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await self._ctx.notifier.agent(
                agent_id, ev.USER_TYPING, {"conversation_id": conversation_id, "typing": typing}
            )
        await self._ctx.tell_watchers(
            conversation_id,
            ev.WATCHED_TYPING,
            lambda: {"conversation_id": conversation_id, "sender": "user", "typing": typing},
        )

    async def delivered(
        self, conversation_id: str, seq: int, *, generation: int | None = None
    ) -> None:
        """Agent messages up to ``seq`` reached a widget: tell the agent who has it.

        ``seq`` is capped at the delivery mark (the last agent message sent while a
        widget was bound), so a widget cannot claim what was never sent.
        """
        ctx = self._ctx
        await self._current(conversation_id, generation)
        seq = min(seq, await ctx.state.widget_seen(conversation_id))
        if seq <= 0:
            return
        agent_id = await ctx.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await ctx.notifier.agent(
                agent_id, ev.MESSAGES_DELIVERED, {"conversation_id": conversation_id, "seq": seq}
            )

    async def _current(self, conversation_id: str, generation: int | None) -> None:
        """Refuse a socket bound to a handoff that has ended."""
        if generation is not None and await self.generation(conversation_id) != generation:
            raise ConversationClosed()
