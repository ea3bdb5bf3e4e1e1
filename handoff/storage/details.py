"""Bot state saved by custom actions: ``user_details`` (per user) and ``conversation_details``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import aware, upsert, utcnow
from handoff.storage.tables import conversation_details, user_details

__all__ = ["DetailsRepo"]


class DetailsRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def user(self, user_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(user_details.select().where(user_details.c.user_id == user_id))
            ).first()
        return dict(row.data) if row else None

    async def save_user(self, user_id: str, data: dict[str, str]) -> None:
        async with self._engine.begin() as conn:
            await upsert(
                conn, user_details, {"user_id": user_id}, {"data": data, "updated_at": utcnow()}
            )

    async def conversation(self, key: str, *, now: datetime | None = None) -> dict[str, Any]:
        """What is kept for this conversation; nothing once it has expired."""
        now = now or utcnow()
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    conversation_details.select().where(
                        conversation_details.c.conversation_key == key
                    )
                )
            ).first()
        if row is None or aware(row.expires_at) <= now:
            return {}
        return dict(row.data)

    async def save_conversation(self, key: str, data: dict[str, Any], ttl: timedelta) -> None:
        async with self._engine.begin() as conn:
            await upsert(
                conn,
                conversation_details,
                {"conversation_key": key},
                {"data": data, "expires_at": utcnow() + ttl},
            )

    async def purge_expired(self, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                conversation_details.delete().where(conversation_details.c.expires_at <= now)
            )
        return int(result.rowcount or 0)
