"""Assignment: who gets a queued conversation, and what they receive with it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from handoff.errors import Conflict, NotFound, StorageUnavailable
from handoff.metrics import QUEUE_WAIT
from handoff.protocol import events as ev
from handoff.protocol.common import ConversationState, ConversationView
from handoff.routing import wording
from handoff.routing.assignment import choose_agent
from handoff.routing.context import Context
from handoff.routing.lifecycle import Transition
from handoff.routing.model import AgentStatus, Presence, QueueEntry
from handoff.routing.queueing import Queue
from handoff.routing.refusals import AlreadyAssigned, NotQueued

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, ctx: Context, queue: Queue) -> None:
        self._ctx = ctx
        self._queue = queue

    async def dispatch(self, bot_id: str) -> None:
        """Assign queued conversations to available agents (auto mode), then announce."""
        ctx = self._ctx
        bot = await ctx.bots.get(bot_id)
        queue = await ctx.state.queue(bot_id)
        if bot.assignment_mode == "auto" and queue:
            # One snapshot of the agents per dispatch (not one per queue entry),
            # kept current locally; the state's claim() stays the authority, so a
            # stale entry only costs a Conflict, after which that agent is re-read.
            agents = await ctx.state.agents_for_bot(bot_id)
            for entry in queue:
                agent, waits_for_target = _target(agents, bot_id, entry)
                if waits_for_target:
                    continue
                if agent is None:
                    agent = choose_agent(agents, bot_id, entry.team)
                if agent is None:
                    if entry.team is None:
                        break
                    continue
                try:
                    await self.assign(bot_id, entry.conversation_id, agent.agent_id, actor="system")
                    agent.load += 1
                    agent.last_assigned_at = time.time()
                except Conflict as exc:
                    # Another process or request won this one; the next entry may still fit.
                    log.debug("dispatch skipped %s: %s", entry.conversation_id, exc.message)
                    fresh = await ctx.state.get_agent(agent.agent_id)
                    agents = [a for a in agents if a is not agent]
                    if fresh is not None:
                        agents.append(fresh)
                except Exception as exc:
                    # Storage failed: the entry is back in the queue (see assign) and the
                    # next dispatch tries again; what called this (a bind, a status
                    # change, a close) has happened and must not fail for it.
                    if isinstance(exc, StorageUnavailable):
                        log.warning("dispatch of bot %s waits for storage", bot_id)
                    else:
                        log.exception("dispatch of %s failed", entry.conversation_id)
                    break
        await self._queue.announce(bot_id)

    async def assign(
        self, bot_id: str, conversation_id: str, agent_id: str, *, actor: str, step_in: bool = False
    ) -> ConversationView:
        """Give a queued conversation to the agent; tell both sides.

        ``step_in``: a supervisor takes it over, whatever their status and capacity.
        """
        ctx = self._ctx
        # The atomic claim comes first: losing it costs no database round trip,
        # which matters when many dispatches race over one queue.
        entry = await ctx.state.claim(bot_id, conversation_id, agent_id, step_in=step_in)
        if entry is None:
            raise AlreadyAssigned()
        try:
            view = await ctx.conversation(conversation_id, field="conversation_id")
            if view.state != ConversationState.QUEUED:
                raise NotQueued()
            # The wait is stored with the assignment: estimates are made from it.
            waited = None
            if view.queued_at is not None:
                waited = max(0.0, (datetime.now(UTC) - view.queued_at).total_seconds())
            agent = await ctx.state.get_agent(agent_id)
            name = agent.name if agent else "An agent"
            view = await ctx.move(
                view,
                Transition.ASSIGN,
                actor,
                agent_id=agent_id,
                wait_seconds=waited,
                # The name goes with the record (and the bot's webhook) of who took it.
                detail={"agent_name": agent.name} if agent else None,
            )
        except (Conflict, NotFound):
            # The database says it is no longer waiting (closed or taken meanwhile).
            await ctx.state.release(conversation_id)
            raise
        except Exception:
            # Storing the assignment failed: it still waits, first in line.
            await ctx.state.release(conversation_id)
            await ctx.state.enqueue(entry, at_head=True)
            raise
        await ctx.state.clear_deadline("wait", conversation_id)
        await ctx.state.forget_position(conversation_id)
        if waited is not None:
            QUEUE_WAIT.observe(waited)
        await self.deliver(view, agent_id)
        await ctx.notifier.widget(
            conversation_id,
            ev.TO_USER,
            {
                "message": wording.agent_joined(name),
                "sender": "system",
                "agent": {"id": agent_id, "name": name},
            },
        )
        if not view.handoff_packet.transcript:
            # The bot sent none with the handoff: ask the widget (the seed protocol).
            await ctx.notifier.widget(conversation_id, ev.ASK_MESSAGES, None)
        return view

    async def deliver(
        self,
        view: ConversationView,
        agent_id: str,
        *,
        note: str | None = None,
        from_agent: str | None = None,
    ) -> None:
        """Send the agent the conversation with this handoff's messages and the bot transcript."""
        ctx = self._ctx
        cid = view.conversation_id
        start = await ctx.stores.conversations.session_start_seq(cid)
        history = await ctx.stores.messages.history(cid, after_seq=start)
        transcript = await ctx.stores.messages.transcript(cid)
        await ctx.notifier.agent(
            agent_id,
            ev.CONVERSATION_ASSIGNED,
            {
                "conversation": view.model_dump(mode="json"),
                "messages": [m.model_dump(mode="json") for m in history],
                "transcript": [t.model_dump() for t in transcript],
                "note": note,
                "from_agent_id": from_agent,
                "user_connected": await ctx.state.touch_connection("widget", cid, 0) > 0,
                "delivered_seq": await ctx.state.widget_seen(cid),
            },
        )


def _target(agents: list[Presence], bot_id: str, entry: QueueEntry) -> tuple[Presence | None, bool]:
    """The agent the bot asked for, if they can take it now; and whether it waits for them.

    An asked-for agent who is online (connected, status online) gets it as soon as
    they have a free slot, and nobody else meanwhile; one who is not online does
    not hold it up: it goes to whoever is free.
    """
    wanted = entry.target_agent
    if wanted is None:
        return None, False
    agent = next((a for a in agents if a.agent_id == wanted), None)
    if agent is None or not agent.connected or agent.status is not AgentStatus.ONLINE:
        return None, False
    if not agent.serves(bot_id, entry.team):
        return None, False
    if agent.load < agent.capacity:
        return agent, False
    return None, True
