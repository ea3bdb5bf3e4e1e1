"""REST: agents mark a message people left ("leave a message") handled."""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_response

__all__ = ["setup_offline_routes"]


async def mark_handled(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    message = await request.app[SERVICE].offline_message_handled(
        record, request.match_info["bot_id"], request.match_info["message_id"]
    )
    return json_response(message)


def setup_offline_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/bots/{bot_id}/offline-messages/{message_id}/handled", mark_handled)
