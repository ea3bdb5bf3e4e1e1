"""Telling a failing storage from a bug, with real errors from real databases."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from handoff.errors import StorageUnavailable
from handoff.storage.db import make_engine
from handoff.storage.health import StorageHealth, failure_reason, health_of, storage_error
from tests.conftest import free_port


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT UNIQUE)")
    return path


def _error(conn: sqlite3.Connection, sql: str, *args: object) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute(sql, args)
        conn.commit()
    return caught.value


def test_a_full_database_is_a_storage_failure(tmp_path: Path) -> None:
    conn = sqlite3.connect(_database(tmp_path))
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    error = _error(conn, "INSERT INTO t (body) VALUES (?)", "x" * 100_000)
    assert failure_reason(error) == "SQLITE_FULL"
    assert storage_error(error) is not None


def test_the_same_through_sqlalchemy(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{_database(tmp_path)}")

    @event.listens_for(engine, "connect")
    def _full(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(sa.exc.OperationalError) as caught, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t (body) VALUES (:b)"), {"b": "x" * 100_000})
    engine.dispose()
    assert failure_reason(caught.value) == "SQLITE_FULL"
    unavailable = storage_error(caught.value)
    assert unavailable is not None and unavailable.status == 503
    assert unavailable.retry_after is not None


def test_a_read_only_database_is_a_storage_failure(tmp_path: Path) -> None:
    path = _database(tmp_path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert failure_reason(_error(conn, "INSERT INTO t (body) VALUES ('a')")) == "SQLITE_READONLY"


def test_bugs_are_not_storage_failures(tmp_path: Path) -> None:
    conn = sqlite3.connect(_database(tmp_path))
    conn.execute("INSERT INTO t (body) VALUES ('a')")
    conn.commit()
    assert failure_reason(_error(conn, "INSERT INTO t (body) VALUES ('a')")) is None
    assert failure_reason(_error(conn, "SELECT * FROM no_such_table")) is None
    assert failure_reason(_error(conn, "SELEKT 1")) is None
    conn.execute(
        "CREATE TRIGGER no BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'disk hiccup'); END"
    )
    assert failure_reason(_error(conn, "INSERT INTO t (body) VALUES ('b')")) is None
    assert failure_reason(ValueError("nope")) is None
    assert storage_error(KeyError("x")) is None


def test_an_os_error_counts_only_when_the_database_driver_raised_it() -> None:
    assert failure_reason(ConnectionRefusedError("not from a database")) is None
    with pytest.raises(OSError) as caught:
        Path("/nonexistent/file").read_text()
    assert failure_reason(caught.value) is None


async def test_an_unreachable_postgres_is_a_storage_failure() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")
    try:
        with pytest.raises(OSError) as caught:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert failure_reason(caught.value) == "ConnectionRefusedError"


def test_an_episode_is_logged_once_and_its_end_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = sqlite3.connect(_database(tmp_path))
    conn.execute("PRAGMA max_page_count = 1")
    error = _error(conn, "INSERT INTO t (body) VALUES (?)", "x" * 10_000)
    health = StorageHealth("sqlite")
    caplog.set_level(logging.DEBUG, logger="handoff.storage")
    health.succeeded()  # nothing to end
    for _ in range(5):
        health.failed(error)
    assert health.failing and health.failures == 5 and health.reason == "SQLITE_FULL"
    assert "SQLITE_FULL" in health.describe()
    health.succeeded()
    health.succeeded()
    assert not health.failing
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["ERROR", "WARNING"], messages
    assert "database or disk is full" in messages[0][1]
    assert "after 5 failed operations" in messages[1][1]


async def test_a_watched_engine_raises_storage_unavailable_and_counts_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{_database(tmp_path)}")

    @event.listens_for(engine.sync_engine, "connect")
    def _full(dbapi_conn: Any, _record: object) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA max_page_count = 1")
        cursor.close()

    try:
        with pytest.raises(StorageUnavailable) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO t (body) VALUES (:b)"), {"b": "x" * 10_000})
        # Routing's clean-ups after a HandoffError run; the driver's error is the cause.
        assert failure_reason(caught.value) == "SQLITE_FULL"
        assert health_of(engine).failing and health_of(engine).failures == 1
        # A bug stays SQLAlchemy's own error, and is no storage failure.
        with pytest.raises(sa.exc.OperationalError):
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT * FROM no_such_table"))
        assert health_of(engine).failures == 1
    finally:
        await engine.dispose()
