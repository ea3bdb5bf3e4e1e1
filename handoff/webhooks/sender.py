"""The background sender: delivers outbox rows, signed, in order per conversation, with retries.

It wakes when this process commits an event (:class:`OutboxSignal`) and polls
every ``HANDOFF_WEBHOOK_POLL_SECONDS`` for rows other processes wrote or whose
retry is due. Each row is claimed with a lease (a conditional UPDATE), so two
senders never send one event at the same moment; a sender that dies leaves a
lease that runs out, and the row is sent again (at-least-once). Deliveries run
as their own tasks, at most ``HANDOFF_WEBHOOK_CONCURRENCY_PER_BOT`` per bot,
each bounded by ``HANDOFF_WEBHOOK_TIMEOUT_SECONDS``: a slow endpoint holds only
its own bot's slots, and nothing on the socket path ever waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp

from handoff import __version__
from handoff.config import Settings
from handoff.metrics import WEBHOOK_BACKLOG, WEBHOOK_DELIVERIES
from handoff.protocol.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryStatus,
)
from handoff.storage.health import storage_error
from handoff.storage.outbox import Claimed, OutboxRepo, OutboxSignal
from handoff.webhooks.signing import sign

__all__ = ["WebhookSender"]

log = logging.getLogger("handoff.webhooks")

_BATCH = 200
"""Rows looked at per pass; the rest wait for the next pass (a second at most)."""
_PURGE_EVERY = 600.0
"""Seconds between two purges of old delivered and failed rows."""
_LEASE_MARGIN = 30.0
"""A lease outlives the request's timeout by this, so it never runs out mid-attempt."""


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class WebhookSender:
    """Delivers the outbox. ``run_once(now)`` is one pass, for tests and their clocks."""

    def __init__(
        self,
        outbox: OutboxRepo,
        signal: OutboxSignal,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._signal = signal
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._per_bot: Counter[str] = Counter()
        self._cancelled: list[int] = []
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def outbox(self) -> OutboxRepo:
        return self._outbox

    async def start(self, *, background: bool = True) -> None:
        """Open the HTTP client and, unless told not to, start the loop."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            headers={"User-Agent": f"handoff-webhooks/{__version__}"},
        )
        if background:
            self._loop = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        """Stop: cancel attempts in flight and hand their leases back (due again at once)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._outbox.release(self._cancelled, self._owner)
        except Exception:  # the lease then runs out by itself
            log.exception("could not hand back webhook leases %s", self._cancelled)
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        """Look for due rows now (a manual retry, or a delivery that unblocked the next)."""
        self._signal.notify()

    async def run_once(self, now: float | None = None) -> int:
        """One pass: claim what is due at ``now`` and wait for those attempts; returns how many."""
        tasks = await self._dispatch(now)
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def settle(self) -> None:
        """Wait until no attempt is in flight (tests read the rows after this)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def purge(self, now: float | None = None) -> int:
        """Delete delivered and failed events older than ``HANDOFF_WEBHOOK_RETENTION_SECONDS``."""
        t = self._clock() if now is None else now
        return await self._outbox.purge(_at(t - self._settings.webhook_retention_seconds))

    async def _run(self) -> None:
        event = self._signal.event
        purged_at = 0.0
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self._settings.webhook_poll_seconds)
            event.clear()
            try:
                await self._dispatch(None)
                if self._clock() - purged_at >= _PURGE_EVERY:
                    purged_at = self._clock()
                    await self.purge()
            except Exception as exc:  # the database is down: try again on the next pass
                # Once per episode, not once a second while it lasts.
                if not failing:
                    _log_failure(exc, "webhook sender pass failed; retrying every pass")
                failing = True
            else:
                if failing:
                    log.info("webhook sender passes work again")
                failing = False

    async def _dispatch(self, now: float | None) -> list[asyncio.Task[None]]:
        t = self._clock() if now is None else now
        at = _at(t)
        limit = self._settings.webhook_concurrency_per_bot
        full = {bot for bot, n in self._per_bot.items() if n >= limit}
        rows = await self._outbox.due(at, limit=_BATCH, skip_bots=full)
        until = at + timedelta(seconds=self._settings.webhook_timeout_seconds + _LEASE_MARGIN)
        started: list[asyncio.Task[None]] = []
        for row in rows:
            if row.id in self._inflight or self._per_bot[row.bot_id] >= limit:
                continue
            claimed = await self._outbox.claim(row.id, self._owner, at, until)
            if claimed is None or row.id in self._inflight:  # another sender (or pass) has it
                continue
            self._per_bot[row.bot_id] += 1
            task = asyncio.create_task(self._deliver(claimed, now))
            self._inflight[row.id] = task
            started.append(task)
        WEBHOOK_BACKLOG.set(await self._outbox.backlog())
        return started

    async def _deliver(self, claimed: Claimed, now: float | None) -> None:
        row = claimed.row
        try:
            sent_at = self._clock() if now is None else now
            code, error = await self._attempt(claimed, sent_at)
            done_at = _at(self._clock() if now is None else now)
            await self._record(claimed, done_at, code, error)
        except asyncio.CancelledError:
            self._cancelled.append(row.id)
            raise
        except Exception as exc:  # the attempt stays leased and is tried again
            _log_failure(exc, f"webhook {row.event_id}: recording the attempt failed")
        finally:
            self._inflight.pop(row.id, None)
            self._per_bot[row.bot_id] -= 1
            if self._per_bot[row.bot_id] <= 0:
                del self._per_bot[row.bot_id]
            # The conversation's next event may be due now; a freed slot may take another.
            self._signal.notify()

    async def _attempt(self, claimed: Claimed, sent_at: float) -> tuple[int | None, str | None]:
        """One POST: (status code, error); error is None for a 2xx."""
        if not claimed.url:
            return None, "the bot has no webhook_url"
        assert self._session is not None, "start() first"
        row = claimed.row
        timestamp = str(int(sent_at))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: row.event_id,
        }
        if claimed.secret:
            headers[SIGNATURE_HEADER] = sign(claimed.secret, timestamp, row.body)
        timeout = self._settings.webhook_timeout_seconds
        try:
            async with self._session.post(
                claimed.url,
                data=row.body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    return response.status, None
                text = (await response.content.read(200)).decode(errors="replace")
                return response.status, f"HTTP {response.status}: {text}".strip()
        except TimeoutError:
            return None, f"no answer within {timeout:g} s"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def _record(
        self, claimed: Claimed, at: datetime, code: int | None, error: str | None
    ) -> None:
        row = claimed.row
        settings = self._settings
        if error is None:
            status, next_at, result = DeliveryStatus.DELIVERED, None, "delivered"
        else:
            end = row.window_from + timedelta(seconds=settings.webhook_max_age_seconds)
            if at >= end:
                status, next_at, result = DeliveryStatus.FAILED, None, "failed"
            else:
                status, result = DeliveryStatus.PENDING, "retry"
                next_at = min(at + timedelta(seconds=self._backoff(row.attempts + 1)), end)
            log.info(
                "webhook %s (%s) to bot %s: %s; %s",
                row.event_id,
                row.type,
                row.bot_id,
                error,
                f"next try {next_at.isoformat()}" if next_at else "gave up",
            )
        WEBHOOK_DELIVERIES.labels(result).inc()
        await self._outbox.finish(
            row.id,
            self._owner,
            at=at,
            status=status,
            status_code=code,
            error=error,
            next_attempt_at=next_at,
        )

    def _backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failures: doubling, capped, jittered.

        "Equal jitter": half the wait is fixed, half random, so retries of many
        events spread out but none comes later than the doubling says.
        """
        s = self._settings
        wait = min(
            s.webhook_retry_max_seconds, s.webhook_retry_base_seconds * 2.0 ** min(attempts - 1, 40)
        )
        return wait * self._rng.uniform(0.5, 1.0)


def _log_failure(exc: Exception, what: str) -> None:
    """A storage failure is expected weather (the health watcher reports it once, with
    its reason): a warning without a traceback. Anything else is a bug: the traceback."""
    unavailable = storage_error(exc)
    if unavailable is not None:
        log.warning("%s: %s", what, unavailable)
    else:
        log.exception(what)
