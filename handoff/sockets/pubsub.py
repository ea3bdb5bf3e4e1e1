"""python-socketio's Redis manager, made to tell when it has gone deaf, and to recover.

``socketio.AsyncRedisManager`` shares rooms between processes through one Redis
pub/sub channel. Its known failure modes (python-socketio issues #1581, #826,
#281): a listener that stops for good, or stays subscribed yet stops handling
messages, or waits forever on a connection Redis (or a middlebox) dropped without
a word, each leaving a process that accepts sockets but never hears another
process's emits; and a publish that fails twice is dropped with one log line.

:class:`RedisManager` changes four things:

- :meth:`RedisManager.probe` sends a message through the channel to this very
  process and waits for it to come back: only a listener that receives and handles
  messages answers (:mod:`handoff.sockets.pubsub_health` runs it periodically). A
  listener that is merely behind (a process under more load than it can take reads
  the channel late) is not deaf: while it handles other messages, or while the event
  loop itself was held up, the probe waits longer rather than fail, since restarting
  the listener would drop what it had not read yet and every socket with it.
- :meth:`RedisManager.restart_listener` ends the listener task and starts a new
  one, which connects and subscribes afresh. ``deaf_spells`` counts the times a
  listener subscribed after a time it was not: whatever other processes emitted
  meanwhile never reached this process's sockets, which the heartbeat then lets go
  (:mod:`handoff.routing.liveness`).
- The listener has a Redis client of its own, so a publish that reconnects does
  not pull the connection from under the listener, and every client is closed
  when it is replaced (and in :meth:`RedisManager.aclose`).
- A publish has a time limit (a frozen link does not hold an emit forever), and
  one that fails twice is counted (``handoff_redis_publish_failures_total``) and
  reported to ``on_publish_failed``. Nothing is re-sent: every chat message was
  stored before it was emitted, and a client that missed one fills the gap from
  the database (``history``, or ``resume`` for widgets).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import socketio
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from handoff.metrics import REDIS_PUBLISH_FAILURES
from handoff.storage.redis_pipeline import AutoPipeline

__all__ = ["ProbeFailed", "RedisManager"]

PUBLISH_CONNECTIONS = 32
"""Connections a process publishes its emits on; more publishes at once wait for one."""

log = logging.getLogger("handoff.sockets.pubsub")

PROBE_PATIENCE = 10
"""How many probe timeouts a listener that is behind (still handling other messages) may
take to bring a probe back before it counts as failed all the same."""

_PROBE_SID = "handoff-probe"
"""The ``sid`` of a probe: a ``callback`` message no real socket has."""

if TYPE_CHECKING:

    class _Manager:
        """The part of ``socketio.AsyncRedisManager`` used here."""

        channel: str
        host_id: str
        redis_url: str
        redis_options: dict[str, Any]
        redis: Any
        pubsub: Any
        connected: bool
        server: Any
        thread: asyncio.Task[None] | None
        json: Any

        def __init__(
            self, url: str, channel: str = "socketio", redis_options: dict[str, Any] | None = None
        ) -> None: ...

        def initialize(self) -> None: ...

        async def _handle_callback(self, message: dict[str, Any]) -> None: ...

        async def _thread(self) -> None: ...

else:
    _Manager = socketio.AsyncRedisManager


class ProbeFailed(Exception):
    """The round trip did not come back; the message says what went wrong."""


class RedisManager(_Manager):
    """``AsyncRedisManager`` with a probe, a listener that can be restarted, counted failures.

    ``timeout``: how long a connect, a publish, or a probe's round trip may take.
    """

    def __init__(self, url: str, *, channel: str, timeout: float) -> None:
        super().__init__(url, channel=channel, redis_options={"socket_connect_timeout": timeout})
        self.thread = None
        self._timeout = timeout
        self._probes: dict[int, asyncio.Future[None]] = {}
        self._probe_ids = itertools.count(1)
        self._listener: Redis | None = None
        self._subscribed = asyncio.Event()
        self._generation = 0
        """Which listener is the current one: a restart makes the running one stale."""
        self._listen_failures = 0
        """Failed subscriptions in a row, over restarts: only the first is a warning."""
        self._listen_error = ""
        self._closing: set[asyncio.Task[None]] = set()
        self.on_publish_failed: Callable[[str], None] = lambda reason: None
        """Told the reason of every publish that failed twice (the emit is lost to other
        processes)."""
        self._publisher: AutoPipeline | None = None
        self._heard = False
        """Whether a listener ever subscribed."""
        self.received = 0
        """Messages the listeners received from the channel, in all (progress)."""
        self.deaf_spells = 0
        """Times a listener subscribed after a time it was not (a failure, a restart, or a
        start while Redis was down): what other processes emitted meanwhile did not reach
        this process's sockets."""

    # -- clients --------------------------------------------------------------------------

    def _client(self, **options: Any) -> Redis:
        # A blocking pool: the default one refuses the 101st concurrent publish at once
        # (MaxConnectionsError), which python-socketio answers by building a new client.
        pool = BlockingConnectionPool.from_url(
            self.redis_url,
            max_connections=PUBLISH_CONNECTIONS,
            timeout=self._timeout,
            **{**self.redis_options, **options},
        )
        return Redis.from_pool(pool)

    def _retire(self, client: Redis | None) -> None:
        if client is None:
            return
        task = asyncio.ensure_future(client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _redis_connect(self) -> None:
        # The publishing client only (the library's makes the listener's pub/sub here
        # too). No retries of its own: _publish tries twice, each within the timeout.
        old, self.redis = (
            self.redis,
            self._client(socket_timeout=self._timeout, retry=Retry(NoBackoff(), 0)),
        )
        # Publishes issued at once (a busy process's emits) go as one pipeline.
        self._publisher = AutoPipeline(self.redis)
        self.connected = True
        self._retire(old)

    def _connected_publisher(self) -> AutoPipeline:
        if not self.connected or self._publisher is None:
            self._redis_connect()
        assert self._publisher is not None  # made by _redis_connect
        return self._publisher

    async def _send(self, data: object) -> int:
        publisher = self._connected_publisher()
        try:
            return int(await publisher.execute("PUBLISH", self.channel, self.json.dumps(data)))
        except Exception:
            # The next publish connects anew; of many that failed together on this
            # client (one pipeline), only those not retried on a new one yet say so.
            if publisher is self._publisher:
                self.connected = False
            raise

    async def _publish(self, data: object) -> int | None:
        reason = ""
        for _ in range(2):
            try:
                return await self._send(data)
            except Exception as exc:  # whatever the client raises: the emit is not delivered
                reason = f"{type(exc).__name__}: {exc}"
        REDIS_PUBLISH_FAILURES.inc()
        self.on_publish_failed(f"cannot publish ({reason})")
        return None

    # -- the listener ---------------------------------------------------------------------

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        generation = self._generation
        retry_sleep = 1.0
        while True:
            # No read timeout: a listener waits as long as the channel is quiet. A link
            # that died without a word is what the probe finds.
            client = self._listener = self._client()
            pubsub: Any = client.pubsub(ignore_subscribe_messages=True)  # untyped in redis-py
            self.pubsub = pubsub
            try:
                await pubsub.subscribe(self.channel)
                if generation != self._generation:
                    raise asyncio.CancelledError  # restarted while it subscribed
                self._subscribed.set()
                if self._heard or self._listen_failures:
                    self.deaf_spells += 1
                self._heard = True
                if self._listen_failures:
                    log.info(
                        "subscribed to %r again after %d failure(s)",
                        self.channel,
                        self._listen_failures,
                    )
                retry_sleep, self._listen_failures = 1.0, 0
                async for message in pubsub.listen():
                    self.received += 1
                    yield message
                reason = "the subscription ended"
            except Exception as exc:  # a listener must outlive whatever Redis does
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                if generation == self._generation:  # a stale one, closed late, leaves it be
                    self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            if generation != self._generation:
                # Restarted meanwhile: this listener ends as if cancelled (python-socketio's
                # task loop stops on that), whatever became of the cancellation on the way.
                raise asyncio.CancelledError
            self._listen_failures += 1
            self._listen_error = reason
            (log.warning if self._listen_failures == 1 else log.debug)(
                "cannot receive from Redis (%s); subscribing again in %.0f s", reason, retry_sleep
            )
            await asyncio.sleep(retry_sleep)
            retry_sleep = min(retry_sleep * 2, 30.0)

    def start(self) -> None:
        """Start the listener now (python-socketio would at the first connection)."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()

    async def restart_listener(self) -> None:
        """End the listener task and start a new one, which connects and subscribes anew.

        Returns once it subscribed, or after the timeout (it goes on trying).
        """
        await self._stop_listener()
        self.thread = self.server.start_background_task(self._thread)
        await self.subscribed(self._timeout)

    @property
    def hearing(self) -> bool:
        """Whether a listener is subscribed to the channel now."""
        return self._subscribed.is_set()

    async def subscribed(self, within: float) -> bool:
        """Whether the listener is subscribed, waiting for it up to ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._subscribed.wait()
        return self.hearing

    async def _stop_listener(self) -> None:
        task, self.thread = self.thread, None
        listener, self._listener = self._listener, None
        self._generation += 1
        self._subscribed.clear()
        if listener is not None:
            # Closing its connection ends a read that a cancellation alone may not (seen when
            # Redis closed the connection at that moment: redis-py took the close, not the
            # cancellation); the listener then finds it is stale and ends.
            with contextlib.suppress(Exception):
                await listener.aclose()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        """Stop the listener and close every client."""
        await self._stop_listener()
        self._retire(self.redis)
        self.redis, self.connected = None, False
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # -- the probe ------------------------------------------------------------------------

    async def probe(self) -> float:
        """One round trip through the channel to this process: its seconds.

        Raises :class:`ProbeFailed` when Redis cannot be reached, nobody is subscribed,
        or the message does not come back within the timeout.
        """
        probe_id = next(self._probe_ids)
        returned = asyncio.get_running_loop().create_future()
        self._probes[probe_id] = returned
        message = {
            "method": "callback",  # the one kind a process hands back to itself
            "host_id": self.host_id,
            "sid": _PROBE_SID,
            "namespace": "/",
            "id": probe_id,
            "args": [],
        }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    receivers = await self._send(message)
                except Exception as exc:
                    raise ProbeFailed(f"cannot publish ({type(exc).__name__}: {exc})") from exc
            if not self._subscribed.is_set():
                raise ProbeFailed(
                    "this process's listener is not subscribed to the Socket.IO channel "
                    f"(last error: {self._listen_error or 'none'})"
                )
            if receivers == 0:
                raise ProbeFailed("this process is not subscribed to the Socket.IO channel")
            await self._come_back(returned)
        except TimeoutError:
            raise ProbeFailed(
                f"cannot publish within {self._timeout:g} s (a probe of the Socket.IO channel)"
            ) from None
        finally:
            self._probes.pop(probe_id, None)
        return time.perf_counter() - started

    async def _come_back(self, returned: asyncio.Future[None]) -> None:
        """Wait for a probe: one timeout, more while the listener handles other messages
        (it is behind, not deaf) or when the loop was held up past the timeout."""
        loop = asyncio.get_running_loop()
        for _ in range(PROBE_PATIENCE):
            received, due = self.received, loop.time() + self._timeout
            done, _ = await asyncio.wait({returned}, timeout=self._timeout)
            if done:
                return
            late = loop.time() - due > self._timeout / 2  # this very wait woke up late
            if self.received == received and not late:
                raise ProbeFailed(
                    f"a message through the Socket.IO channel did not come back "
                    f"within {self._timeout:g} s"
                )
            log.info(
                "the Socket.IO channel's listener is behind (a probe not back within %g s, "
                "other messages read meanwhile): waiting longer",
                self._timeout,
            )
        raise ProbeFailed(
            f"a message through the Socket.IO channel did not come back within "
            f"{self._timeout * PROBE_PATIENCE:g} s, the listener reading other messages"
        )

    async def _handle_callback(self, message: dict[str, Any]) -> None:
        if message.get("sid") != _PROBE_SID:
            await super()._handle_callback(message)
        elif message.get("host_id") == self.host_id:  # other processes' probes are theirs
            returned = self._probes.get(message.get("id"))  # type: ignore[arg-type]
            if returned is not None and not returned.done():
                returned.set_result(None)
