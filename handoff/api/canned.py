"""REST: a bot's canned responses (agents read them, admins manage them)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.protocol.common import MAX_INT
from handoff.protocol.console import CannedList, CannedRequest

__all__ = ["setup_canned_routes"]

_PATH = "/api/v1/bots/{bot_id}/canned-responses"


def _canned_id(request: web.Request) -> int | None:
    """The id in the path; None for one that cannot be any (an unknown id, a 404)."""
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_INT:
        return None
    return int(raw)


async def list_canned(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    items = await request.app[SERVICE].canned.list(record, request.match_info["bot_id"])
    return json_response(CannedList(canned_responses=items))


async def create_canned(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    body = await json_body(request, CannedRequest)
    item = await request.app[SERVICE].canned.create(
        record, request.match_info["bot_id"], body.shortcut, body.text
    )
    return json_response(item, status=201)


async def update_canned(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    body = await json_body(request, CannedRequest)
    item = await request.app[SERVICE].canned.update(
        record, request.match_info["bot_id"], _canned_id(request), body.shortcut, body.text
    )
    return json_response(item)


async def delete_canned(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    await request.app[SERVICE].canned.delete(
        record, request.match_info["bot_id"], _canned_id(request)
    )
    return web.Response(status=204)


def setup_canned_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(_PATH, list_canned)
    r.add_post(_PATH, create_canned)
    r.add_put(_PATH + "/{id}", update_canned)
    r.add_delete(_PATH + "/{id}", delete_canned)
