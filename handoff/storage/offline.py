"""Messages left when nobody could take the conversation (follow-ups for agents)."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.protocol.offline import OfflineMessageView
from handoff.protocol.webhooks import EventType, MessageLeftData, new_event
from handoff.storage.db import aware, utcnow
from handoff.storage.outbox import OutboxSignal, add_events
from handoff.storage.tables import offline_messages

__all__ = ["OfflineMessageRepo"]

_t = offline_messages


def _view(r: sa.Row[Any]) -> OfflineMessageView:
    m = r._mapping
    return OfflineMessageView(
        id=m["id"],
        bot_id=m["bot_id"],
        conversation_id=m["conversation_id"],
        user=m["user"] or {},
        contact=m["contact"],
        message=m["message"],
        created_at=aware(m["created_at"]),
        handled_at=aware(m["handled_at"]),
        handled_by=m["handled_by"],
    )


class OfflineMessageRepo:
    def __init__(self, engine: AsyncEngine, *, outbox: OutboxSignal | None = None) -> None:
        self._engine = engine
        self._outbox = outbox

    async def leave(
        self,
        bot_id: str,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        contact: str,
        message: str,
    ) -> OfflineMessageView:
        """Store the message and its ``message.left`` event in one transaction."""
        now = utcnow()
        message_id = "msg_" + secrets.token_urlsafe(12)
        event = new_event(
            EventType.MESSAGE_LEFT,
            bot_id,
            conversation_id,
            MessageLeftData(message_id=message_id, user=user, contact=contact, message=message),
            now,
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                _t.insert().values(
                    id=message_id,
                    bot_id=bot_id,
                    conversation_id=conversation_id,
                    user=user,
                    contact=contact,
                    message=message,
                    created_at=now,
                )
            )
            written = await add_events(conn, bot_id, [event])
            row = (await conn.execute(_t.select().where(_t.c.id == message_id))).one()
        if written and self._outbox is not None:
            self._outbox.notify()
        return _view(row)

    async def latest(self, bot_ids: Collection[str], *, limit: int) -> list[OfflineMessageView]:
        """The newest messages left for these bots that nobody handled yet, newest first."""
        if not bot_ids:
            return []
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    _t.select()
                    .where(_t.c.bot_id.in_(list(bot_ids)), _t.c.handled_at.is_(None))
                    .order_by(_t.c.created_at.desc(), _t.c.id.desc())
                    .limit(limit)
                )
            ).all()
        return [_view(r) for r in rows]

    async def mark_handled(
        self, bot_id: str, message_id: str, agent_id: str
    ) -> tuple[OfflineMessageView, bool] | None:
        """Mark the bot's message handled by the agent, unless it is already.

        Returns the message and whether this call marked it (the first mark stays);
        None when the bot has no such message.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _t.update()
                .where(_t.c.id == message_id, _t.c.bot_id == bot_id, _t.c.handled_at.is_(None))
                .values(handled_at=utcnow(), handled_by=agent_id)
            )
            row = (
                await conn.execute(_t.select().where(_t.c.id == message_id, _t.c.bot_id == bot_id))
            ).first()
        if row is None:
            return None
        return _view(row), bool(result.rowcount)
