"""This process's heartbeat, the sockets of processes that died, and a state that was lost.

Every server process counts its own sockets in the routing state and says it is alive
every ``HANDOFF_HEARTBEAT_SECONDS``. Each beat:

- takes away the counts of processes whose heartbeat expired (three intervals without
  one): for each widget conversation or agent whose count thereby reaches 0, what a last
  socket leaving does (a widget: the lost mark and its grace period; an agent: not
  connected, and their grace period). Of several processes, one takes each dead one.
- finds the state lost (Redis restarted without its data, or failed over to a replica
  that had none): one process rebuilds it from the database, and every process closes
  its sockets at the Engine.IO level, so their clients reconnect and bind again, which
  counts them and puts presence back. A Socket.IO DISCONNECT would not do: clients take
  it as the server's wish and stay away.
- finds this process taken for dead (it stalled past its heartbeat's expiry): its counts
  are gone, so its sockets reconnect the same way.
- finds that this process could not hear the other processes' emits for a while (its
  Socket.IO listener lost Redis, or went deaf and was restarted): what they sent its
  sockets meanwhile is unknown, so they reconnect the same way, and binding serves them
  from the database what they have not had.

Sockets are let go once this process hears the others again (a socket that came back
to a deaf process would miss what they send), and once for all the reasons of a beat:
a Redis that restarted empty is a lost state and a deaf spell, not two reconnections.
"""

from __future__ import annotations

import logging

from handoff.routing.context import Context
from handoff.routing.presence import AgentPresence
from handoff.routing.queueing import Queue
from handoff.routing.recovery import recover
from handoff.routing.shared_state import WATCHES, Beat, Released
from handoff.routing.widget_session import WidgetSession

__all__ = ["SILENCE_SECONDS", "Liveness"]

log = logging.getLogger(__name__)

SILENCE_SECONDS = 45.0
"""How long a socket may have been silently gone before its process noticed: Engine.IO's
ping interval and timeout (25 s and 20 s). What was sent to a widget on a dead process
since its last heartbeat less this may not have reached it."""

BEATS_TO_EXPIRY = 3
"""A heartbeat expires after this many intervals: one late beat is not a death."""


class Liveness:
    def __init__(
        self, ctx: Context, queue: Queue, widgets: WidgetSession, presence: AgentPresence
    ) -> None:
        self._ctx = ctx
        self._queue = queue
        self._widgets = widgets
        self._presence = presence
        self._reconnect_for: str | None = None
        """Why this process's sockets must reconnect, while it waits to hear again."""

    @property
    def ttl(self) -> float:
        return BEATS_TO_EXPIRY * self._ctx.settings.heartbeat_seconds

    async def beat(self) -> Beat:
        """One heartbeat and one look for dead processes (the housekeeping loop's step)."""
        state = self._ctx.state
        beat = await state.heartbeat(self.ttl)
        if beat is Beat.LOST:
            log.error("the routing state in Redis is gone (restarted empty?): rebuilding it")
            await recover(self._ctx, self._queue)
        notifier = self._ctx.notifier
        if beat is not Beat.OK:
            self._reconnect_for = f"routing state {beat.value}"
        if notifier.missed():
            self._reconnect_for = self._reconnect_for or "emits of other processes missed"
        if self._reconnect_for is not None and notifier.hearing:
            closed = await notifier.reconnect_all()
            log.warning(
                "%s: %d sockets of this process reconnect to bind again",
                self._reconnect_for,
                closed,
            )
            self._reconnect_for = None
        for released in await state.reap():
            await self._released(released)
        return beat

    async def _released(self, released: Released) -> None:
        """A dead process held the last sockets of a widget conversation or an agent."""
        kind, key = released.kind, released.key
        try:
            if kind != WATCHES and await self._ctx.state.touch_connection(kind, key, 0):
                return  # a socket came back meanwhile (on another process)
            if kind == "widget":
                await self._ctx.state.mark_widget_lost(key, released.last_beat - SILENCE_SECONDS)
                await self._widgets.gone(key)
            elif kind == "agent":
                await self._presence.gone(key)
            elif kind != WATCHES:
                log.warning("a dead process counted unknown sockets %s:%s", kind, key)
        except Exception:
            # The grace period is not started; the next socket leaving or a rebind mends
            # it. One failure must not cost the others.
            log.exception("the dead process's %s sockets of %s were not let go", kind, key)
