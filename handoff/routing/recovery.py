"""After a restart: rebuild empty routing state from what the database says is open."""

from __future__ import annotations

import asyncio
import logging
import time

from handoff.protocol.common import ConversationState
from handoff.routing.context import Context
from handoff.routing.queueing import Queue

__all__ = ["recover"]

log = logging.getLogger(__name__)


async def recover(ctx: Context, queue: Queue) -> int:
    """Rebuild the state if it is empty; returns the open conversations seen (0: nothing to do).

    Of several processes one rebuilds; the others wait (a while) until it is done, so
    that the sockets they serve next find the state whole.
    """
    if not await ctx.state.initialize():
        await _ready(ctx)
        return 0
    count = await _rebuild(ctx, queue)
    await ctx.state.rebuilt()
    return count


async def _ready(ctx: Context, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await ctx.state.ready():
        if time.monotonic() > deadline:
            log.warning("the routing state is still being rebuilt by another process")
            return
        await asyncio.sleep(0.1)


async def _rebuild(ctx: Context, queue: Queue) -> int:
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
