"""Agents in storage: migration 0003 on existing data, disabled and deleted agents."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from handoff.storage.agents import AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import upgrade
from handoff.storage.tables import agent_bots
from handoff.storage.teams import TeamRepo


async def _upgrade_keeps_agents(url: str) -> None:
    await upgrade(url, "0002")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:  # rows as a 0002 server wrote them
            await conn.execute(
                sa.text(
                    "INSERT INTO bots (id, name, api_key_hash, created_at) "
                    "VALUES ('bot_1', 'Shop', 'h', CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO agents (id, email, name, password_hash, created_at) "
                    "VALUES ('agt_1', 'a@example.com', 'A', 'x', CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                agent_bots.insert().values(agent_id="agt_1", bot_id="bot_1", teams=["vip"])
            )
        await upgrade(url)
        record = await AgentRepo(engine).get("agt_1")
        assert record is not None and not record.disabled
        assert record.bots == ("bot_1",) and record.teams == {"bot_1": ["vip"]}
    finally:
        await engine.dispose()


async def test_migration_0003_keeps_agents_and_their_bots_on_sqlite(tmp_path: Path) -> None:
    # SQLite must not rebuild the agents table: with foreign keys on, that would
    # cascade into agent_bots and drop every agent's bots.
    await _upgrade_keeps_agents(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")


async def test_migration_0003_keeps_agents_and_their_bots_on_postgres(postgres_url: str) -> None:
    await _upgrade_keeps_agents(postgres_url)


async def test_disabled_and_deleted_agents(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        bot, _ = await BotRepo(engine).create("Shop")
        repo = AgentRepo(engine)
        anna = await repo.create("anna@example.com", "pw", bots=[bot.id], teams=["billing"])
        ben = await repo.create("ben@example.com", "pw", bots=[bot.id], teams=["vip"])
        disabled = await repo.set_disabled(ben.id, True)
        assert disabled is not None and disabled.disabled
        # A disabled agent's password still checks (the caller refuses them, saying why).
        found = await repo.authenticate("ben@example.com", "pw")
        assert found is not None and found.disabled
        assert await repo.delete(anna.id) and not await repo.delete(anna.id)
        assert await repo.get(anna.id) is None
        assert await repo.by_email("anna@example.com") is None
        assert await repo.authenticate("anna@example.com", "pw") is None
        assert await repo.set_disabled(anna.id, True) is None
        assert await TeamRepo(engine).names(bot.id) == {"vip"}
        many = await repo.get_many([ben.id, anna.id, *(f"agt_x{i}" for i in range(1200))])
        assert list(many) == [ben.id]
    finally:
        await engine.dispose()
