"""The async engine, tuned per backend: durable commits, a bounded WAL, watched health."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from handoff.storage.health import failure_reason, watch

__all__ = [
    "WAL_LIMIT_BYTES",
    "aware",
    "checkpoint",
    "close_engine",
    "make_engine",
    "upsert",
    "utcnow",
]

log = logging.getLogger("handoff.storage")

WAL_LIMIT_BYTES = 16 * 1024 * 1024
"""Past this size SQLite's write-ahead log is truncated by :func:`checkpoint`."""

_BUSY_MS = 30_000
# How long a truncating checkpoint may wait for readers to leave the WAL. It holds
# the write lock meanwhile, so the message writer waits at most this long.
_TRUNCATE_WAIT_MS = 50


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

    SQLite gets WAL, durable commits (``synchronous=FULL``) and a busy timeout so
    readers never block writers; PostgreSQL is checked for settings that would
    let a commit that returned be lost.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": _BUSY_MS / 1000})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL in WAL mode fsyncs the WAL at every commit: a commit that returned
            # survives an OS crash or power loss, not only a crash of this process
            # (NORMAL's promise). The message writer's group commit pays one fsync
            # per batch, not per message.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            # Checkpoints copy the WAL back and fsync; run inside a commit they stall
            # the message writer for milliseconds. ``checkpoint`` runs them instead,
            # from a connection of their own, off the path of any message.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            # When the WAL starts over after a checkpoint, cut the file back to this.
            cursor.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            cursor.close()

    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        if engine.dialect.name == "postgresql":
            _check_durability(engine)
    watch(engine)
    return engine


async def close_engine(engine: AsyncEngine, *, wait: float = 5.0) -> None:
    """Dispose of the engine once the queries still running have given their connections back.

    At shutdown a socket event's handler may still be in a query: disposing at once
    orphans its connection (a disposed pool never closes what is returned to it later),
    and the driver's connection is then only dropped by the garbage collector. Waiting
    up to ``wait`` seconds lets those queries finish and their connections close.
    """
    pool = engine.sync_engine.pool
    checked_out = getattr(pool, "checkedout", None)
    deadline = time.monotonic() + wait
    # The pool has no awaitable "all returned"; polling its count is cheap and short.
    while callable(checked_out) and checked_out() > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await engine.dispose()


def _check_durability(engine: AsyncEngine) -> None:
    """Warn (once per engine) when PostgreSQL may lose a commit that returned."""
    warned: set[str] = set()

    @event.listens_for(engine.sync_engine, "connect")
    def _durable(dbapi_conn: Any, _record: Any) -> None:
        async def settings(conn: Any) -> tuple[str, str]:
            row = await conn.fetchrow(
                "SELECT current_setting('synchronous_commit'), current_setting('fsync')"
            )
            return str(row[0]), str(row[1])

        try:
            synchronous_commit, fsync = dbapi_conn.run_async(settings)
        except Exception as exc:  # a check, never a reason to refuse the connection
            log.debug("could not read PostgreSQL's durability settings: %r", exc)
            return
        if synchronous_commit == "off" and "synchronous_commit" not in warned:
            warned.add("synchronous_commit")
            log.warning(
                "PostgreSQL has synchronous_commit=off for this database: a commit returns "
                "before it is on disk, so a crash of PostgreSQL can lose messages the server "
                "already acknowledged. Set it to on (the default) for the server's role or "
                "database"
            )
        if fsync == "off" and "fsync" not in warned:
            warned.add("fsync")
            log.warning(
                "PostgreSQL runs with fsync=off: an OS crash can lose or corrupt committed "
                "data, acknowledged messages included"
            )


def _wal_bytes(engine: AsyncEngine) -> int:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return 0
    try:
        return os.stat(f"{database}-wal").st_size
    except FileNotFoundError:
        return 0


async def checkpoint(engine: AsyncEngine) -> None:
    """Move SQLite's write-ahead log into the database, and keep the log's file bounded.

    Every call (every second, from the housekeeping loop) runs a PASSIVE
    checkpoint, which never blocks a writer. When the WAL file is over
    :data:`WAL_LIMIT_BYTES` (readers held old snapshots, so it could not start
    over), a TRUNCATE checkpoint follows: it copies what is left, waits up to
    50 ms for readers to leave, and cuts the file to zero; if readers stay, the
    next call tries again. A storage failure here is counted by the engine's
    health (and logged once per episode), not raised every second.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        async with engine.connect() as conn:
            (await conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))).all()
            if _wal_bytes(engine) <= WAL_LIMIT_BYTES:
                return
            try:
                await conn.execute(text(f"PRAGMA busy_timeout={_TRUNCATE_WAIT_MS}"))
                (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).all()
                await conn.execute(text(f"PRAGMA busy_timeout={_BUSY_MS}"))
            except BaseException:
                # Never hand a connection with a short busy timeout back to the pool.
                await conn.invalidate()
                raise
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
