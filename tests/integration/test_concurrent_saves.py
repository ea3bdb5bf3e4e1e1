"""Saves of one action racing each other through the REST API: 200 or 409, never 500.

A save reads the action's latest version and takes the next number with an
update conditional on what it read, so two saves that read the same number
cannot both take it: the loser must get a 409 ``saved_concurrently`` and store
nothing, on the first save (creating the action) as on any later one.
"""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from handoff.app import ENGINE
from tests.conftest import TIMEOUT, Bot, Server
from tests.integration.test_actions import call


def _code(tag: str) -> str:
    return f"def main(event, context):\n    return {{'tag': {tag!r}}}\n"


def _check_answer(status: int, body: Any) -> int | None:
    """The version a save took, or ``None`` for the 409 of a lost race; anything else fails."""
    if status == 200:
        assert body["ok"] is True and body["errors"] == [], body
        assert isinstance(body["version"], int) and body["version"] >= 1, body
        return int(body["version"])
    assert status == 409, (status, body)
    error = body["error"]
    assert set(error) <= {"code", "message", "field"}, body
    assert error["code"] == "saved_concurrently", body
    assert "save again" in error["message"], body
    return None


async def _check_stored(
    server: Server,
    bot: Bot,
    name: str,
    saved: dict[int, str],
    answers: list[tuple[tuple[int, Any], str]],
) -> None:
    """Each (answer, code sent) is a 200 or a 409, and the action holds exactly the versions
    answered 200, numbered 1..n, each with its save's code; ``saved`` starts with what was
    stored before the race."""
    for (status, body), code in answers:
        version = _check_answer(status, body)
        if version is not None:
            assert saved.setdefault(version, code) == code, (version, body)
    status, listed = await call(server, bot, "GET", f"/actions/{name}?code=1")
    assert status == 200, listed
    stored = {v["version"]: v["code"] for v in listed["versions"]}
    assert stored == saved
    assert sorted(stored) == list(range(1, len(stored) + 1))
    assert listed["latest_version"] == len(stored)


@contextmanager
def _sqlite_write_lock(server: Server) -> Iterator[None]:
    """Hold SQLite's single write lock from another connection: reads go on, writes wait."""
    path = sa.engine.make_url(server.settings.resolved_database_url()).database
    assert path is not None
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


@pytest.mark.parametrize(
    ("existing", "claim"),
    [(0, "INSERT INTO actions "), (1, "UPDATE actions ")],
    ids=["first-save", "next-version"],
)
async def test_two_saves_that_read_the_same_version_one_wins_one_gets_409(
    server: Server, existing: int, claim: str
) -> None:
    bot = await server.bot()
    saved: dict[int, str] = {}
    for n in range(1, existing + 1):
        status, body = await call(server, bot, "PUT", "/actions/race", {"code": _code(f"v{n}")})
        assert (status, body["version"]) == (200, n), body
        saved[n] = _code(f"v{n}")
    # Both saves read the action, then block on the write that claims the version
    # while the lock is held; the hook only watches them get there.
    engine = server.app[ENGINE].sync_engine
    claiming: list[str] = []
    both_read = asyncio.Event()

    def watch(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.startswith(claim):
            claiming.append(statement)
            if len(claiming) == 2:
                both_read.set()

    codes = [_code("a"), _code("b")]
    with _sqlite_write_lock(server):
        sa.event.listen(engine, "before_cursor_execute", watch)
        try:
            saves = [
                asyncio.create_task(call(server, bot, "PUT", "/actions/race", {"code": code}))
                for code in codes
            ]
            await asyncio.wait_for(both_read.wait(), TIMEOUT)
        finally:
            sa.event.remove(engine, "before_cursor_execute", watch)
    answers = await asyncio.gather(*saves)
    assert sorted(status for status, _ in answers) == [200, 409], answers
    await _check_stored(server, bot, "race", saved, list(zip(answers, codes, strict=True)))


@pytest.fixture(params=["server", "pg_server"], ids=["sqlite", "postgres"])
def any_server(request: pytest.FixtureRequest) -> Server:
    """The server on each database: they refuse a taken version in different ways."""
    server: Server = request.getfixturevalue(request.param)
    return server


async def test_many_concurrent_saves_never_fail_with_500(any_server: Server) -> None:
    server = any_server
    bot = await server.bot()
    saved: dict[str, dict[int, str]] = {}
    for round_ in range(8):
        # Four saves at once of two actions: new actions in round 0, next versions after.
        sends = [(f"race{i % 2}", _code(f"r{round_}-s{i}")) for i in range(4)]
        answers = await asyncio.gather(
            *(call(server, bot, "PUT", f"/actions/{name}", {"code": code}) for name, code in sends)
        )
        for name in ("race0", "race1"):
            mine = [(a, code) for a, (n, code) in zip(answers, sends, strict=True) if n == name]
            await _check_stored(server, bot, name, saved.setdefault(name, {}), mine)
