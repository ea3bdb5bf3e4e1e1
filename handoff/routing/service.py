"""The handoff core: what happens to a conversation, from creation to close.

Sockets and REST handlers validate input and call this; this reads and writes
the database through the repositories, the shared state through
:class:`RoutingState`, and reaches sockets through :class:`Notifier`.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from handoff.config import Settings
from handoff.errors import BadRequest, Conflict, Forbidden, HandoffError, NotFound, TooLarge
from handoff.metrics import QUEUE_WAIT
from handoff.protocol import events as ev
from handoff.protocol.common import (
    AgentView,
    ConversationView,
    MessageView,
    QueueEntryView,
    TranscriptItem,
)
from handoff.routing import notices
from handoff.routing.assignment import choose_agent
from handoff.routing.model import AgentStatus, Presence, QueueEntry
from handoff.routing.notify import Notifier
from handoff.routing.state import RoutingState
from handoff.routing.states import ConversationState, IllegalTransition, Transition
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.bots import BotRecord, BotRepo
from handoff.storage.conversations import ConversationRepo, StaleState
from handoff.storage.messages import MessageRepo
from handoff.storage.writer import MessageWriter, NewMessage

__all__ = ["BindResult", "HandoffService"]

log = logging.getLogger(__name__)

S = ConversationState
T = Transition
_BOT_CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class BindResult:
    conversation: ConversationView
    backlog: list[MessageView]
    """Agent messages the widget has not been shown yet, oldest first."""


class HandoffService:
    def __init__(
        self,
        settings: Settings,
        *,
        bots: BotRepo,
        agents: AgentRepo,
        conversations: ConversationRepo,
        messages: MessageRepo,
        writer: MessageWriter,
        state: RoutingState,
        notifier: Notifier,
    ) -> None:
        self.settings = settings
        self.bots = bots
        self.agents = agents
        self.conversations = conversations
        self.messages = messages
        self.writer = writer
        self.state = state
        self.notifier = notifier
        self._bot_cache: dict[str, tuple[float, BotRecord]] = {}
        self._announced: dict[str, int] = {}
        self._last_queue: dict[str, tuple[str, ...]] = {}

    # helpers ---------------------------------------------------------------
    async def bot(self, bot_id: str) -> BotRecord:
        cached = self._bot_cache.get(bot_id)
        now = time.monotonic()
        if cached and now - cached[0] < _BOT_CACHE_SECONDS:
            return cached[1]
        record = await self.bots.get(bot_id)
        if record is None:
            raise NotFound(f"unknown bot {bot_id!r}", field="BotID", code="unknown_bot")
        self._bot_cache[bot_id] = (now, record)
        return record

    def forget_bot(self, bot_id: str) -> None:
        """Drop the cached settings of a bot that was just changed."""
        self._bot_cache.pop(bot_id, None)

    async def find_agent(self, agent_id: str) -> AgentRecord | None:
        """The agent's stored record, or None when it no longer exists."""
        return await self.agents.get(agent_id)

    async def conversation(
        self, conversation_id: str, *, field: str = "ConversationID"
    ) -> ConversationView:
        view = await self.conversations.get(conversation_id)
        if view is None:
            raise NotFound(
                "no conversation with this id; the bot must call execute_handoff first",
                field=field,
                code="unknown_conversation",
            )
        return view

    def _check_size(self, text: str, field: str) -> None:
        size = len(text.encode())
        if size > self.settings.max_message_bytes:
            raise TooLarge(
                f"{field} is {size} bytes; the limit is {self.settings.max_message_bytes}",
                field=field,
            )
        if not text.strip():
            raise BadRequest(f"{field} is empty", field=field)

    async def _move(
        self,
        view: ConversationView,
        transition: Transition,
        actor: str,
        **kwargs: Any,
    ) -> ConversationView:
        try:
            return await self.conversations.transition(
                view.conversation_id, S(view.state), transition, actor=actor, **kwargs
            )
        except IllegalTransition as exc:
            raise Conflict(str(exc), field="conversation_id", code="invalid_state") from None
        except StaleState:
            raise Conflict(
                "the conversation changed meanwhile; try again",
                field="conversation_id",
                code="conflict",
            ) from None

    async def _wait_limit(self, bot_id: str) -> float:
        bot = await self.bot(bot_id)
        return bot.wait_limit_seconds or self.settings.default_wait_limit_seconds

    # bot side --------------------------------------------------------------
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
        """``execute_handoff``: a new conversation waiting for its widget, or the open one again."""
        actor = f"bot:{bot.id}"
        existing = await self.conversations.get(conversation_id) if conversation_id else None
        if existing is not None and existing.bot_id != bot.id:
            raise Conflict(
                "this ConversationID belongs to another bot",
                field="ConversationID",
                code="conversation_taken",
            )
        if existing is not None and existing.state != S.CLOSED:
            return existing
        details: dict[str, Any] = {
            "user": user,
            "reason": reason,
            "entities": entities,
            "team": team,
        }
        if existing is not None:
            view = await self._move(existing, T.REOPEN, actor, **details)
        else:
            view = await self.conversations.create(
                conversation_id or secrets.token_urlsafe(24), bot.id, actor=actor, **details
            )
        last = await self.messages.max_seq(view.conversation_id)
        await self.state.seed_seq(view.conversation_id, last)
        # A reopened conversation starts a new handoff: what the widget was sent in
        # the earlier one is not sent again when it binds.
        await self.state.mark_widget_seen(view.conversation_id, last)
        await self.state.set_deadline(
            "wait", view.conversation_id, time.time() + await self._wait_limit(bot.id)
        )
        return view

    # widget side -----------------------------------------------------------
    async def bind_widget(
        self, conversation_id: str, bot_id: str, *, resume_after_seq: int | None
    ) -> BindResult:
        view = await self.conversation(conversation_id)
        if view.bot_id != bot_id:
            raise Forbidden(
                "BotID does not match the bot that created this conversation",
                field="BotID",
                code="bot_mismatch",
            )
        if view.state == S.CLOSED:
            raise Conflict(
                "this conversation is closed", field="ConversationID", code="conversation_closed"
            )
        await self.state.touch_connection("widget", conversation_id, +1)
        returned = await self.state.clear_deadline("widget", conversation_id)
        was_assigned = view.state == S.ASSIGNED
        if view.state == S.PENDING:
            view = await self._move(view, T.BIND, "widget")
            await self._enqueue(view, at_head=False)
            await self.dispatch(view.bot_id)
            view = await self.conversation(conversation_id)
        elif view.state == S.QUEUED:
            self._announced.pop(conversation_id, None)
            await self._announce(view.bot_id, only=conversation_id)
        if was_assigned and returned and view.agent_id:
            await self.notifier.agent(
                view.agent_id, ev.USER_RETURNED, {"conversation_id": conversation_id}
            )
        after = resume_after_seq
        if after is None:
            after = await self.state.widget_seen(conversation_id)
        backlog = await self.messages.history(conversation_id, after_seq=after, senders=("agent",))
        if backlog:
            await self.state.mark_widget_seen(conversation_id, backlog[-1].seq)
        return BindResult(view, backlog)

    async def widget_left(self, conversation_id: str) -> None:
        """A bound widget socket went away; after the grace period the person has abandoned."""
        remaining = await self.state.touch_connection("widget", conversation_id, -1)
        if remaining:
            return
        view = await self.conversations.get(conversation_id)
        if view is None or view.state == S.CLOSED:
            return
        await self.state.set_deadline(
            "widget", conversation_id, time.time() + self.settings.widget_grace_seconds
        )
        if view.agent_id:
            await self.notifier.agent(
                view.agent_id, ev.USER_LEFT, {"conversation_id": conversation_id}
            )

    async def user_message(self, conversation_id: str, text: str) -> MessageView:
        """Persist what the person typed, then deliver it to the agent (or hold it)."""
        self._check_size(text, "message")
        seq = await self.state.next_seq(conversation_id)
        if seq is None:
            raise Conflict(
                "this conversation is closed", field="ConversationID", code="conversation_closed"
            )
        stored = await self.writer.write(NewMessage(conversation_id, seq, "user", text))
        agent_id = await self.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await self.notifier.agent(
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

    async def store_transcript(
        self, conversation_id: str, bot_id: str, items: list[TranscriptItem]
    ) -> None:
        if bot_id != (await self.conversation(conversation_id)).bot_id:
            raise Forbidden(
                "bot_id does not match this conversation", field="bot_id", code="bot_mismatch"
            )
        if len(items) > self.settings.max_transcript_messages:
            raise TooLarge(
                f"{len(items)} messages; the limit is {self.settings.max_transcript_messages}",
                field="messages",
            )
        if not items and await self.messages.transcript(conversation_id):
            # The seed snippet answers every `messages` request, and a widget that
            # does not fill it in sends []: that must not wipe a transcript we have.
            return
        await self.messages.replace_transcript(conversation_id, items)
        agent_id = await self.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await self.notifier.agent(
                agent_id,
                ev.TRANSCRIPT,
                {"conversation_id": conversation_id, "messages": [i.model_dump() for i in items]},
            )

    async def user_typing(self, conversation_id: str, typing: bool) -> None:
        agent_id = await self.state.assigned_agent(conversation_id)
        if agent_id is not None:
            await self.notifier.agent(
                agent_id, ev.USER_TYPING, {"conversation_id": conversation_id, "typing": typing}
            )

    # queue -------------------------------------------------------------------
    async def _enqueue(self, view: ConversationView, *, at_head: bool) -> None:
        entry = QueueEntry(
            conversation_id=view.conversation_id,
            bot_id=view.bot_id,
            enqueued_at=time.time(),
            team=view.team,
            user=view.user,
            reason=view.reason,
        )
        await self.state.enqueue(entry, at_head=at_head)
        await self.state.set_deadline(
            "wait", view.conversation_id, time.time() + await self._wait_limit(view.bot_id)
        )

    async def queue_view(self, bot_id: str) -> list[QueueEntryView]:
        return [
            QueueEntryView(
                conversation_id=e.conversation_id,
                bot_id=e.bot_id,
                position=i + 1,
                team=e.team,
                enqueued_at=e.enqueued_at,
                user=e.user,
                reason=e.reason,
            )
            for i, e in enumerate(await self.state.queue(bot_id))
        ]

    async def _announce(self, bot_id: str, *, only: str | None = None) -> None:
        """Tell queued people where they stand (when it changed), and agents the queue."""
        queue = await self.state.queue(bot_id)
        agents = await self.state.agents_for_bot(bot_id)
        online = [a for a in agents if a.connected and a.status is AgentStatus.ONLINE]
        average = await self.state.average_wait(bot_id)
        for i, entry in enumerate(queue):
            position = i + 1
            cid = entry.conversation_id
            if only is not None and cid != only:
                continue
            if self._announced.get(cid) == position:
                continue
            self._announced[cid] = position
            wait = None
            if average is not None and online:
                wait = average * position / len(online)
            text = notices.queue_position(position, wait, len(online))
            await self.notifier.widget(cid, ev.TO_USER, {"message": text, "sender": "system"})
            await self.notifier.widget(
                cid,
                ev.QUEUE_POSITION,
                {
                    "position": position,
                    "estimated_wait_seconds": wait,
                    "agents_online": len(online),
                },
                rich=True,
            )
        snapshot = tuple(e.conversation_id for e in queue)
        if only is None and self._last_queue.get(bot_id) != snapshot:
            self._last_queue[bot_id] = snapshot
            await self.notifier.bot_agents(
                bot_id,
                ev.QUEUE_UPDATED,
                {
                    "bot_id": bot_id,
                    "conversations": [
                        q.model_dump(mode="json") for q in await self.queue_view(bot_id)
                    ],
                },
            )

    async def dispatch(self, bot_id: str) -> None:
        """Assign queued conversations to available agents (auto mode), then announce."""
        bot = await self.bot(bot_id)
        queue = await self.state.queue(bot_id)
        if bot.assignment_mode == "auto" and queue:
            # One snapshot of the agents per dispatch (not one per queue entry),
            # kept current locally; the state's claim() stays the authority, so a
            # stale entry only costs a Conflict, after which that agent is re-read.
            agents = await self.state.agents_for_bot(bot_id)
            for entry in queue:
                agent = choose_agent(agents, bot_id, entry.team)
                if agent is None:
                    if entry.team is None:
                        break
                    continue
                try:
                    await self._assign(
                        bot_id, entry.conversation_id, agent.agent_id, actor="system"
                    )
                    agent.load += 1
                    agent.last_assigned_at = time.time()
                except Conflict as exc:
                    # Another process or request won this one; the next entry may still fit.
                    log.debug("dispatch skipped %s: %s", entry.conversation_id, exc.message)
                    fresh = await self.state.get_agent(agent.agent_id)
                    agents = [a for a in agents if a is not agent]
                    if fresh is not None:
                        agents.append(fresh)
        await self._announce(bot_id)

    async def _assign(
        self, bot_id: str, conversation_id: str, agent_id: str, *, actor: str
    ) -> ConversationView:
        # The atomic claim comes first: losing it costs no database round trip,
        # which matters when many dispatches race over one queue.
        if not await self.state.claim(bot_id, conversation_id, agent_id):
            raise Conflict(
                "this conversation was already taken, or you have no free capacity",
                field="conversation_id",
                code="already_assigned",
            )
        try:
            view = await self.conversation(conversation_id, field="conversation_id")
            if view.state != S.QUEUED:
                raise Conflict(
                    "this conversation is not waiting in the queue",
                    field="conversation_id",
                    code="not_queued",
                )
            view = await self._move(view, T.ASSIGN, actor, agent_id=agent_id)
        except HandoffError:
            await self.state.release(conversation_id)
            raise
        await self.state.clear_deadline("wait", conversation_id)
        self._announced.pop(conversation_id, None)
        if view.queued_at is not None and view.assigned_at is not None:
            waited = (view.assigned_at - view.queued_at).total_seconds()
            await self.state.record_wait(view.bot_id, waited)
            QUEUE_WAIT.observe(waited)
        agent = await self.state.get_agent(agent_id)
        name = agent.name if agent else "An agent"
        await self._deliver_assignment(view, agent_id)
        await self.notifier.widget(
            conversation_id,
            ev.TO_USER,
            {
                "message": notices.agent_joined(name),
                "sender": "system",
                "agent": {"id": agent_id, "name": name},
            },
        )
        await self.notifier.widget(conversation_id, ev.ASK_MESSAGES, None)
        return view

    async def _deliver_assignment(
        self,
        view: ConversationView,
        agent_id: str,
        *,
        note: str | None = None,
        from_agent: str | None = None,
    ) -> None:
        start = await self.conversations.session_start_seq(view.conversation_id)
        history = await self.messages.history(view.conversation_id, after_seq=start)
        transcript = await self.messages.transcript(view.conversation_id)
        await self.notifier.agent(
            agent_id,
            ev.CONVERSATION_ASSIGNED,
            {
                "conversation": view.model_dump(mode="json"),
                "messages": [m.model_dump(mode="json") for m in history],
                "transcript": [t.model_dump() for t in transcript],
                "note": note,
                "from_agent_id": from_agent,
                "user_connected": await self.state.touch_connection(
                    "widget", view.conversation_id, 0
                )
                > 0,
            },
        )

    # agent side --------------------------------------------------------------
    def agent_view(self, record: AgentRecord, presence: Presence | None) -> AgentView:
        return AgentView(
            id=record.id,
            email=record.email,
            name=record.name,
            role=record.role,
            capacity=presence.capacity if presence else record.capacity,
            bots=list(record.bots),
            status=presence.status.value if presence else AgentStatus.OFFLINE.value,
            load=presence.load if presence else 0,
        )

    async def agent_connected(self, record: AgentRecord) -> list[str]:
        """An agent socket connected; returns the conversations they still hold."""
        await self.state.touch_connection("agent", record.id, +1)
        await self.state.clear_deadline("agent", record.id)
        presence = await self.state.get_agent(record.id)
        if presence is None:
            presence = Presence(
                record.id,
                record.name,
                AgentStatus.OFFLINE,
                record.capacity,
                record.bots,
                record.teams,
            )
        presence.connected = True
        presence.bots, presence.teams, presence.name = record.bots, record.teams, record.name
        await self.state.put_agent(presence)
        held = await self.state.agent_conversations(record.id)
        for cid in held:
            view = await self.conversations.get(cid)
            if view is not None and view.state == S.ASSIGNED and view.agent_id == record.id:
                await self._deliver_assignment(view, record.id)
        if presence.status is AgentStatus.ONLINE:
            for bot_id in record.bots:
                await self.dispatch(bot_id)
        return held

    async def agent_disconnected(self, agent_id: str) -> None:
        if await self.state.touch_connection("agent", agent_id, -1):
            return
        presence = await self.state.get_agent(agent_id)
        if presence is not None:
            presence.connected = False
            await self.state.put_agent(presence)
        await self.state.set_deadline(
            "agent", agent_id, time.time() + self.settings.agent_grace_seconds
        )

    async def set_status(
        self, record: AgentRecord, status: AgentStatus, capacity: int | None
    ) -> AgentView:
        presence = await self.state.get_agent(record.id) or Presence(
            record.id, record.name, status, record.capacity, record.bots, record.teams
        )
        presence.status = status
        presence.connected = True
        if capacity is not None:
            presence.capacity = capacity
        presence = await self.state.put_agent(presence)
        if status is AgentStatus.OFFLINE:
            await self._requeue_agent(record.id, actor=f"agent:{record.id}")
        for bot_id in record.bots:
            await self.dispatch(bot_id)
        return self.agent_view(record, await self.state.get_agent(record.id))

    async def _requeue_agent(self, agent_id: str, *, actor: str) -> None:
        """Put an agent's conversations back at the head of their queues."""
        bots: set[str] = set()
        for cid in reversed(await self.state.agent_conversations(agent_id)):
            await self.state.release(cid)
            view = await self.conversations.get(cid)
            if view is None or view.state != S.ASSIGNED:
                continue
            view = await self._move(view, T.REQUEUE, actor)
            await self._enqueue(view, at_head=True)
            self._announced.pop(cid, None)
            await self.notifier.widget(
                cid, ev.TO_USER, {"message": notices.agent_lost(), "sender": "system"}
            )
            await self.notifier.agent(
                agent_id, ev.CONVERSATION_RELEASED, {"conversation_id": cid, "reason": "requeued"}
            )
            bots.add(view.bot_id)
        for bot_id in bots:
            await self.dispatch(bot_id)

    async def _agent_conversation(
        self, record: AgentRecord, conversation_id: str
    ) -> ConversationView:
        """The conversation, if this agent is the one assigned to it."""
        view = await self.conversation(conversation_id, field="conversation_id")
        if view.bot_id not in record.bots:
            raise Forbidden(
                "this conversation belongs to a bot you do not serve",
                field="conversation_id",
                code="forbidden",
            )
        if view.state != S.ASSIGNED or view.agent_id != record.id:
            raise Forbidden(
                "this conversation is not assigned to you",
                field="conversation_id",
                code="not_your_conversation",
            )
        return view

    async def queue_for(self, record: AgentRecord, bot_id: str | None) -> list[QueueEntryView]:
        if bot_id is not None and bot_id not in record.bots:
            raise Forbidden("you do not serve this bot", field="bot_id")
        result: list[QueueEntryView] = []
        for b in [bot_id] if bot_id else record.bots:
            result.extend(await self.queue_view(b))
        return result

    async def accept(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        view = await self.conversation(conversation_id, field="conversation_id")
        if view.bot_id not in record.bots:
            raise Forbidden(
                "this conversation belongs to a bot you do not serve", field="conversation_id"
            )
        if view.team is not None and view.team not in record.teams.get(view.bot_id, []):
            raise Forbidden(
                f"this conversation waits for team {view.team!r}",
                field="conversation_id",
                code="wrong_team",
            )
        presence = await self.state.get_agent(record.id)
        if presence is None or presence.status is not AgentStatus.ONLINE:
            raise Conflict("set your status to online first", field="status", code="not_online")
        if view.state != S.QUEUED:
            raise Conflict(
                "this conversation is not waiting in the queue",
                field="conversation_id",
                code="not_queued",
            )
        view = await self._assign(
            view.bot_id, conversation_id, record.id, actor=f"agent:{record.id}"
        )
        await self._announce(view.bot_id)
        return view

    async def agent_message(
        self, record: AgentRecord, conversation_id: str, text: str, client_msg_id: str | None
    ) -> MessageView:
        self._check_size(text, "text")
        if await self.state.assigned_agent(conversation_id) != record.id:
            await self._agent_conversation(record, conversation_id)  # raises the precise error
        seq = await self.state.next_seq(conversation_id)
        if seq is None:
            raise Conflict(
                "this conversation is closed", field="conversation_id", code="conversation_closed"
            )
        stored = await self.writer.write(
            NewMessage(conversation_id, seq, "agent", text, record.id, client_msg_id)
        )
        if stored.seq == seq:
            await self.notifier.widget(
                conversation_id,
                ev.TO_USER,
                {
                    "message": stored.text,
                    "seq": stored.seq,
                    "sender": "agent",
                    "agent": {"id": record.id, "name": record.name},
                },
            )
            if await self.state.touch_connection("widget", conversation_id, 0):
                await self.state.mark_widget_seen(conversation_id, stored.seq)
        return stored

    async def agent_typing(self, record: AgentRecord, conversation_id: str, typing: bool) -> None:
        await self._agent_conversation(record, conversation_id)
        await self.notifier.widget(
            conversation_id,
            ev.AGENT_TYPING,
            {"typing": typing, "agent": {"name": record.name}},
            rich=True,
        )

    async def transfer(
        self,
        record: AgentRecord,
        conversation_id: str,
        *,
        to_agent_id: str | None,
        to_team: str | None,
        note: str | None,
    ) -> ConversationView:
        view = await self._agent_conversation(record, conversation_id)
        actor = f"agent:{record.id}"
        if to_agent_id is not None:
            if to_agent_id == record.id:
                raise BadRequest("you already have this conversation", field="to_agent_id")
            target = await self.state.get_agent(to_agent_id)
            if target is None or view.bot_id not in target.bots:
                raise NotFound(
                    "no such agent serves this bot", field="to_agent_id", code="unknown_agent"
                )
            if not await self.state.move(conversation_id, record.id, to_agent_id, view.bot_id):
                raise Conflict(
                    "that agent is not online or has no free capacity",
                    field="to_agent_id",
                    code="agent_unavailable",
                )
            try:
                view = await self._move(
                    view,
                    T.TRANSFER,
                    actor,
                    agent_id=to_agent_id,
                    detail={"note": note, "from_agent_id": record.id},
                )
            except Conflict:
                await self.state.move(conversation_id, to_agent_id, record.id, view.bot_id)
                raise
            await self.notifier.agent(
                record.id,
                ev.CONVERSATION_TRANSFERRED,
                {"conversation_id": conversation_id, "to_agent_id": to_agent_id},
            )
            await self._deliver_assignment(view, to_agent_id, note=note, from_agent=record.id)
            await self.notifier.widget(
                conversation_id,
                ev.TO_USER,
                {"message": notices.transferred(target.name), "sender": "system"},
            )
            await self.dispatch(view.bot_id)
            return view
        if to_team not in await self.agents.teams_of_bot(view.bot_id):
            raise NotFound(
                f"no team {to_team!r} for this bot", field="to_team", code="unknown_team"
            )
        await self.state.release(conversation_id)
        view = await self._move(
            view, T.REQUEUE, actor, team=to_team, detail={"note": note, "from_agent_id": record.id}
        )
        await self._enqueue(view, at_head=True)
        await self.notifier.agent(
            record.id,
            ev.CONVERSATION_TRANSFERRED,
            {"conversation_id": conversation_id, "to_team": to_team},
        )
        await self.notifier.widget(
            conversation_id, ev.TO_USER, {"message": notices.transferred(None), "sender": "system"}
        )
        await self.dispatch(view.bot_id)
        return view

    async def close(
        self, record: AgentRecord, conversation_id: str, outcome: str | None
    ) -> ConversationView:
        view = await self._agent_conversation(record, conversation_id)
        return await self._close(
            view, T.RESOLVE, f"agent:{record.id}", outcome=outcome, agent_name=record.name
        )

    async def _close(
        self,
        view: ConversationView,
        transition: Transition,
        actor: str,
        *,
        outcome: str | None = None,
        agent_name: str | None = None,
    ) -> ConversationView:
        cid = view.conversation_id
        closed = await self._move(view, transition, actor, outcome=outcome)
        await self.state.release(cid)
        await self.state.dequeue(view.bot_id, cid)
        for kind in ("wait", "widget"):
            await self.state.clear_deadline(kind, cid)
        self._announced.pop(cid, None)
        reason = closed.close_reason or "resolved"
        if view.agent_id:
            await self.notifier.agent(
                view.agent_id, ev.CONVERSATION_CLOSED, {"conversation_id": cid, "reason": reason}
            )
        text = notices.no_agent() if transition is T.NO_AGENT else notices.closed(agent_name)
        if transition is not T.ABANDON:
            await self.notifier.widget(cid, ev.TO_USER, {"message": text, "sender": "system"})
        await self.notifier.end_widget(cid)
        await self.state.forget(cid)
        await self.dispatch(view.bot_id)
        return closed

    async def history(
        self, record: AgentRecord, conversation_id: str, after_seq: int, limit: int
    ) -> list[MessageView]:
        view = await self.conversation(conversation_id, field="conversation_id")
        if view.bot_id not in record.bots:
            raise Forbidden(
                "this conversation belongs to a bot you do not serve", field="conversation_id"
            )
        return await self.messages.history(conversation_id, after_seq=after_seq, limit=limit)

    # timers ------------------------------------------------------------------
    async def sweep(self, now: float | None = None) -> int:
        """Act on every deadline that has passed; returns how many. Called by the sweeper loop."""
        now = time.time() if now is None else now
        count = 0
        for cid in await self.state.pop_due("widget", now):
            count += 1
            if await self.state.touch_connection("widget", cid, 0):
                continue
            view = await self.conversations.get(cid)
            if view is not None and view.state != S.CLOSED:
                await self._safely(self._close(view, T.ABANDON, "system"))
        for agent_id in await self.state.pop_due("agent", now):
            count += 1
            if await self.state.touch_connection("agent", agent_id, 0):
                continue
            presence = await self.state.get_agent(agent_id)
            if presence is not None:
                presence.status = AgentStatus.OFFLINE
                await self.state.put_agent(presence)
            await self._safely(self._requeue_agent(agent_id, actor="system"))
        for cid in await self.state.pop_due("wait", now):
            count += 1
            view = await self.conversations.get(cid)
            if view is None:
                continue
            if view.state == S.QUEUED:
                await self._safely(self._close(view, T.NO_AGENT, "system"))
            elif view.state == S.PENDING:
                await self._safely(self._close(view, T.TIMEOUT, "system"))
        return count

    async def _safely(self, step: Any) -> None:
        try:
            await step
        except Conflict as exc:
            log.info("timer step skipped: %s", exc.message)

    async def recover(self) -> int:
        """Rebuild empty routing state from the database; returns the open conversations seen."""
        if not await self.state.initialize():
            return 0
        now = time.time()
        open_views = await self.conversations.open_conversations()
        lost_agents: set[str] = set()
        for view in open_views:
            cid = view.conversation_id
            await self.state.seed_seq(cid, await self.messages.max_seq(cid))
            if view.state == S.PENDING:
                await self.state.set_deadline(
                    "wait", cid, now + await self._wait_limit(view.bot_id)
                )
                continue
            # Every widget was disconnected by the restart: give each the grace period.
            await self.state.set_deadline("widget", cid, now + self.settings.widget_grace_seconds)
            if view.state == S.QUEUED:
                await self._enqueue(view, at_head=False)
            elif view.state == S.ASSIGNED and view.agent_id:
                await self.state.assign_recovered(cid, view.agent_id)
                lost_agents.add(view.agent_id)
        for agent_id in lost_agents:
            await self.state.set_deadline(
                "agent", agent_id, now + self.settings.agent_grace_seconds
            )
        if open_views:
            log.info("recovered %d open conversations", len(open_views))
        return len(open_views)
