"""A bot's teams: the names its agents carry per bot (``agent_bots.teams``).

A team has no row of its own: it exists while an agent of the bot is in it, so
renaming or emptying one is an update of its members' links, in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.storage.tables import agent_bots, agents

__all__ = ["TeamRepo"]


class TeamRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def names(self, bot_id: str) -> set[str]:
        """Every team name an agent (not deleted) of the bot belongs to."""
        return set(await self.members(bot_id))

    async def members(self, bot_id: str) -> dict[str, list[str]]:
        """The bot's teams: name → the ids of the agents (not deleted) in it."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(agent_bots.c.agent_id, agent_bots.c.teams)
                    .join(agents, agents.c.id == agent_bots.c.agent_id)
                    .where(agent_bots.c.bot_id == bot_id, agents.c.deleted_at.is_(None))
                    .order_by(agent_bots.c.agent_id)
                )
            ).all()
        teams: dict[str, list[str]] = {}
        for row in rows:
            for team in row.teams or []:
                teams.setdefault(team, []).append(row.agent_id)
        return teams

    async def set(
        self,
        bot_id: str,
        team: str,
        members: Collection[str] | None,
        *,
        new_name: str | None = None,
    ) -> None:
        """Set who is in the bot's ``team`` (and rename it), in one transaction.

        ``members``: the agents in it afterwards (those who do not serve the bot are
        ignored; the caller checks them); None keeps its members. ``new_name``: the
        team's name afterwards. An empty team no longer exists: teams are the names
        their members carry per bot.
        """
        target = new_name or team
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(agent_bots.c.agent_id, agent_bots.c.teams).where(
                        agent_bots.c.bot_id == bot_id
                    )
                )
            ).all()
            for row in rows:
                before = list(row.teams or [])
                after = [t for t in before if t not in (team, target)]
                keep = (team in before) if members is None else (row.agent_id in members)
                if keep:
                    after.append(target)
                if after != before:
                    await conn.execute(
                        agent_bots.update()
                        .where(agent_bots.c.bot_id == bot_id, agent_bots.c.agent_id == row.agent_id)
                        .values(teams=after)
                    )
