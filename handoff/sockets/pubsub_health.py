"""Whether this process hears the Socket.IO channel, found by a periodic round trip to itself.

Every ``HANDOFF_REDIS_PROBE_INTERVAL_SECONDS``, :meth:`PubSubHealth.run_once` sends a
message through the channel to this process (:meth:`RedisManager.probe`). When it
does not come back within ``HANDOFF_REDIS_PROBE_TIMEOUT_SECONDS`` (or Redis cannot be
reached, or a publish fails), the process is degraded: the first failure of an
episode is logged as an error, ``/healthz`` answers 503 with the reason, and the
listener is restarted (a new connection, subscribed anew) so that the process does
not stay deaf. The first round trip that comes back ends the episode, logged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from handoff.metrics import REDIS_ROUND_TRIP, REDIS_UP
from handoff.sockets.pubsub import ProbeFailed, RedisManager

__all__ = ["PubSubHealth"]

log = logging.getLogger("handoff.sockets.pubsub")


class PubSubHealth:
    """The pub/sub health of one process; ``reason`` is None while it is healthy."""

    def __init__(self, manager: RedisManager) -> None:
        self._manager = manager
        self.reason: str | None = None
        self.failures = 0
        self.round_trip_seconds: float | None = None
        self._since: float | None = None
        manager.on_publish_failed = self.failed

    @property
    def ok(self) -> bool:
        return self._since is None

    @property
    def since(self) -> datetime | None:
        return None if self._since is None else datetime.fromtimestamp(self._since, UTC)

    async def start(self, within: float) -> None:
        """Start the listener and wait (up to ``within`` seconds) for the first round trip.

        A process whose Redis is down still starts: degraded, logged once.
        """
        self._manager.start()
        await self._manager.subscribed(within)
        deadline = time.monotonic() + within
        while True:
            try:
                self.succeeded(await self._manager.probe())
                return
            except ProbeFailed as exc:
                if time.monotonic() >= deadline:
                    self.failed(str(exc))
                    return
            await asyncio.sleep(0.05)  # the listener is still subscribing

    async def run_once(self) -> None:
        """One round trip; on failure, degraded and the listener restarted."""
        try:
            round_trip = await self._manager.probe()
        except ProbeFailed as exc:
            self.failed(str(exc))
            await self._manager.restart_listener()
            return
        self.succeeded(round_trip)

    def failed(self, reason: str) -> None:
        """Record a failure (a probe's or a publish's); the first of an episode is logged."""
        self.reason = reason
        self.failures += 1
        REDIS_UP.set(0)
        if self._since is not None:
            return
        self._since = time.time()
        log.error(
            "Redis pub/sub is failing (%s): emits from other processes may not reach this "
            "one's sockets; /healthz reports it; restarting the listener",
            reason,
        )

    def succeeded(self, round_trip: float) -> None:
        self.round_trip_seconds = round_trip
        REDIS_ROUND_TRIP.set(round_trip)
        REDIS_UP.set(1)
        if self._since is None:
            return
        log.warning(
            "Redis pub/sub works again (a round trip in %.1f ms), after %d failure(s) in "
            "%.1f s (last: %s)",
            round_trip * 1000,
            self.failures,
            time.time() - self._since,
            self.reason,
        )
        self._since, self.reason, self.failures = None, None, 0

    def describe(self) -> str:
        """The reason for ``/healthz``, with since when."""
        if self._since is None:
            return "ok"
        since = datetime.fromtimestamp(self._since, UTC).isoformat(timespec="seconds")
        return f"{self.reason} (since {since}, {self.failures} failure(s))"
