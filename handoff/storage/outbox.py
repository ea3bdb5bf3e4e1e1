"""The webhook outbox: events written with the change they report, and their delivery state.

:func:`add_events` runs inside the caller's transaction, so an event exists if and
only if its change was committed. Everything about a delivery (attempts, next
try, last answer, the lease of whoever is sending it) is in its row, so a
restart or a second process picks up exactly where the last one stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from handoff.protocol.webhooks import DeliveryStatus, WebhookEvent
from handoff.storage.db import aware, utcnow
from handoff.storage.tables import bots, webhook_outbox

__all__ = ["Claimed", "OutboxRepo", "OutboxSignal", "Row", "add_events"]

_o = webhook_outbox


class OutboxSignal:
    """Set after a commit that wrote events, so this process's sender wakes at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def notify(self) -> None:
        self.event.set()


async def add_events(conn: AsyncConnection, bot_id: str, events: Sequence[WebhookEvent]) -> int:
    """Write ``events`` in the caller's transaction if the bot has a webhook URL now.

    Returns how many were written. The URL is read in the same transaction, so an
    event is kept exactly when the bot wanted webhooks at the moment of the change.
    """
    if not events:
        return 0
    url = await conn.scalar(sa.select(bots.c.webhook_url).where(bots.c.id == bot_id))
    if not url:
        return 0
    now = utcnow()
    await conn.execute(
        _o.insert(),
        [
            {
                "event_id": e.id,
                "bot_id": bot_id,
                "conversation_id": e.conversation_id,
                "type": e.type.value,
                "body": e.body(),
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "created_at": e.created_at,
                "window_from": e.created_at,
                "next_attempt_at": now,
            }
            for e in events
        ],
    )
    return len(events)


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row as stored."""

    id: int
    event_id: str
    bot_id: str
    conversation_id: str | None
    type: str
    body: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    window_from: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this sender holds the lease of, with where and how to send it."""

    row: Row
    url: str | None
    secret: str | None


def _row(r: sa.Row[Any]) -> Row:
    m = r._mapping
    return Row(
        id=m["id"],
        event_id=m["event_id"],
        bot_id=m["bot_id"],
        conversation_id=m["conversation_id"],
        type=m["type"],
        body=m["body"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        created_at=aware(m["created_at"]),
        window_from=aware(m["window_from"]),
        next_attempt_at=aware(m["next_attempt_at"]),
        last_attempt_at=aware(m["last_attempt_at"]),
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        delivered_at=aware(m["delivered_at"]),
    )


class OutboxRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def due(self, now: datetime, *, limit: int, skip_bots: Collection[str] = ()) -> list[Row]:
        """Rows to try now: pending, due, not leased, and first of their conversation.

        A row waits while an earlier row of the same conversation is still pending
        (in flight or waiting for its retry): that is what keeps the order.
        """
        earlier = _o.alias("earlier")
        head = ~sa.exists().where(
            earlier.c.bot_id == _o.c.bot_id,
            earlier.c.conversation_id == _o.c.conversation_id,
            earlier.c.id < _o.c.id,
            earlier.c.status == DeliveryStatus.PENDING.value,
        )
        query = (
            _o.select()
            .where(
                _o.c.status == DeliveryStatus.PENDING.value,
                _o.c.next_attempt_at <= now,
                sa.or_(_o.c.lease_until.is_(None), _o.c.lease_until < now),
                sa.or_(_o.c.conversation_id.is_(None), head),
            )
            .order_by(_o.c.id)
            .limit(limit)
        )
        if skip_bots:
            query = query.where(_o.c.bot_id.not_in(list(skip_bots)))
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).all()]

    async def claim(
        self, row_id: int, owner: str, now: datetime, until: datetime
    ) -> Claimed | None:
        """Take the lease of a due row; None when another sender took it first.

        The conditional UPDATE is the whole lock: on SQLite and PostgreSQL alike
        only one of two racing senders sees its row count be 1.
        """
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _o.update()
                .where(
                    _o.c.id == row_id,
                    _o.c.status == DeliveryStatus.PENDING.value,
                    sa.or_(_o.c.lease_until.is_(None), _o.c.lease_until < now),
                )
                .values(lease_until=until, lease_owner=owner)
            )
            if result.rowcount != 1:
                return None
            found = (
                await conn.execute(
                    sa.select(_o, bots.c.webhook_url, bots.c.webhook_secret)
                    .join(bots, bots.c.id == _o.c.bot_id)
                    .where(_o.c.id == row_id)
                )
            ).one()
        m = found._mapping
        return Claimed(_row(found), m["webhook_url"], m["webhook_secret"])

    async def finish(
        self,
        row_id: int,
        owner: str,
        *,
        at: datetime,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record one attempt and let go of the lease; False if the lease was lost."""
        values: dict[str, Any] = {
            "status": status.value,
            "attempts": _o.c.attempts + 1,
            "last_attempt_at": at,
            "last_status_code": status_code,
            "last_error": error[:1000] if error else None,
            "next_attempt_at": next_attempt_at,
            "lease_until": None,
            "lease_owner": None,
        }
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = at
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _o.update().where(_o.c.id == row_id, _o.c.lease_owner == owner).values(**values)
            )
        return result.rowcount == 1

    async def release(self, row_ids: Collection[int], owner: str) -> None:
        """Give leases back unused (a sender stopping mid-attempt): due again at once."""
        if not row_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                _o.update()
                .where(_o.c.id.in_(list(row_ids)), _o.c.lease_owner == owner)
                .values(lease_until=None, lease_owner=None)
            )

    async def list(self, bot_id: str, *, status: DeliveryStatus | None, limit: int) -> list[Row]:
        """A bot's deliveries, newest first."""
        query = _o.select().where(_o.c.bot_id == bot_id).order_by(_o.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(_o.c.status == status.value)
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).all()]

    async def get(self, bot_id: str, event_id: str) -> Row | None:
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(
                    _o.select().where(_o.c.bot_id == bot_id, _o.c.event_id == event_id)
                )
            ).first()
        return _row(found) if found else None

    async def retry(self, bot_id: str, event_id: str, now: datetime) -> bool:
        """Make a failed or pending row due now with a fresh retry window."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _o.update()
                .where(
                    _o.c.bot_id == bot_id,
                    _o.c.event_id == event_id,
                    _o.c.status != DeliveryStatus.DELIVERED.value,
                )
                .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, window_from=now)
            )
        return result.rowcount == 1

    async def purge(self, before: datetime) -> int:
        """Delete delivered and failed rows created before ``before``; returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                _o.delete().where(
                    _o.c.status != DeliveryStatus.PENDING.value, _o.c.created_at < before
                )
            )
        return int(result.rowcount or 0)

    async def backlog(self) -> int:
        """Rows not delivered and not given up on."""
        async with self._engine.connect() as conn:
            value = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(_o)
                .where(_o.c.status == DeliveryStatus.PENDING.value)
            )
        return int(value or 0)
