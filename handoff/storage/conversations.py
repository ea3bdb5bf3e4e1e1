"""Conversations and the record of every move between states."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handoff.metrics import TRANSITIONS
from handoff.protocol.common import (
    CloseReason,
    ConversationState,
    ConversationView,
    HandoffPacket,
    Outcome,
)
from handoff.protocol.webhooks import WebhookEvent
from handoff.storage.db import aware, utcnow
from handoff.storage.outbox import OutboxSignal, add_events
from handoff.storage.tables import conversation_events, conversations, messages

__all__ = ["ConversationRepo", "Move", "StaleState"]


class Move(Protocol):
    """A move the routing service has checked against its transition table."""

    @property
    def transition(self) -> str: ...
    @property
    def source(self) -> ConversationState: ...
    @property
    def target(self) -> ConversationState: ...
    @property
    def close_reason(self) -> CloseReason | None: ...


class StaleState(Exception):
    """The conversation moved on since it was read (another process or request won)."""


def _view(row: sa.Row[tuple[object, ...]]) -> ConversationView:
    m = row._mapping
    return ConversationView(
        conversation_id=m["id"],
        bot_id=m["bot_id"],
        state=m["state"],
        agent_id=m["agent_id"],
        team=m["team"],
        user=m["user"] or {},
        reason=m["reason"],
        entities=m["entities"] or {},
        close_reason=m["close_reason"],
        outcome=Outcome.model_validate(m["outcome"]) if m["outcome"] else None,
        created_at=aware(m["created_at"]),
        queued_at=aware(m["queued_at"]),
        assigned_at=aware(m["assigned_at"]),
        closed_at=aware(m["closed_at"]),
        priority=m["priority"],
        handoff_packet=HandoffPacket(
            user=m["user"] or {},
            reason=m["reason"],
            entities=m["entities"] or {},
            team=m["team"],
            agent_id=m["target_agent_id"],
            priority=m["priority"],
            transcript=m["bot_transcript"],
            error=m["handoff_error"],
        ),
        tags=m["tags"] or [],
    )


class ConversationRepo:
    def __init__(self, engine: AsyncEngine, *, outbox: OutboxSignal | None = None) -> None:
        self._engine = engine
        self._outbox = outbox

    async def create(
        self,
        conversation_id: str,
        bot_id: str,
        *,
        user: dict[str, Any],
        reason: str | None,
        entities: dict[str, Any],
        team: str | None,
        actor: str,
        **packet: Any,
    ) -> ConversationView:
        """A new pending conversation; ``packet``: the handoff packet's other columns
        (``priority``, ``target_agent_id``, ``bot_transcript``, ``handoff_error``)."""
        now = utcnow()
        async with self._engine.begin() as conn:
            await conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    bot_id=bot_id,
                    state=ConversationState.PENDING,
                    user=user,
                    reason=reason,
                    entities=entities,
                    team=team,
                    session_start_seq=0,
                    **packet,
                    created_at=now,
                    updated_at=now,
                )
            )
            await self._record(
                conn, conversation_id, None, ConversationState.PENDING, "create", actor, {}, now
            )
        view = await self.get(conversation_id)
        assert view is not None
        return view

    async def get(self, conversation_id: str) -> ConversationView | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    conversations.select().where(conversations.c.id == conversation_id)
                )
            ).first()
        return _view(row) if row else None

    async def session_start_seq(self, conversation_id: str) -> int:
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                sa.select(conversations.c.session_start_seq).where(
                    conversations.c.id == conversation_id
                )
            )
        return int(value or 0)

    async def set_tags(self, conversation_id: str, tags: list[str]) -> bool:
        """Replace the conversation's tags; False when there is no such conversation."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(tags=tags)
            )
        return bool(result.rowcount)

    async def open_conversations(self) -> list[ConversationView]:
        """Every conversation not closed, oldest first (used to rebuild in-process state)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    conversations.select()
                    .where(conversations.c.state != ConversationState.CLOSED)
                    .order_by(conversations.c.queued_at, conversations.c.created_at)
                )
            ).all()
        return [_view(r) for r in rows]

    async def transition(
        self,
        conversation_id: str,
        move: Move,
        *,
        actor: str,
        agent_id: str | None = None,
        team: str | None = None,
        outcome: Outcome | None = None,
        detail: dict[str, Any] | None = None,
        events: Sequence[WebhookEvent] = (),
        **extra: Any,
    ) -> ConversationView:
        """Carry out ``move`` if the conversation is still in ``move.source``.

        The routing service decides which moves are legal; this stores one. The
        update is conditional on the state it was read in, so two processes
        racing to move one conversation cannot both succeed. ``events`` (the
        webhooks reporting the move) go to the outbox in the same transaction.
        """
        expected, target = move.source, move.target
        # Back to pending is a reopen: a new handoff of the same conversation.
        reopen = target is ConversationState.PENDING
        now = utcnow()
        values: dict[str, Any] = {"state": target, "updated_at": now, **extra}
        if target is ConversationState.QUEUED:
            values["queued_at"] = now
            values["agent_id"] = None
        if target is ConversationState.ASSIGNED:
            values["agent_id"] = agent_id
            values["assigned_at"] = now
        if team is not None:
            values["team"] = team
        if target is ConversationState.CLOSED:
            values["closed_at"] = now
            values["close_reason"] = move.close_reason
            values["outcome"] = outcome.model_dump(mode="json") if outcome else None
        if reopen:
            values["team"] = team
            values.update(
                close_reason=None,
                outcome=None,
                closed_at=None,
                agent_id=None,
                assigned_at=None,
                queued_at=None,
                wait_seconds=None,
            )
        async with self._engine.begin() as conn:
            if reopen:
                values["session_start_seq"] = await conn.scalar(
                    sa.select(sa.func.coalesce(sa.func.max(messages.c.seq), 0)).where(
                        messages.c.conversation_id == conversation_id
                    )
                )
            result = await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id, conversations.c.state == expected)
                .values(**values)
            )
            if result.rowcount != 1:
                raise StaleState(conversation_id)
            TRANSITIONS.labels(move.transition).inc()
            record = dict(detail or {})
            if agent_id is not None:
                record["agent_id"] = agent_id
            if team is not None:
                record["team"] = team
            if outcome is not None:
                # Kept with the move: a reopen clears the row's outcome, the stats keep it.
                record["outcome"] = outcome.status.value
            await self._record(
                conn, conversation_id, expected, target, move.transition, actor, record, now
            )
            row = (
                await conn.execute(
                    conversations.select().where(conversations.c.id == conversation_id)
                )
            ).one()
            written = await add_events(conn, row._mapping["bot_id"], events)
        if written and self._outbox is not None:
            self._outbox.notify()
        return _view(row)

    async def recent_waits(
        self, bot_id: str, *, team: str | None, since: datetime, limit: int
    ) -> list[float]:
        """The waits (seconds, queued to assigned) of the bot's latest assignments since
        ``since``, newest first; of one team's conversations when ``team`` is given."""
        query = (
            sa.select(conversations.c.wait_seconds)
            .where(
                conversations.c.bot_id == bot_id,
                conversations.c.assigned_at >= since,
                conversations.c.wait_seconds.isnot(None),
            )
            .order_by(conversations.c.assigned_at.desc())
            .limit(limit)
        )
        if team is not None:
            query = query.where(conversations.c.team == team)
        async with self._engine.connect() as conn:
            return [float(v) for v in (await conn.scalars(query)).all()]

    async def ping(self) -> None:
        """One round trip to the database (raises when it cannot answer)."""
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    conversation_events.select()
                    .where(conversation_events.c.conversation_id == conversation_id)
                    .order_by(conversation_events.c.id)
                )
            ).all()
        return [
            {
                "from": r.from_state,
                "to": r.to_state,
                "transition": r.transition,
                "actor": r.actor,
                "detail": r.detail,
                "at": aware(r.at),
            }
            for r in rows
        ]

    @staticmethod
    async def _record(
        conn: AsyncConnection,
        conversation_id: str,
        from_state: ConversationState | None,
        to_state: ConversationState,
        transition: str,
        actor: str,
        detail: dict[str, Any],
        at: datetime,
    ) -> None:
        await conn.execute(
            conversation_events.insert().values(
                conversation_id=conversation_id,
                from_state=from_state,
                to_state=to_state,
                transition=transition,
                actor=actor,
                detail=detail,
                at=at,
            )
        )
