"""Bots as routing sees them: stored settings behind a small, bounded local cache.

The cache is per process on purpose: a bot's settings are read on every bind
and dispatch, change rarely, and a change made on another process is seen here
within :data:`CACHE_SECONDS`. A change made through this process is seen at once.
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache

from handoff.routing.refusals import UnknownBot
from handoff.storage.bots import BotRecord, BotRepo

__all__ = ["CACHE_SECONDS", "BotDirectory"]

CACHE_SECONDS = 10.0
CACHE_SIZE = 4096
"""Bots kept at most; the least recently used goes first."""


class BotDirectory:
    def __init__(self, repo: BotRepo) -> None:
        self._repo = repo
        self._cache: TTLCache[str, BotRecord] = TTLCache(maxsize=CACHE_SIZE, ttl=CACHE_SECONDS)

    async def get(self, bot_id: str, *, field: str = "BotID") -> BotRecord:
        """The bot's settings (cached), or :class:`UnknownBot`."""
        record = self._cache.get(bot_id)
        if record is not None:
            return record
        record = await self._repo.get(bot_id)
        if record is None:
            raise UnknownBot(bot_id, field=field)
        self._cache[bot_id] = record
        return record

    async def by_api_key(self, api_key: str) -> BotRecord | None:
        """The bot this API key belongs to, read fresh (keys are checked, not cached)."""
        return await self._repo.by_api_key(api_key)

    async def all(self) -> list[BotRecord]:
        """Every bot, by name, read fresh."""
        return await self._repo.list_all()

    async def create(self, name: str) -> tuple[BotRecord, str]:
        """A new bot and its API key (shown once)."""
        return await self._repo.create(name)

    async def rotate_key(self, bot_id: str) -> str:
        """A new API key for the bot; the old one stops working at once (keys are never
        cached). :class:`UnknownBot` when there is no such bot."""
        api_key = await self._repo.rotate_key(bot_id)
        if api_key is None:
            raise UnknownBot(bot_id, field="bot_id")
        return api_key

    async def update(self, bot_id: str, changes: dict[str, Any]) -> BotRecord:
        """Store new settings and drop the cached ones; returns the stored bot."""
        if changes:
            await self._repo.update(bot_id, **changes)
        self._cache.pop(bot_id, None)
        return await self.get(bot_id, field="bot_id")
