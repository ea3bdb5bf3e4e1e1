"""What a signed-in agent does with conversations: take, answer, type, look back, close."""

from __future__ import annotations

import time
from typing import NamedTuple

from handoff.errors import Conflict, Forbidden
from handoff.metrics import LATENCY_TO_WIDGET
from handoff.protocol import events as ev
from handoff.protocol.common import (
    ConversationState,
    ConversationView,
    MessageView,
    Outcome,
    QueueEntryView,
)
from handoff.routing.closing import Closer
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import Transition
from handoff.routing.model import AgentStatus
from handoff.routing.queueing import Queue
from handoff.routing.refusals import (
    ConversationClosed,
    NotQueued,
    NotYourBot,
    NotYourConversation,
)
from handoff.storage.agents import AgentRecord
from handoff.storage.writer import NewMessage

__all__ = ["AgentActions", "Sent"]


class Sent(NamedTuple):
    """An agent message as stored, and whether it went to a bound widget just now."""

    message: MessageView
    delivered: bool


class AgentActions:
    def __init__(self, ctx: Context, queue: Queue, dispatcher: Dispatcher, closer: Closer) -> None:
        self._ctx = ctx
        self._queue = queue
        self._dispatcher = dispatcher
        self._closer = closer

    async def served(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        """The conversation, if it belongs to a bot this agent serves."""
        view = await self._ctx.conversation(conversation_id, field="conversation_id")
        if view.bot_id not in record.bots:
            raise NotYourBot()
        return view

    async def own(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        """The conversation, if this agent is the one assigned to it."""
        view = await self.served(record, conversation_id)
        if view.state == ConversationState.CLOSED:
            raise ConversationClosed(field="conversation_id")
        if view.state != ConversationState.ASSIGNED or view.agent_id != record.id:
            raise NotYourConversation()
        return view

    async def queue_for(self, record: AgentRecord, bot_id: str | None) -> list[QueueEntryView]:
        """The queues of every bot the agent serves, or of one."""
        if bot_id is not None and bot_id not in record.bots:
            raise NotYourBot(field="bot_id")
        result: list[QueueEntryView] = []
        for b in [bot_id] if bot_id else record.bots:
            result.extend(await self._queue.view(b))
        return result

    async def accept(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        """Manual mode (or a pick from the queue): the first agent to accept gets it."""
        view = await self.served(record, conversation_id)
        if view.team is not None and view.team not in record.teams.get(view.bot_id, []):
            raise Forbidden(
                f"this conversation waits for team {view.team!r}",
                field="conversation_id",
                code="wrong_team",
            )
        presence = await self._ctx.state.get_agent(record.id)
        if presence is None or presence.status is not AgentStatus.ONLINE:
            raise Conflict("set your status to online first", field="status", code="not_online")
        if view.state != ConversationState.QUEUED:
            raise NotQueued()
        view = await self._dispatcher.assign(
            view.bot_id, conversation_id, record.id, actor=f"agent:{record.id}"
        )
        await self._queue.announce(view.bot_id)
        return view

    async def send(
        self, record: AgentRecord, conversation_id: str, text: str, client_msg_id: str | None
    ) -> Sent:
        """Store the agent's message, then deliver it to the widget."""
        received = time.perf_counter()
        ctx = self._ctx
        ctx.check_text(text, "text")
        # Numbered only while it is this agent's, in one call to the state.
        numbered = await ctx.state.next_seq(conversation_id, assigned_to=record.id)
        if numbered is None:
            await self.own(record, conversation_id)  # raises the precise error
            # The database says it is theirs, the state did not (yet): as before this
            # check was folded into next_seq, the state's word is not needed.
            numbered = await ctx.state.next_seq(conversation_id)
        if numbered is None:
            raise ConversationClosed(field="conversation_id")
        seq = numbered.seq
        stored = await ctx.stores.writer.write(
            NewMessage(conversation_id, seq, "agent", text, record.id, client_msg_id)
        )
        delivered = False
        if stored.seq == seq:  # not a repeat of a client_msg_id already delivered
            # From the routing state alone, in one call (no database read): this is
            # every message's path. Read once stored: a widget socket counted after
            # this binds and reads the message back.
            reached = await ctx.state.mark_widget_sent(
                conversation_id, stored.seq, agent_id=record.id
            )
            await ctx.notifier.widget(
                conversation_id,
                ev.TO_USER,
                {
                    "message": stored.text,
                    "seq": stored.seq,
                    "sender": "agent",
                    "agent": {"id": record.id, "name": record.name},
                },
                elsewhere=reached.widgets_elsewhere > 0,
            )
            LATENCY_TO_WIDGET.observe(time.perf_counter() - received)
            if reached.widgets:
                delivered = True
                # The sending socket learns it from its ack; only the agent's other
                # sockets (another tab) need the event, which costs a packet per message.
                if reached.agent_sockets > 1:
                    await ctx.notifier.agent(
                        record.id,
                        ev.MESSAGES_DELIVERED,
                        {"conversation_id": conversation_id, "seq": stored.seq},
                    )
            await ctx.tell_watchers(
                conversation_id,
                ev.WATCHED_MESSAGE,
                lambda: {
                    "conversation_id": conversation_id,
                    "message": stored.model_dump(mode="json"),
                },
                watchers=numbered.watchers,
            )
        else:  # a retry: delivered if it was, then or since
            delivered = stored.seq <= await ctx.state.widget_seen(conversation_id)
        return Sent(stored, delivered)

    async def typing(self, record: AgentRecord, conversation_id: str, typing: bool) -> None:
        await self.own(record, conversation_id)
        await self._ctx.notifier.widget(
            conversation_id,
            ev.AGENT_TYPING,
            {"typing": typing, "agent": {"name": record.name}},
            rich=True,
        )
        await self._ctx.tell_watchers(
            conversation_id,
            ev.WATCHED_TYPING,
            lambda: {"conversation_id": conversation_id, "sender": "agent", "typing": typing},
        )

    async def close(
        self, record: AgentRecord, conversation_id: str, outcome: Outcome | None
    ) -> ConversationView:
        view = await self.own(record, conversation_id)
        return await self._closer.close(
            view, Transition.RESOLVE, f"agent:{record.id}", outcome=outcome, agent_name=record.name
        )

    async def history(
        self, record: AgentRecord, conversation_id: str, after_seq: int, limit: int
    ) -> list[MessageView]:
        """Messages after ``after_seq`` (a reload or a reconnect catches up by sequence number)."""
        await self.served(record, conversation_id)
        return await self._ctx.stores.messages.history(
            conversation_id, after_seq=after_seq, limit=limit
        )
