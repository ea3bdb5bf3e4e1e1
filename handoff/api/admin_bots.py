"""REST: the bots as admins manage them (the list, a new bot, a new API key).

A bot's own settings (``GET/PATCH /api/v1/bots/{bot_id}``) are in :mod:`.actions`:
they take the bot's key or an admin's token.
"""

from __future__ import annotations

from aiohttp import web

from handoff.api.actions import _settings_view as settings_view
from handoff.api.auth import admin_from_request, agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.protocol.admin import ApiKeyView, BotCreated, BotCreateRequest, BotList

__all__ = ["setup_admin_bot_routes"]


async def list_bots(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    bots = await request.app[SERVICE].admin_bots.visible(record)
    return json_response(BotList(bots=[settings_view(b) for b in bots]))


async def create_bot(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to="creating a bot")
    admin = request.app[SERVICE].admin_bots
    body = await json_body(request, BotCreateRequest)
    settings = body.model_dump(exclude_unset=True)
    name = settings.pop("name")
    bot, api_key = await admin.create(record, name, settings)
    return json_response(BotCreated(bot=settings_view(bot), api_key=api_key), status=201)


async def rotate_key(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to="rotating a bot's API key")
    bot_id = request.match_info["bot_id"]
    api_key = await request.app[SERVICE].admin_bots.rotate_key(record, bot_id)
    return json_response(ApiKeyView(bot_id=bot_id, api_key=api_key))


def setup_admin_bot_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/bots", list_bots)
    app.router.add_post("/api/v1/bots", create_bot)
    app.router.add_post("/api/v1/bots/{bot_id}/api-key", rotate_key)
