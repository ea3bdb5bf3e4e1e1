"""Deadlines: the wait limit, and the grace periods of widgets and agents who left.

A pass takes every due deadline and handles each on its own: one that fails
(a database or Redis hiccup inside a close or a dispatch) is logged and set
again for the next pass, and costs none of the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from handoff.errors import Conflict, StorageUnavailable
from handoff.protocol.common import ConversationState
from handoff.routing.closing import Closer
from handoff.routing.context import Context
from handoff.routing.lifecycle import Transition
from handoff.routing.presence import AgentPresence

__all__ = ["Timers"]

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, ctx: Context, closer: Closer, presence: AgentPresence) -> None:
        self._ctx = ctx
        self._closer = closer
        self._presence = presence
        self._handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "widget": self._widget_gone,
            "agent": presence.grace_ended,
            "wait": self._waited_too_long,
        }

    async def sweep(self, now: float | None = None) -> int:
        """Act on every deadline that has passed; returns how many. Called by the sweeper loop."""
        now = time.time() if now is None else now
        count = 0
        for kind, handler in self._handlers.items():
            for key in await self._ctx.state.pop_due(kind, now):
                count += 1
                await self._run(kind, key, handler, now)
        return count

    async def _run(
        self, kind: str, key: str, handler: Callable[[str], Awaitable[None]], now: float
    ) -> None:
        try:
            await handler(key)
        except Conflict as exc:
            # Someone else moved it first (the agent closed it, the widget came back).
            log.info("%s deadline of %s skipped: %s", kind, key, exc.message)
        except Exception as exc:
            if isinstance(exc, StorageUnavailable):
                # Said once per episode by the storage health tracker; one line here.
                log.debug("%s deadline of %s waits for storage: %s", kind, key, exc.message)
            else:
                log.exception("%s deadline of %s failed; trying again next pass", kind, key)
            try:
                # Due as of this pass, so the next pass (whenever it runs) takes it,
                # unless the step set a new deadline before it failed.
                await self._ctx.state.set_deadline(kind, key, now, keep_newer=True)
            except Exception:
                log.exception("could not set the %s deadline of %s again", kind, key)

    async def _widget_gone(self, cid: str) -> None:
        ctx = self._ctx
        if await ctx.state.touch_connection("widget", cid, 0):
            return  # it came back
        view = await ctx.stores.conversations.get(cid)
        if view is not None and view.state != ConversationState.CLOSED:
            await self._closer.close(view, Transition.ABANDON, "system")

    async def _waited_too_long(self, cid: str) -> None:
        view = await self._ctx.stores.conversations.get(cid)
        if view is None:
            return
        if view.state == ConversationState.QUEUED:
            await self._closer.close(view, Transition.NO_AGENT, "system")
        elif view.state == ConversationState.PENDING:
            await self._closer.close(view, Transition.TIMEOUT, "system")
