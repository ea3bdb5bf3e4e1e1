"""Supervisors over their bots' conversations: list them, watch one, step in.

A supervisor (or an admin) sees every conversation in progress of the bots they
serve (an admin: of every bot), watches one read-only, transfers it (through
:mod:`.transfers`), or takes it over: a queued one as ``accept`` takes it, another
agent's as a transfer to themselves. Stepping in is deliberate, so neither the
supervisor's status nor their capacity stops it (auto routing still never gives
them more than their capacity).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from handoff.errors import BadRequest
from handoff.protocol.common import (
    ConversationState,
    ConversationView,
    MessageView,
    TranscriptItem,
)
from handoff.protocol.oversight import (
    InProgressList,
    InProgressQuery,
    LiveAgent,
    LiveConversation,
)
from handoff.routing.context import WATCHES, Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.queueing import Queue
from handoff.routing.refusals import ConversationClosed, NotInProgress, NotYourBot
from handoff.routing.roles import Role, has_role, require_role
from handoff.routing.transfers import Transfers
from handoff.storage.agents import AgentRecord
from handoff.storage.conversations import InProgress

__all__ = ["Oversight", "Watched"]

S = ConversationState
_IN_PROGRESS = (S.QUEUED, S.ASSIGNED)
_WATCH_HISTORY = 1000
"""Messages in a watch's ack at most; ``history`` pages through the rest."""


@dataclass(frozen=True, slots=True)
class Watched:
    """What a watcher is given at once; the rest arrives as ``watched_*`` events."""

    conversation: ConversationView
    messages: list[MessageView]
    transcript: list[TranscriptItem]
    user_connected: bool


class Oversight:
    def __init__(
        self, ctx: Context, transfers: Transfers, dispatcher: Dispatcher, queue: Queue
    ) -> None:
        self._ctx = ctx
        self._transfers = transfers
        self._dispatcher = dispatcher
        self._queue = queue

    def _check_bot(self, record: AgentRecord, bot_id: str, *, field: str) -> None:
        """A supervisor oversees the bots they serve; an admin every bot."""
        if not has_role(record, Role.ADMIN) and bot_id not in record.bots:
            raise NotYourBot(field=field)

    async def supervised(
        self, record: AgentRecord, conversation_id: str, *, to: str
    ) -> ConversationView:
        """The conversation, if ``record`` may oversee it (``to``: what for, in a refusal)."""
        require_role(record, Role.SUPERVISOR, to=to)
        view = await self._ctx.conversation(conversation_id, field="conversation_id")
        self._check_bot(record, view.bot_id, field="conversation_id")
        return view

    async def in_progress(
        self, record: AgentRecord, bot_id: str, query: InProgressQuery
    ) -> InProgressList:
        """The bot's conversations queued or assigned now, longest waiting first."""
        require_role(record, Role.SUPERVISOR, to="listing a bot's conversations in progress")
        self._check_bot(record, bot_id, field="bot_id")
        await self._ctx.bots.get(bot_id, field="bot_id")  # an admin may name any: it must exist
        states = [S(query.state)] if query.state else list(_IN_PROGRESS)
        stores = self._ctx.stores
        rows = await stores.conversations.in_progress(bot_id, states, limit=query.limit + 1)
        shown = rows[: query.limit]
        agents = await stores.agents.get_many({r.view.agent_id for r in shown if r.view.agent_id})
        now = datetime.now(UTC)
        return InProgressList(
            bot_id=bot_id,
            conversations=[_live(r, agents, now) for r in shown],
            limit=query.limit,
            truncated=len(rows) > query.limit,
            as_of=now,
        )

    async def watch(
        self,
        record: AgentRecord,
        conversation_id: str,
        after_seq: int | None,
        *,
        joined: Callable[[], Awaitable[bool]],
    ) -> Watched:
        """Start following a conversation in progress.

        ``joined`` enters the socket's watch room and says whether the socket was not
        watching it yet (then the conversation's count of watches grows; see
        :meth:`unwatched`). That is done after the checks and before the history is
        read, so a message stored meanwhile arrives twice (the ack and the event, one
        ``seq``) rather than never.
        """
        view = await self.supervised(record, conversation_id, to="watching a conversation")
        if view.state == S.CLOSED:
            raise ConversationClosed(field="conversation_id")
        ctx = self._ctx
        counted = await joined()
        if counted:
            await ctx.state.touch_connection(WATCHES, conversation_id, +1)
        try:
            if after_seq is None:
                after_seq = await ctx.stores.conversations.session_start_seq(conversation_id)
            messages = await ctx.stores.messages.history(
                conversation_id, after_seq=after_seq, limit=_WATCH_HISTORY
            )
            return Watched(
                conversation=await ctx.conversation(conversation_id, field="conversation_id"),
                messages=messages,
                transcript=await ctx.stores.messages.transcript(conversation_id),
                user_connected=await ctx.state.touch_connection("widget", conversation_id, 0) > 0,
            )
        except BaseException:
            if counted:
                await self.unwatched(conversation_id)
            raise

    async def unwatched(self, conversation_id: str) -> None:
        """A socket stopped watching (``unwatch_conversation``, or it went away)."""
        await self._ctx.state.touch_connection(WATCHES, conversation_id, -1)

    async def take_over(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        """The supervisor takes the conversation: from the queue, or from its agent."""
        view = await self.supervised(record, conversation_id, to="taking over a conversation")
        if view.bot_id not in record.bots:  # an admin too: they become its agent
            raise NotYourBot()
        if view.state == S.CLOSED:
            raise ConversationClosed(field="conversation_id")
        if view.state == S.PENDING:
            raise NotInProgress()
        if view.state == S.QUEUED:
            view = await self._dispatcher.assign(
                view.bot_id, conversation_id, record.id, actor=f"agent:{record.id}", step_in=True
            )
            await self._queue.announce(view.bot_id)
            return view
        if view.agent_id == record.id:
            raise BadRequest(
                "you already have this conversation", field="conversation_id", code="already_theirs"
            )
        return await self._transfers.to_agent(record, view, record.id, None)


def _live(row: InProgress, agents: dict[str, AgentRecord], now: datetime) -> LiveConversation:
    view = row.view
    agent = None
    if view.agent_id:
        known = agents.get(view.agent_id)
        agent = LiveAgent(id=view.agent_id, name=known.name if known else None)
    wait = row.wait_seconds
    if view.state == S.QUEUED:
        wait = (now - view.queued_at).total_seconds() if view.queued_at else None
    return LiveConversation(
        conversation_id=view.conversation_id,
        bot_id=view.bot_id,
        state=view.state,
        user=view.user,
        reason=view.reason,
        team=view.team,
        priority=view.priority,
        tags=view.tags,
        agent=agent,
        created_at=view.created_at,
        queued_at=view.queued_at,
        assigned_at=view.assigned_at,
        wait_seconds=None if wait is None else max(0.0, wait),
        last_message_at=row.last_message_at,
    )
