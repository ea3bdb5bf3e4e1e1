"""Bots and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import utcnow
from handoff.storage.tables import bots

__all__ = ["BOT_KEY_PREFIX", "BotRecord", "BotRepo", "hash_api_key"]


@dataclass(frozen=True, slots=True)
class BotRecord:
    id: str
    name: str
    assignment_mode: str
    wait_limit_seconds: float | None
    webhook_url: str | None
    action_timeout_seconds: float | None = None
    escalate_on_break: bool = False
    fallback_message: str | None = None
    business_hours: dict[str, Any] | None = None
    """As ``protocol.bot.BusinessHours`` dumps it; None: always open."""
    max_queue_length: int | None = None
    webhook_secret: str | None = None
    """Keys the webhook signature; never shown by the API (only whether it is set)."""


BOT_KEY_PREFIX = "hk_"
"""Every bot API key starts with it; agent tokens never do."""


def hash_api_key(key: str) -> str:
    # API keys are 256-bit random strings, so a fast hash is enough: there is
    # nothing to brute-force, and lookups by hash stay indexable.
    return hashlib.sha256(key.encode()).hexdigest()


def _record(row: sa.Row[tuple[object, ...]]) -> BotRecord:
    m = row._mapping
    return BotRecord(
        id=m["id"],
        name=m["name"],
        assignment_mode=m["assignment_mode"],
        wait_limit_seconds=m["wait_limit_seconds"],
        webhook_url=m["webhook_url"],
        action_timeout_seconds=m["action_timeout_seconds"],
        escalate_on_break=bool(m["escalate_on_break"]),
        fallback_message=m["fallback_message"],
        business_hours=m["business_hours"],
        max_queue_length=m["max_queue_length"],
        webhook_secret=m["webhook_secret"],
    )


class BotRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self,
        name: str,
        *,
        assignment_mode: str = "auto",
        wait_limit_seconds: float | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        bot_id: str | None = None,
    ) -> tuple[BotRecord, str]:
        """A new bot and its API key (shown once; only its hash is stored).

        ``bot_id``: a well-known id instead of a random one (the demo bot's); an id that
        is taken fails the insert (:class:`sqlalchemy.exc.IntegrityError`).
        """
        bot_id = bot_id or "bot_" + secrets.token_hex(8)
        api_key = BOT_KEY_PREFIX + secrets.token_urlsafe(32)
        async with self._engine.begin() as conn:
            await conn.execute(
                bots.insert().values(
                    id=bot_id,
                    name=name,
                    api_key_hash=hash_api_key(api_key),
                    assignment_mode=assignment_mode,
                    wait_limit_seconds=wait_limit_seconds,
                    webhook_url=webhook_url,
                    webhook_secret=webhook_secret,
                    created_at=utcnow(),
                )
            )
        record = BotRecord(
            bot_id,
            name,
            assignment_mode,
            wait_limit_seconds,
            webhook_url,
            webhook_secret=webhook_secret,
        )
        return record, api_key

    async def get(self, bot_id: str) -> BotRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(bots.select().where(bots.c.id == bot_id))).first()
        return _record(row) if row else None

    async def ids(self, limit: int = 10) -> list[str]:
        """Up to ``limit`` bot ids, oldest first."""
        query = sa.select(bots.c.id).order_by(bots.c.created_at, bots.c.id).limit(limit)
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def by_api_key(self, api_key: str) -> BotRecord | None:
        digest = hash_api_key(api_key)
        async with self._engine.connect() as conn:
            row = (await conn.execute(bots.select().where(bots.c.api_key_hash == digest))).first()
        return _record(row) if row else None

    async def list_all(self) -> list[BotRecord]:
        """Every bot, by name."""
        query = bots.select().order_by(sa.func.lower(bots.c.name), bots.c.id)
        async with self._engine.connect() as conn:
            return [_record(row) for row in (await conn.execute(query)).all()]

    async def rotate_key(self, bot_id: str) -> str | None:
        """A new API key for the bot (shown once); the old one stops working at once.

        None when there is no such bot.
        """
        api_key = BOT_KEY_PREFIX + secrets.token_urlsafe(32)
        async with self._engine.begin() as conn:
            done = await conn.execute(
                bots.update().where(bots.c.id == bot_id).values(api_key_hash=hash_api_key(api_key))
            )
        return api_key if done.rowcount else None

    async def update(self, bot_id: str, **values: object) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(bots.update().where(bots.c.id == bot_id).values(**values))
