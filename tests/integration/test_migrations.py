"""The Alembic migrations, on SQLite and on PostgreSQL (a fresh database per test).

Upgrade from empty to head gives the models' schema; a database at the previous
revision, with a real conversation in it, upgrades to head keeping every row; one
step down from head gives exactly the schema the previous revision builds from empty,
and up again gives the models' schema; and each step down, all the way to empty, undoes
its step up exactly. Head and previous come from Alembic's script
directory, so these tests follow every new migration without edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from handoff.storage.db import make_engine
from handoff.storage.migrate import alembic_config, downgrade, upgrade
from handoff.storage.tables import metadata
from tests.conftest import make_settings, start_server, stop_server

SCRIPTS = ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_and_previous() -> tuple[str, str]:
    heads = SCRIPTS.get_heads()
    assert len(heads) == 1, f"the migrations have several heads {heads}: merge them"
    head = SCRIPTS.get_revision(heads[0])
    assert head is not None and isinstance(head.down_revision, str), head
    return head.revision, head.down_revision


HEAD, PREVIOUS = head_and_previous()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


async def on(url: str, work: Any) -> Any:
    """``work(connection)`` on a synchronous connection to ``url``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def model_diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def schema(conn: Connection) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, as the database reports them.

    Columns are sorted: SQLite's batch mode rebuilds a table with its columns in another
    order, which changes nothing a query sees."""
    inspector = sa.inspect(conn)
    found: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        found[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ),
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
        }
    return found


def rows(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (Alembic's own left out), in primary-key order."""
    reflected = sa.MetaData()
    reflected.reflect(conn)
    found: dict[str, list[dict[str, Any]]] = {}
    for table in reflected.sorted_tables:
        if table.name == "alembic_version":
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        found[table.name] = [
            dict(r._mapping) for r in conn.execute(table.select().order_by(*order))
        ]
    return found


async def test_upgrade_from_empty_gives_the_models_schema(url: str) -> None:
    await upgrade(url)
    assert await on(url, revision) == HEAD
    assert await on(url, model_diff) == []
    await upgrade(url)  # a second run is a no-op
    assert await on(url, revision) == HEAD


async def test_one_step_down_is_the_previous_revision_exactly_and_up_again_is_head(
    url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    await upgrade(url, PREVIOUS)
    built = await on(url, schema)
    await upgrade(url)
    await downgrade(url, "-1")
    assert await on(url, revision) == PREVIOUS
    assert await on(url, schema) == built
    await upgrade(url)
    assert await on(url, revision) == HEAD
    assert await on(url, model_diff) == []


async def test_every_step_down_undoes_its_step_up_exactly(url: str) -> None:
    # Walked one revision at a time from empty to head, and back to empty: each
    # downgrade leaves the schema its revision's upgrade started from.
    order = [r.revision for r in reversed(list(SCRIPTS.walk_revisions("base", HEAD)))]
    assert order[-2:] == [PREVIOUS, HEAD]
    built = [await on(url, schema)]
    for rev in order:
        await upgrade(url, rev)
        built.append(await on(url, schema))
    for rev, expected in zip(reversed([None, *order[:-1]]), reversed(built[:-1]), strict=True):
        await downgrade(url, "-1")
        assert await on(url, revision) == rev
        assert await on(url, schema) == expected, f"one step down to {rev} left another schema"


async def test_upgrade_from_the_previous_revision_keeps_a_conversation(
    url: str, tmp_path: Path
) -> None:
    # A real conversation: a bot, an agent, a handoff, messages both ways, the bot's
    # transcript, a close with an outcome; written by the server, on head.
    settings = make_settings(tmp_path, database_url=url)
    runner, server = await start_server(settings)
    try:
        bot = await server.bot()
        cid, widget, agent = await server.live_pair(bot)
        await widget.emit(
            "messages_to_client",
            {"messages": [{"sender": "user", "message": "hi bot"}], "bot_id": bot.id},
        )
        await agent.rec.wait("transcript")
        for text in ("where is my order?", "abc123"):
            ack = await widget.call(
                "from_user", {"message": text, "ConversationID": cid, "BotID": bot.id}
            )
            assert ack["ok"], ack
        ack = await agent.call("send_message", {"conversation_id": cid, "text": "on its way"})
        assert ack["ok"], ack
        ack = await agent.call(
            "close", {"conversation_id": cid, "outcome": {"status": "resolved", "note": "shipped"}}
        )
        assert ack["ok"], ack
    finally:
        await stop_server(runner, server)

    # The same database one revision back: what an operator upgrading has.
    await downgrade(url, PREVIOUS)
    assert await on(url, revision) == PREVIOUS
    before = await on(url, rows)
    assert before["messages"] and before["conversations"] and before["agents"], before.keys()

    await upgrade(url)
    after = await on(url, rows)
    for table, kept in before.items():
        columns = set(kept[0]) if kept else set()
        now = [{k: v for k, v in row.items() if k in columns} for row in after[table]]
        assert now == kept, f"{table}: rows changed by the upgrade to {HEAD}"

    # And the server reads it back: the conversation's messages, in order.
    runner, server = await start_server(settings)
    try:
        stored = await server.messages.history(cid, senders=["user", "agent"])
        assert [m.text for m in stored] == ["where is my order?", "abc123", "on its way"]
    finally:
        await stop_server(runner, server)
