"""Who is calling: a bot by its API key, an agent by their token."""

from __future__ import annotations

from aiohttp import web

from handoff.api.keys import SERVICE, SIGNER
from handoff.errors import Forbidden, Unauthorized
from handoff.routing.roles import Role, require_role
from handoff.storage.agents import AgentRecord
from handoff.storage.bots import BOT_KEY_PREFIX, BotRecord

__all__ = [
    "admin_from_request",
    "agent_from_request",
    "bearer",
    "bot_for_builder",
    "bot_from_request",
]


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("send 'Authorization: Bearer <key>'", field="Authorization")
    return value.strip()


async def bot_from_request(request: web.Request) -> BotRecord:
    """The bot named in the path, authenticated by its API key."""
    service = request.app[SERVICE]
    bot = await service.bot_for_key(bearer(request))
    if bot is None:
        raise Unauthorized("the API key is not valid", field="Authorization")
    if bot.id != request.match_info["bot_id"]:
        raise Forbidden("this API key belongs to another bot", field="bot_id")
    return bot


async def agent_from_request(request: web.Request) -> AgentRecord:
    """The signed-in agent, by their token, read fresh: deleted or disabled ones are refused."""
    grant = request.app[SIGNER].grant(bearer(request))
    return await request.app[SERVICE].signed_in_agent(grant, field="Authorization")


async def admin_from_request(request: web.Request, *, to: str) -> AgentRecord:
    """The signed-in agent, who must be an admin (checked before the body is read, so a
    refusal says what is missing rather than what is malformed)."""
    record = await agent_from_request(request)
    require_role(record, Role.ADMIN, to=to)
    return record


async def bot_for_builder(request: web.Request, *, to: str) -> BotRecord:
    """The bot named in the path, called by its own API key or by a signed-in admin.

    The console's Actions Dashboard and admin pages use an agent token; a bot's
    own tooling uses its key. ``to`` names the attempt in a refusal.
    """
    token = bearer(request)
    if token.startswith(BOT_KEY_PREFIX):
        return await bot_from_request(request)
    record = await agent_from_request(request)
    require_role(record, Role.ADMIN, to=to)
    return await request.app[SERVICE].bot(request.match_info["bot_id"], field="bot_id")
