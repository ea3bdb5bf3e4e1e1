"""Private notes agents write on a conversation; never shown to the person or the bot."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.protocol.console import NoteAuthor, NoteView
from handoff.storage.db import aware, utcnow
from handoff.storage.tables import agents, conversation_notes

__all__ = ["NoteRepo"]

_t = conversation_notes
_SELECT = sa.select(
    _t.c.id, _t.c.conversation_id, _t.c.agent_id, _t.c.text, _t.c.created_at, agents.c.name
).select_from(_t.outerjoin(agents, agents.c.id == _t.c.agent_id))


def _view(r: sa.Row[Any, Any, Any, Any, Any, Any]) -> NoteView:
    m = r._mapping
    return NoteView(
        id=m["id"],
        conversation_id=m["conversation_id"],
        agent=NoteAuthor(id=m["agent_id"], name=m["name"] or ""),
        text=m["text"],
        created_at=aware(m["created_at"]),
    )


class NoteRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, conversation_id: str, agent_id: str, text: str) -> NoteView:
        async with self._engine.begin() as conn:
            note_id = (
                await conn.execute(
                    _t.insert()
                    .values(
                        conversation_id=conversation_id,
                        agent_id=agent_id,
                        text=text,
                        created_at=utcnow(),
                    )
                    .returning(_t.c.id)
                )
            ).scalar_one()
            row = (await conn.execute(_SELECT.where(_t.c.id == note_id))).one()
        return _view(row)

    async def of_conversation(self, conversation_id: str) -> list[NoteView]:
        """Every note of the conversation, oldest first."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    _SELECT.where(_t.c.conversation_id == conversation_id).order_by(_t.c.id)
                )
            ).all()
        return [_view(r) for r in rows]
