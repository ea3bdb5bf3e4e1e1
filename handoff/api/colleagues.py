"""REST: the agents of a bot, for a console's transfer dialog."""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_response

__all__ = ["setup_colleague_routes"]


async def list_agents(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    colleagues = await request.app[SERVICE].colleagues(record, request.match_info["bot_id"])
    return json_response(colleagues)


def setup_colleague_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/bots/{bot_id}/agents", list_agents)
