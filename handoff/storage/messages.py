"""Chat messages (with per-conversation sequence numbers) and bot transcripts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.protocol.common import MessageView, TranscriptItem
from handoff.storage.db import aware, utcnow
from handoff.storage.tables import messages, transcripts

__all__ = ["MessageRepo", "message_view"]


def message_view(row: sa.Row[tuple[object, ...]]) -> MessageView:
    m = row._mapping
    return MessageView(
        conversation_id=m["conversation_id"],
        seq=m["seq"],
        sender=m["sender"],
        text=m["text"],
        sent_at=aware(m["sent_at"]),
        agent_id=m["agent_id"],
        client_msg_id=m["client_msg_id"],
    )


class MessageRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def history(
        self,
        conversation_id: str,
        *,
        after_seq: int = 0,
        limit: int = 1000,
        senders: Sequence[str] | None = None,
    ) -> list[MessageView]:
        query = (
            messages.select()
            .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
            .limit(limit)
        )
        if senders is not None:
            query = query.where(messages.c.sender.in_(list(senders)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [message_view(r) for r in rows]

    async def last_seq_before(
        self, conversation_id: str, *, after_seq: int, sender: str, before: datetime
    ) -> int:
        """The highest seq above ``after_seq`` of ``sender``'s messages sent before ``before``
        (``after_seq`` when there is none)."""
        query = sa.select(sa.func.max(messages.c.seq)).where(
            messages.c.conversation_id == conversation_id,
            messages.c.seq > after_seq,
            messages.c.sender == sender,
            messages.c.sent_at < before,
        )
        async with self._engine.connect() as conn:
            value = await conn.scalar(query)
        return after_seq if value is None else int(value)

    async def by_client_id(self, conversation_id: str, client_msg_id: str) -> MessageView | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    messages.select().where(
                        messages.c.conversation_id == conversation_id,
                        messages.c.client_msg_id == client_msg_id,
                    )
                )
            ).first()
        return message_view(row) if row else None

    async def max_seq(self, conversation_id: str) -> int:
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.max(messages.c.seq), 0)).where(
                    messages.c.conversation_id == conversation_id
                )
            )
        return int(value or 0)

    async def replace_transcript(self, conversation_id: str, items: list[TranscriptItem]) -> None:
        """Store the user–bot transcript the widget sent; a later copy replaces an earlier one."""
        now = utcnow()
        async with self._engine.begin() as conn:
            await conn.execute(
                transcripts.delete().where(transcripts.c.conversation_id == conversation_id)
            )
            if items:
                await conn.execute(
                    transcripts.insert(),
                    [
                        {
                            "conversation_id": conversation_id,
                            "position": i,
                            "sender": item.sender,
                            "message": item.message,
                            "received_at": now,
                        }
                        for i, item in enumerate(items)
                    ],
                )

    async def transcript(self, conversation_id: str) -> list[TranscriptItem]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(transcripts.c.sender, transcripts.c.message)
                    .where(transcripts.c.conversation_id == conversation_id)
                    .order_by(transcripts.c.position)
                )
            ).all()
        return [TranscriptItem(sender=r.sender, message=r.message) for r in rows]
