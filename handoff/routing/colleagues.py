"""The signed-in agent as a console starts from, and the colleagues a transfer can go to."""

from __future__ import annotations

from handoff.protocol.console import AgentProfile, BotDetail, Colleague, ColleagueList
from handoff.routing.context import Context
from handoff.routing.model import AgentStatus
from handoff.routing.presence import agent_view
from handoff.routing.refusals import NotYourBot, UnknownBot
from handoff.storage.agents import AgentRecord

__all__ = ["Colleagues", "agents_with_presence"]


class Colleagues:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def profile(self, record: AgentRecord) -> AgentProfile:
        """``GET /api/v1/agents/me``: the agent, their bots and teams, the console's limits."""
        ctx = self._ctx
        details: list[BotDetail] = []
        for bot_id in record.bots:
            try:
                bot = await ctx.bots.get(bot_id, field="bot_id")
            except UnknownBot:  # deleted meanwhile: nothing to show
                continue
            details.append(
                BotDetail(
                    id=bot.id,
                    name=bot.name,
                    assignment_mode="manual" if bot.assignment_mode == "manual" else "auto",
                )
            )
        view = agent_view(record, await ctx.state.get_agent(record.id))
        return AgentProfile(
            **view.model_dump(),
            bot_details=details,
            teams={bot_id: list(teams) for bot_id, teams in record.teams.items()},
            away_after_seconds=ctx.settings.agent_away_seconds,
            max_message_bytes=ctx.settings.max_message_bytes,
        )

    async def of_bot(self, record: AgentRecord, bot_id: str) -> ColleagueList:
        """Every agent who serves the bot and may work (the caller too), with live presence.

        Status and load come from the routing state, the same that routes
        conversations: one who never connected since the server started is ``offline``.
        """
        if bot_id not in record.bots:
            raise NotYourBot(field="bot_id")
        agents = await agents_with_presence(self._ctx, bot_id)
        teams = sorted({team for agent in agents for team in agent.teams})
        return ColleagueList(agents=agents, teams=teams)


async def agents_with_presence(ctx: Context, bot_id: str) -> list[Colleague]:
    """Every agent who serves the bot and may work, with status and load from routing.

    One who has no connected socket is ``offline``, and their load is 0.
    """
    live = {p.agent_id: p for p in await ctx.state.agents_for_bot(bot_id)}
    agents: list[Colleague] = []
    for other in await ctx.stores.agents.of_bot(bot_id):
        presence = live.get(other.id)
        status = AgentStatus.OFFLINE
        if presence is not None and presence.connected:
            status = presence.status
        agents.append(
            Colleague(
                id=other.id,
                name=other.name,
                status=status.value,
                load=presence.load if presence else 0,
                capacity=presence.capacity if presence else other.capacity,
                teams=list(other.teams.get(bot_id, [])),
            )
        )
    return agents
