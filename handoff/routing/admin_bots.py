"""Bots as admins manage them: the list, a new bot, a new API key."""

from __future__ import annotations

from typing import Any

from handoff.routing.context import Context
from handoff.routing.roles import Role, has_role, require_role
from handoff.storage.agents import AgentRecord
from handoff.storage.bots import BotRecord

__all__ = ["AdminBots"]


class AdminBots:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def visible(self, record: AgentRecord) -> list[BotRecord]:
        """Every bot for an admin; the bots they serve for anyone else."""
        bots = await self._ctx.bots.all()
        if has_role(record, Role.ADMIN):
            return bots
        return [bot for bot in bots if bot.id in record.bots]

    async def create(
        self, record: AgentRecord, name: str, settings: dict[str, Any]
    ) -> tuple[BotRecord, str]:
        """A new bot with ``settings`` (as a PATCH takes them) and its API key, shown once."""
        require_role(record, Role.ADMIN, to="creating a bot")
        bot, api_key = await self._ctx.bots.create(name)
        if settings:
            bot = await self._ctx.bots.update(bot.id, settings)
        return bot, api_key

    async def rotate_key(self, record: AgentRecord, bot_id: str) -> str:
        """A new API key for the bot (shown once); the previous one stops working at once."""
        require_role(record, Role.ADMIN, to="rotating a bot's API key")
        return await self._ctx.bots.rotate_key(bot_id)
