"""What a commit that returned is worth, and a write-ahead log that stays bounded."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from handoff.app import ENGINE
from handoff.storage.db import checkpoint, make_engine
from tests.conftest import Server, make_settings, start_server, stop_server

MiB = 1024 * 1024
WAL_BOUND = 16 * MiB  # docs/configuration.md: "the WAL file is cut back to 16 MiB"


def _bytes(path: Path) -> int:
    return path.stat().st_size


async def _pragma(server: Server, name: str) -> object:
    async with server.app[ENGINE].connect() as conn:
        return await conn.scalar(sa.text(f"PRAGMA {name}"))


async def test_sqlite_commits_are_fsynced_in_wal_mode(server: Server) -> None:
    # FULL (2): the WAL is fsynced at every commit, so an acknowledged message
    # survives an OS crash or power loss. NORMAL (1) only survived a process crash.
    assert await _pragma(server, "journal_mode") == "wal"
    assert await _pragma(server, "synchronous") == 2


@pytest.fixture
async def roomy(tmp_path: Path) -> AsyncIterator[Server]:
    """A server whose rate limits let one socket write megabytes quickly."""
    settings = make_settings(
        tmp_path,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        widget_bytes_per_second=1 << 30,
        widget_bytes_burst=1 << 30,
    )
    runner, server = await start_server(settings)
    try:
        yield server
    finally:
        await stop_server(runner, server)


async def test_the_wal_is_cut_back_once_the_checkpoint_runs(roomy: Server) -> None:
    server = roomy
    db = server.settings.data_dir / "handoff.sqlite3"
    wal = Path(f"{db}-wal")
    bot = await server.bot()
    cid, widget, _agent = await server.live_pair(bot)
    # A reader holding an old snapshot keeps the WAL from starting over, so every
    # commit meanwhile makes the file longer: how it reached 148 MB under load.
    reader = sqlite3.connect(db)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM messages").fetchone()
        for i in range(60):
            items = [{"sender": "bot", "message": f"{i}-{j} " + "x" * 3900} for j in range(200)]
            ack = await widget.call("messages_to_client", {"messages": items, "bot_id": bot.id})
            assert ack["ok"], ack
            if _bytes(wal) > WAL_BOUND + 4 * MiB:
                break
        grown = _bytes(wal)
        assert grown > WAL_BOUND + 4 * MiB
    finally:
        reader.close()

    await checkpoint(server.app[ENGINE])  # what the housekeeping loop runs every second
    assert _bytes(wal) <= WAL_BOUND, f"{grown} -> {_bytes(wal)}"
    # Nothing was lost on the way, and later writes keep it small.
    ack = await widget.call(
        "messages_to_client", {"messages": [{"sender": "bot", "message": "last"}], "bot_id": bot.id}
    )
    assert ack["ok"], ack
    assert [m.message for m in await server.messages.transcript(cid)] == ["last"]
    await checkpoint(server.app[ENGINE])
    assert _bytes(wal) <= WAL_BOUND


async def test_postgres_that_may_lose_commits_is_reported(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    admin = make_engine(postgres_url)
    try:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        await admin.dispose()
    caplog.set_level(logging.WARNING, logger="handoff")
    runner, server = await start_server(make_settings(tmp_path, database_url=postgres_url))
    try:
        await server.bot()
        await server.bot()
    finally:
        await stop_server(runner, server)
    warnings = [
        m for m in (r.getMessage() for r in caplog.records) if "synchronous_commit=off" in m
    ]
    # Once for the migrations' engine and once for the server's, not once per connection.
    assert 1 <= len(warnings) <= 2, warnings
