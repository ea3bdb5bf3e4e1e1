"""The queue of each bot, and what queued people and agents are told about it."""

from __future__ import annotations

import time

from handoff.protocol import events as ev
from handoff.protocol.common import PRIORITIES, ConversationView, QueueEntryView
from handoff.routing import wording
from handoff.routing.context import Context
from handoff.routing.estimate import estimate, typical_wait
from handoff.routing.model import AgentStatus, QueueEntry

__all__ = ["Queue"]


class Queue:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def enqueue(self, view: ConversationView, *, at_head: bool) -> None:
        """Put the conversation in its bot's queue and start its wait limit."""
        ctx = self._ctx
        entry = QueueEntry(
            conversation_id=view.conversation_id,
            bot_id=view.bot_id,
            enqueued_at=time.time(),
            team=view.team,
            user=view.user,
            reason=view.reason,
            priority=PRIORITIES[view.priority],
            packet=view.handoff_packet,
        )
        await ctx.state.enqueue(entry, at_head=at_head)
        await ctx.state.set_deadline(
            "wait", view.conversation_id, time.time() + await ctx.wait_limit(view.bot_id)
        )

    async def view(self, bot_id: str) -> list[QueueEntryView]:
        return [
            QueueEntryView(
                conversation_id=e.conversation_id,
                bot_id=e.bot_id,
                position=i + 1,
                team=e.team,
                enqueued_at=e.enqueued_at,
                user=e.user,
                reason=e.reason,
                priority=e.packet.priority,
                handoff_packet=e.packet,
            )
            for i, e in enumerate(await self._ctx.state.queue(bot_id))
        ]

    async def announce(self, bot_id: str, *, only: str | None = None) -> None:
        """Tell queued people where they stand (when it changed), and agents the queue.

        ``only``: tell just this conversation (a widget that rebound), not the agents.
        """
        ctx = self._ctx
        queue = await ctx.state.queue(bot_id)
        agents = await ctx.state.agents_for_bot(bot_id)
        serving = [a for a in agents if a.connected and a.status is AgentStatus.ONLINE]
        online = len(serving)
        free = sum(1 for a in serving if a.load < a.capacity)
        typical: float | None = None
        looked_up = False
        for i, entry in enumerate(queue):
            position = i + 1
            cid = entry.conversation_id
            if only is not None and cid != only:
                continue
            if not await ctx.state.announce_position(cid, position):
                continue
            if not looked_up:
                # From the database's recent waits, once per announcement, and only
                # when somebody is to be told.
                typical = await typical_wait(ctx, bot_id, None)
                looked_up = True
            wait = estimate(typical, position, online, free)
            text = wording.queue_position(position, wait, online)
            await ctx.notifier.widget(cid, ev.TO_USER, {"message": text, "sender": "system"})
            await ctx.notifier.widget(
                cid,
                ev.QUEUE_POSITION,
                {"position": position, "estimated_wait_seconds": wait, "agents_online": online},
                rich=True,
            )
        if only is not None:
            return
        if await ctx.state.queue_changed(bot_id, tuple(e.conversation_id for e in queue)):
            await ctx.notifier.bot_agents(
                bot_id,
                ev.QUEUE_UPDATED,
                {
                    "bot_id": bot_id,
                    "conversations": [q.model_dump(mode="json") for q in await self.view(bot_id)],
                },
            )
