"""A bot's dialogue flow (stored per bot) and each conversation's place in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.db import aware, utcnow
from handoff.storage.tables import bot_dialogues, dialogue_sessions

__all__ = ["DialogueRepo", "SessionConflict", "SessionRecord", "StoredFlow"]


@dataclass(frozen=True, slots=True)
class StoredFlow:
    bot_id: str
    flow: dict[str, Any]
    revision: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    bot_id: str
    conversation_id: str
    node: str | None
    status: str
    entities: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    user: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    version: int = 0
    """The version read; 0 for a session not stored yet."""


class SessionConflict(Exception):
    """Another turn saved this session since it was read."""


class DialogueRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # flows ---------------------------------------------------------------------------------
    async def flow(self, bot_id: str) -> StoredFlow | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(bot_dialogues.select().where(bot_dialogues.c.bot_id == bot_id))
            ).first()
        if row is None:
            return None
        return StoredFlow(row.bot_id, dict(row.flow), row.revision, aware(row.updated_at))

    async def revision(self, bot_id: str) -> int | None:
        """The stored flow's revision alone (cheap: a cache checks it on every turn)."""
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                sa.select(bot_dialogues.c.revision).where(bot_dialogues.c.bot_id == bot_id)
            )
        return None if value is None else int(value)

    async def save_flow(self, bot_id: str, flow: dict[str, Any]) -> StoredFlow:
        """Store the (validated) flow as the bot's, one revision up."""
        now = utcnow()
        async with self._engine.begin() as conn:
            current = await conn.scalar(
                sa.select(bot_dialogues.c.revision).where(bot_dialogues.c.bot_id == bot_id)
            )
            revision = int(current or 0) + 1
            if current is None:
                await conn.execute(
                    bot_dialogues.insert().values(
                        bot_id=bot_id, flow=flow, revision=revision, updated_at=now
                    )
                )
            else:
                await conn.execute(
                    bot_dialogues.update()
                    .where(bot_dialogues.c.bot_id == bot_id)
                    .values(flow=flow, revision=revision, updated_at=now)
                )
        return StoredFlow(bot_id, flow, revision, now)

    # sessions ------------------------------------------------------------------------------
    async def session(self, bot_id: str, conversation_id: str) -> SessionRecord | None:
        t = dialogue_sessions
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    t.select().where(t.c.bot_id == bot_id, t.c.conversation_id == conversation_id)
                )
            ).first()
        if row is None:
            return None
        return SessionRecord(
            bot_id=row.bot_id,
            conversation_id=row.conversation_id,
            node=row.node,
            status=row.status,
            entities=dict(row.entities),
            variables=dict(row.variables),
            user=dict(row.user),
            retries=row.retries,
            version=row.version,
        )

    async def save_session(self, record: SessionRecord) -> int:
        """Store ``record`` if nobody saved since it was read (its ``version``); the new version.

        Raises :class:`SessionConflict` otherwise.
        """
        t = dialogue_sessions
        values = {
            "node": record.node,
            "status": record.status,
            "entities": record.entities,
            "variables": record.variables,
            "user": record.user,
            "retries": record.retries,
            "version": record.version + 1,
            "updated_at": utcnow(),
        }
        async with self._engine.begin() as conn:
            if record.version == 0:
                try:
                    await conn.execute(
                        t.insert().values(
                            bot_id=record.bot_id, conversation_id=record.conversation_id, **values
                        )
                    )
                except IntegrityError:
                    raise SessionConflict(record.conversation_id) from None
            else:
                done = await conn.execute(
                    t.update()
                    .where(
                        t.c.bot_id == record.bot_id,
                        t.c.conversation_id == record.conversation_id,
                        t.c.version == record.version,
                    )
                    .values(**values)
                )
                if done.rowcount != 1:
                    raise SessionConflict(record.conversation_id)
        return record.version + 1
