"""Canned responses: texts an agent inserts by shortcut, per bot."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.protocol.console import CannedResponseView
from handoff.storage.db import aware, utcnow
from handoff.storage.tables import canned_responses

__all__ = ["CannedFull", "CannedRepo", "DuplicateShortcut"]

_t = canned_responses


class DuplicateShortcut(Exception):
    """The bot has a canned response with this shortcut already."""


class CannedFull(Exception):
    """The bot has as many canned responses as it may have."""


def _view(r: sa.Row[Any]) -> CannedResponseView:
    m = r._mapping
    return CannedResponseView(
        id=m["id"],
        bot_id=m["bot_id"],
        shortcut=m["shortcut"],
        text=m["text"],
        updated_at=aware(m["updated_at"]),
    )


class CannedRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(self, bot_id: str) -> list[CannedResponseView]:
        """The bot's canned responses, by shortcut."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(_t.select().where(_t.c.bot_id == bot_id).order_by(_t.c.shortcut))
            ).all()
        return [_view(r) for r in rows]

    async def create(
        self, bot_id: str, shortcut: str, text: str, *, limit: int
    ) -> CannedResponseView:
        """Store a new one; :class:`DuplicateShortcut` or :class:`CannedFull` otherwise."""
        now = utcnow()
        try:
            async with self._engine.begin() as conn:
                count = await conn.scalar(
                    sa.select(sa.func.count()).select_from(_t).where(_t.c.bot_id == bot_id)
                )
                if (count or 0) >= limit:
                    raise CannedFull(bot_id)
                new_id = (
                    await conn.execute(
                        _t.insert()
                        .values(
                            bot_id=bot_id,
                            shortcut=shortcut,
                            text=text,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(_t.c.id)
                    )
                ).scalar_one()
                row = (await conn.execute(_t.select().where(_t.c.id == new_id))).one()
        except sa.exc.IntegrityError:
            # The unique (bot_id, shortcut): also when two saves race, on any process.
            raise DuplicateShortcut(shortcut) from None
        return _view(row)

    async def update(
        self, bot_id: str, canned_id: int, shortcut: str, text: str
    ) -> CannedResponseView | None:
        """Change one of the bot's; None when it has no such id."""
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    _t.update()
                    .where(_t.c.id == canned_id, _t.c.bot_id == bot_id)
                    .values(shortcut=shortcut, text=text, updated_at=utcnow())
                )
                if not result.rowcount:
                    return None
                row = (await conn.execute(_t.select().where(_t.c.id == canned_id))).one()
        except sa.exc.IntegrityError:
            raise DuplicateShortcut(shortcut) from None
        return _view(row)

    async def delete(self, bot_id: str, canned_id: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _t.delete().where(_t.c.id == canned_id, _t.c.bot_id == bot_id)
            )
        return bool(result.rowcount)
