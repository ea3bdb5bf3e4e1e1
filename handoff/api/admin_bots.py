"""REST: bots and their settings (the list, a new bot, a new API key, a bot's settings).

A bot's own settings (``GET/PATCH /api/v1/bots/{bot_id}``) take the bot's key or an
admin's token; the rest needs an admin.
"""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import admin_from_request, agent_from_request, bot_for_builder
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.protocol.actions import BotSettings, BotSettingsPatch
from handoff.protocol.admin import ApiKeyView, BotCreated, BotCreateRequest, BotList
from handoff.protocol.bot import BusinessHours
from handoff.storage.bots import BotRecord

__all__ = ["settings_view", "setup_admin_bot_routes"]

_SETTINGS = "changing a bot's settings from the console"


def settings_view(bot: BotRecord) -> BotSettings:
    return BotSettings(
        id=bot.id,
        name=bot.name,
        assignment_mode="manual" if bot.assignment_mode == "manual" else "auto",
        wait_limit_seconds=bot.wait_limit_seconds,
        webhook_url=bot.webhook_url,
        webhook_secret_set=bot.webhook_secret is not None,
        action_timeout_seconds=bot.action_timeout_seconds,
        escalate_on_break=bot.escalate_on_break,
        fallback_message=bot.fallback_message,
        business_hours=(
            None if bot.business_hours is None else BusinessHours.model_validate(bot.business_hours)
        ),
        max_queue_length=bot.max_queue_length,
    )


async def get_bot(request: web.Request) -> web.Response:
    return json_response(settings_view(await bot_for_builder(request, to=_SETTINGS)))


async def patch_bot(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_SETTINGS)
    body = await json_body(request, BotSettingsPatch)
    updated = await request.app[SERVICE].update_bot(bot.id, body.model_dump(exclude_unset=True))
    return json_response(settings_view(updated))


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
    app.router.add_get("/api/v1/bots/{bot_id}", get_bot)
    app.router.add_patch("/api/v1/bots/{bot_id}", patch_bot)
