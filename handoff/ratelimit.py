"""Rate limits: a token bucket per socket, and the sign-in throttle of failed attempts.

The sign-in throttle counts failures only, so an office of agents behind one
address signs in freely, and follows OWASP's device-cookie design so a flood of
wrong passwords cannot lock the real owner out: a device that signed in before
(it holds a known-device token) is counted on its own, never against the
account's or the address's shared counters.

With ``HANDOFF_REDIS_URL`` the sign-in counters live in Redis (``limits``' async Redis
storage on redis-py, under ``<HANDOFF_REDIS_PREFIX>limits``), so failures on one process
count on every other; while Redis cannot be reached, sign-ins are refused (``503
signin_unavailable``, fail closed) rather than let through uncounted. The per-socket token
buckets stay in their process: a socket lives on one process.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from handoff.errors import HandoffError, RateLimited

__all__ = [
    "Bucket",
    "LimitsSignInThrottle",
    "SignInAttempt",
    "SignInLimited",
    "SignInOutcome",
    "SignInRules",
    "SignInThrottle",
    "SignInUnavailable",
]

log = logging.getLogger("handoff.ratelimit")


class Bucket:
    """A token bucket: ``rate`` events a second on average, ``burst`` at once."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._tokens, self._stamp = float(burst), time.monotonic()

    def spend(self, amount: float) -> bool:
        """Take ``amount`` tokens if there are that many; False (taking none) otherwise."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True

    def take(self) -> None:
        """One event, or :class:`RateLimited`."""
        if not self.spend(1):
            raise RateLimited("too many events; slow down")


class SignInLimited(RateLimited):
    """Too many failed sign-ins for what ``field`` names; answered 429 with ``Retry-After``."""

    def __init__(self, message: str, *, field: str, retry_after: int) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class SignInUnavailable(HandoffError):
    """The shared sign-in counters (Redis) cannot be read or written: nobody signs in."""

    code = "signin_unavailable"
    status = 503
    retry_after = 5

    def __init__(self) -> None:
        super().__init__(
            "sign-in is unavailable: the failed-attempt counters (Redis) cannot be reached; "
            "try again shortly",
            field="redis",
        )


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    account: str
    """The email, normalised (an account that does not exist is counted the same way)."""
    address: str
    device: str | None = None
    """The id from a valid known-device token of this account, else None."""


@dataclass(frozen=True, slots=True)
class SignInRules:
    """How many failures each counter allows in its moving window."""

    per_account_address: limits.RateLimitItem
    per_address: limits.RateLimitItem
    per_account: limits.RateLimitItem

    @classmethod
    def parse(cls, per_account_address: str, per_address: str, per_account: str) -> SignInRules:
        """Rules from ``COUNT/PERIOD`` strings (the ``HANDOFF_LOGIN_FAILURES_*`` settings)."""
        return cls(
            limits.parse(per_account_address), limits.parse(per_address), limits.parse(per_account)
        )


class SignInOutcome:
    """What the caller learnt; unset (an error on the way) counts as neither."""

    __slots__ = ("ok",)

    def __init__(self) -> None:
        self.ok: bool | None = None


class SignInThrottle(Protocol):
    """Counts failed sign-ins; the interface a shared (Redis) implementation keeps."""

    def attempt(self, attempt: SignInAttempt) -> AbstractAsyncContextManager[SignInOutcome]:
        """Admit one attempt (or raise :class:`SignInLimited`); the caller sets ``ok``."""
        ...


@dataclass(frozen=True, slots=True)
class _Counter:
    rule: limits.RateLimitItem
    key: tuple[str, ...]
    field: str
    what: str


class LimitsSignInThrottle:
    """The sign-in throttle on the ``limits`` library's moving windows.

    ``storage`` is any of ``limits``' async storages: in memory by default (one
    process), ``limits.aio.storage.RedisStorage`` to share the counts.

    An attempt still being checked counts as a failure until it ends, so a
    burst of parallel guesses cannot slip past a counter before the first of
    them is counted.
    """

    def __init__(
        self, rules: SignInRules, storage: Storage | None = None, pool: ConnectionPool | None = None
    ) -> None:
        self._rules = rules
        self._storage = storage if storage is not None else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._pending: Counter[tuple[str, ...]] = Counter()
        self._pool = pool

    @classmethod
    def on_redis(
        cls, rules: SignInRules, url: str, *, key_prefix: str, timeout: float
    ) -> LimitsSignInThrottle:
        """Counters shared through Redis at ``url`` (``redis://``, ``rediss://``, ``unix://``).

        ``timeout``: how long one Redis command may take (a silent link does not hold a
        sign-in forever).
        """
        pool = ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        scheme, rest = url.split("://", 1)
        uri = f"async+redis+unix://{rest}" if scheme == "unix" else f"async+{scheme}://{rest}"
        storage = RedisStorage(
            uri,
            implementation="redispy",
            key_prefix=key_prefix,
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(rules, storage, pool)

    async def aclose(self) -> None:
        """Close the Redis connections, if any."""
        if self._pool is not None:
            await self._pool.disconnect()

    def _counters(self, attempt: SignInAttempt) -> list[_Counter]:
        rules, account = self._rules, attempt.account
        if attempt.device is not None:
            return [
                _Counter(
                    rules.per_account_address,
                    ("signin-device", account, attempt.device),
                    "email",
                    "for this email from this device",
                )
            ]
        return [
            _Counter(
                rules.per_account_address,
                ("signin-account-address", account, attempt.address),
                "email",
                "for this email from this address",
            ),
            _Counter(
                rules.per_address,
                ("signin-address", attempt.address),
                "address",
                "from this address",
            ),
            _Counter(
                rules.per_account,
                ("signin-account", account),
                "email",
                "for this email; a device that signed in before is not held back",
            ),
        ]

    @asynccontextmanager
    async def attempt(self, attempt: SignInAttempt) -> AsyncIterator[SignInOutcome]:
        """Admit one attempt (or raise :class:`SignInLimited`); count it by what it set."""
        counters = self._counters(attempt)
        for c in counters:  # reserved before any await, so parallel attempts see each other
            self._pending[c.key] += 1
        outcome = SignInOutcome()
        try:
            try:
                for c in counters:
                    await self._check(c)
            except StorageError as exc:
                log.error("sign-in refused: the counters cannot be read (%s)", exc.storage_error)
                raise SignInUnavailable() from exc
            yield outcome
            try:
                if outcome.ok is False:  # counted before the reservation is given back
                    for c in counters:
                        await self._limiter.hit(c.rule, *c.key)
                elif outcome.ok:
                    # The owner got in: their own slate (this address, or this device) is
                    # clean; the shared counters keep what others did.
                    await self._limiter.clear(counters[0].rule, *counters[0].key)
            except StorageError as exc:
                log.error("a sign-in could not be counted (%s)", exc.storage_error)
                if outcome.ok is False:  # an uncounted failure must not look like an answer
                    raise SignInUnavailable() from exc
        finally:
            for c in counters:
                self._pending[c.key] -= 1
                if not self._pending[c.key]:
                    del self._pending[c.key]

    async def _check(self, c: _Counter) -> None:
        stats = await self._limiter.get_window_stats(c.rule, *c.key)
        if stats.remaining - self._pending[c.key] >= 0:
            return
        if stats.remaining >= 1:  # only attempts in flight fill it: they end in moments
            retry_after = 1
        else:
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise SignInLimited(
            f"too many failed sign-ins {c.what}; try again in {retry_after} s",
            field=c.field,
            retry_after=retry_after,
        )
