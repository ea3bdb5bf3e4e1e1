"""A bot's teams: names its agents carry per bot (``agent_bots.teams``).

A team exists while it has members: setting its members creates it, an empty list
or a delete ends it, and a rename moves every member at once. No table of its own:
routing, transfers and the bot side already read teams from the agents.
"""

from __future__ import annotations

from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol.admin import MAX_TEAMS_PER_BOT, TeamList, TeamMember, TeamView
from handoff.routing.admin_agents import sync_presence
from handoff.routing.context import Context
from handoff.routing.roles import Role, require_role
from handoff.storage.agents import AgentRecord

__all__ = ["AdminTeams"]

_MANAGE = "managing teams"


class AdminTeams:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def of_bot(self, caller: AgentRecord, bot_id: str) -> TeamList:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._ctx.bots.get(bot_id, field="bot_id")
        teams = await self._ctx.stores.teams.members(bot_id)
        records = await self._ctx.stores.agents.get_many(
            {agent for members in teams.values() for agent in members}
        )
        views = [
            TeamView(
                name=name,
                members=sorted(
                    (TeamMember(id=a, name=records[a].name) for a in members if a in records),
                    key=lambda m: (m.name.casefold(), m.id),
                ),
            )
            for name, members in teams.items()
        ]
        return TeamList(bot_id=bot_id, teams=sorted(views, key=lambda t: t.name.casefold()))

    async def set_members(
        self, caller: AgentRecord, bot_id: str, team: str, members: list[str]
    ) -> TeamList:
        """Exactly ``members`` in the team afterwards; each must serve the bot."""
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._ctx.bots.get(bot_id, field="bot_id")
        records = await self._ctx.stores.agents.get_many(members)
        for index, agent_id in enumerate(members):
            record = records.get(agent_id)
            if record is None:
                raise NotFound(
                    f"unknown agent {agent_id!r}", field=f"members.{index}", code="unknown_agent"
                )
            if bot_id not in record.bots:
                raise BadRequest(
                    f"{record.name} does not serve this bot: add the bot to them first",
                    field=f"members.{index}",
                )
            if team not in record.teams.get(bot_id, []) and (
                len(record.teams.get(bot_id, [])) >= MAX_TEAMS_PER_BOT
            ):
                raise BadRequest(
                    f"{record.name} is in {MAX_TEAMS_PER_BOT} teams of this bot already",
                    field=f"members.{index}",
                )
        before = await self._ctx.stores.teams.members(bot_id)
        await self._ctx.stores.teams.set(bot_id, team, set(members))
        await self._synced(set(before.get(team, [])) | set(members))
        return await self.of_bot(caller, bot_id)

    async def rename(self, caller: AgentRecord, bot_id: str, team: str, name: str) -> TeamList:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._existing(bot_id, team)
        if name != team and name in await self._ctx.stores.teams.members(bot_id):
            raise Conflict(f"the bot has a team {name!r} already", field="name", code="team_taken")
        members = (await self._ctx.stores.teams.members(bot_id)).get(team, [])
        await self._ctx.stores.teams.set(bot_id, team, None, new_name=name)
        await self._synced(set(members))
        return await self.of_bot(caller, bot_id)

    async def delete(self, caller: AgentRecord, bot_id: str, team: str) -> None:
        require_role(caller, Role.ADMIN, to=_MANAGE)
        await self._existing(bot_id, team)
        members = (await self._ctx.stores.teams.members(bot_id)).get(team, [])
        await self._ctx.stores.teams.set(bot_id, team, ())
        await self._synced(set(members))

    async def _synced(self, agent_ids: set[str]) -> None:
        for record in (await self._ctx.stores.agents.get_many(agent_ids)).values():
            await sync_presence(self._ctx, record)

    async def _existing(self, bot_id: str, team: str) -> None:
        await self._ctx.bots.get(bot_id, field="bot_id")
        if team not in await self._ctx.stores.teams.members(bot_id):
            raise NotFound(f"the bot has no team {team!r}", field="team", code="unknown_team")
