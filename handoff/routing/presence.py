"""Agents coming and going: sockets, status and capacity, and their chats when they leave."""

from __future__ import annotations

import time

from handoff.protocol import events as ev
from handoff.protocol.common import AgentView, ConversationState
from handoff.routing import wording
from handoff.routing.context import Context
from handoff.routing.dispatch import Dispatcher
from handoff.routing.lifecycle import Transition
from handoff.routing.model import AgentStatus, Presence
from handoff.routing.queueing import Queue
from handoff.storage.agents import AgentRecord

__all__ = ["AgentPresence", "agent_view"]


def agent_view(record: AgentRecord, presence: Presence | None) -> AgentView:
    """The agent as clients see them: stored record plus live status and load."""
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


def _fresh(record: AgentRecord, status: AgentStatus) -> Presence:
    return Presence(record.id, record.name, status, record.capacity, record.bots, record.teams)


class AgentPresence:
    def __init__(self, ctx: Context, queue: Queue, dispatcher: Dispatcher) -> None:
        self._ctx = ctx
        self._queue = queue
        self._dispatcher = dispatcher

    async def describe(self, record: AgentRecord) -> AgentView:
        return agent_view(record, await self._ctx.state.get_agent(record.id))

    async def connected(self, record: AgentRecord) -> list[str]:
        """An agent socket connected; returns the conversations they still hold."""
        ctx = self._ctx
        await ctx.state.touch_connection("agent", record.id, +1)
        await ctx.state.clear_deadline("agent", record.id)
        # One atomic update, not a read and a write: a set_status arriving meanwhile
        # (this runs as a task) must not be undone.
        presence = await ctx.state.update_agent(
            record.id,
            fresh=_fresh(record, AgentStatus.OFFLINE),
            connected=True,
            bots=record.bots,
            teams=record.teams,
            name=record.name,
        )
        held = await ctx.state.agent_conversations(record.id)
        for cid in held:
            view = await ctx.stores.conversations.get(cid)
            if (
                view is not None
                and view.state == ConversationState.ASSIGNED
                and view.agent_id == record.id
            ):
                await self._dispatcher.deliver(view, record.id)
        if presence is not None and presence.status is AgentStatus.ONLINE:  # never None: fresh
            for bot_id in record.bots:
                await self._dispatcher.dispatch(bot_id)
        return held

    async def disconnected(self, agent_id: str) -> None:
        """An agent socket went away; the last one starts the agent's grace period."""
        ctx = self._ctx
        if await ctx.state.touch_connection("agent", agent_id, -1):
            return
        await self.gone(agent_id)

    async def gone(self, agent_id: str) -> None:
        """The agent's last socket went (here, or on a process that died): not connected,
        and their grace period starts."""
        ctx = self._ctx
        await ctx.state.update_agent(agent_id, connected=False)
        await ctx.state.set_deadline(
            "agent", agent_id, time.time() + ctx.settings.agent_grace_seconds
        )

    async def set_status(
        self, record: AgentRecord, status: AgentStatus, capacity: int | None
    ) -> AgentView:
        ctx = self._ctx
        await ctx.state.update_agent(
            record.id,
            fresh=_fresh(record, status),
            status=status,
            connected=True,
            capacity=capacity,
        )
        if status is AgentStatus.OFFLINE:
            await self.requeue_all(record.id, actor=f"agent:{record.id}")
        for bot_id in record.bots:
            await self._dispatcher.dispatch(bot_id)
        return await self.describe(record)

    async def grace_ended(self, agent_id: str) -> None:
        """The agent did not come back in time: offline, and their chats go back to the queue."""
        ctx = self._ctx
        if await ctx.state.touch_connection("agent", agent_id, 0):
            return
        await ctx.state.update_agent(agent_id, status=AgentStatus.OFFLINE)
        await self.requeue_all(agent_id, actor="system")

    async def requeue_all(self, agent_id: str, *, actor: str) -> None:
        """Put an agent's conversations back at the head of their queues."""
        ctx = self._ctx
        bots: set[str] = set()
        for cid in reversed(await ctx.state.agent_conversations(agent_id)):
            await ctx.state.release(cid)
            view = await ctx.stores.conversations.get(cid)
            if view is None or view.state != ConversationState.ASSIGNED:
                continue
            view = await ctx.move(view, Transition.REQUEUE, actor)
            await self._queue.enqueue(view, at_head=True)
            await ctx.state.forget_position(cid)
            await ctx.notifier.widget(
                cid, ev.TO_USER, {"message": wording.agent_lost(), "sender": "system"}
            )
            await ctx.notifier.agent(
                agent_id, ev.CONVERSATION_RELEASED, {"conversation_id": cid, "reason": "requeued"}
            )
            bots.add(view.bot_id)
        for bot_id in bots:
            await self._dispatcher.dispatch(bot_id)
