"""The async engine, tuned per backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from handoff.storage.health import failure_reason, watch

__all__ = ["aware", "checkpoint", "make_engine", "upsert", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every time we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def make_engine(url: str) -> AsyncEngine:
    """An engine for ``url``, watched by :mod:`handoff.storage.health`.

    SQLite gets WAL and a busy timeout so readers never block writers.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode is durable against process crashes, which is the
            # promise we make; fsync per commit would cost ~10x under load.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Checkpoints copy the WAL back and fsync; run inside a commit they stall
            # the message writer for milliseconds. ``checkpoint`` runs them instead,
            # from a connection of their own, off the path of any message.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    watch(engine)
    return engine


async def checkpoint(engine: AsyncEngine) -> None:
    """Move SQLite's write-ahead log into the database without blocking writers.

    A storage failure here is counted by the engine's health (and logged once per
    episode), not raised every second.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        async with engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
    except Exception as exc:
        if failure_reason(exc) is None:
            raise


async def upsert(
    conn: AsyncConnection, table: sa.Table, keys: dict[str, Any], values: dict[str, Any]
) -> None:
    """Update the row named by ``keys`` or insert it: portable across SQLite and PostgreSQL."""
    where = [table.c[name] == value for name, value in keys.items()]
    updated = await conn.execute(table.update().where(*where).values(**values))
    if updated.rowcount == 0:
        await conn.execute(table.insert().values(**keys, **values))
