"""Token buckets for per-connection and per-client rate limits."""

from __future__ import annotations

import time
from collections import OrderedDict

from handoff.errors import RateLimited

__all__ = ["Bucket", "BucketMap"]


class Bucket:
    """A token bucket: ``rate`` events a second on average, ``burst`` at once."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._tokens, self._stamp = float(burst), time.monotonic()

    def take(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            raise RateLimited("too many events; slow down")
        self._tokens -= 1


class BucketMap:
    """A bucket per key (an address, an email), keeping only the most recent ``size`` keys."""

    def __init__(self, rate: float, burst: int, *, size: int = 10_000) -> None:
        self._rate, self._burst, self._size = rate, burst, size
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, key: str) -> None:
        bucket = self._buckets.pop(key, None) or Bucket(self._rate, self._burst)
        self._buckets[key] = bucket
        if len(self._buckets) > self._size:
            self._buckets.popitem(last=False)
        bucket.take()
