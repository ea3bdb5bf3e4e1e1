"""After a restart: rebuild empty routing state from what the database says is open."""

from __future__ import annotations

import logging
import time

from handoff.protocol.common import ConversationState
from handoff.routing.context import Context
from handoff.routing.queueing import Queue

__all__ = ["recover"]

log = logging.getLogger(__name__)


async def recover(ctx: Context, queue: Queue) -> int:
    """Rebuild the state if it is empty; returns the open conversations seen (0: nothing to do)."""
    if not await ctx.state.initialize():
        return 0
    now = time.time()
    settings = ctx.settings
    open_views = await ctx.stores.conversations.open_conversations()
    lost_agents: set[str] = set()
    for view in open_views:
        cid = view.conversation_id
        await ctx.state.seed_seq(cid, await ctx.stores.messages.max_seq(cid))
        if view.state == ConversationState.PENDING:
            await ctx.state.set_deadline("wait", cid, now + await ctx.wait_limit(view.bot_id))
            continue
        # Every widget was disconnected by the restart: give each the grace period.
        await ctx.state.set_deadline("widget", cid, now + settings.widget_grace_seconds)
        if view.state == ConversationState.QUEUED:
            await queue.enqueue(view, at_head=False)
        elif view.state == ConversationState.ASSIGNED and view.agent_id:
            await ctx.state.assign_recovered(cid, view.agent_id)
            lost_agents.add(view.agent_id)
    for agent_id in lost_agents:
        await ctx.state.set_deadline("agent", agent_id, now + settings.agent_grace_seconds)
    if open_views:
        log.info("recovered %d open conversations", len(open_views))
    return len(open_views)
