"""REST: a bot's teams and their members (admin role)."""

from __future__ import annotations

import re

from aiohttp import web

from handoff.api.auth import admin_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.errors import BadRequest
from handoff.protocol.admin import TEAM_PATTERN, TeamPatch, TeamRequest

__all__ = ["setup_admin_team_routes"]

_MANAGE = "managing teams"
_PATH = "/api/v1/bots/{bot_id}/teams"
_TEAM = re.compile(TEAM_PATTERN)


def _team(request: web.Request) -> str:
    team = request.match_info["team"]
    if not _TEAM.fullmatch(team):
        raise BadRequest(
            "a team name is letters, digits, spaces and _ . & + -, up to 100", field="team"
        )
    return team


async def list_teams(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    teams = request.app[SERVICE].admin_teams
    return json_response(await teams.of_bot(record, request.match_info["bot_id"]))


async def put_team(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    team = _team(request)
    body = await json_body(request, TeamRequest)
    teams = request.app[SERVICE].admin_teams
    return json_response(
        await teams.set_members(record, request.match_info["bot_id"], team, body.members)
    )


async def patch_team(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    team = _team(request)
    body = await json_body(request, TeamPatch)
    teams = request.app[SERVICE].admin_teams
    return json_response(await teams.rename(record, request.match_info["bot_id"], team, body.name))


async def delete_team(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    team = _team(request)
    await request.app[SERVICE].admin_teams.delete(record, request.match_info["bot_id"], team)
    return web.Response(status=204)


def setup_admin_team_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(_PATH, list_teams)
    r.add_put(_PATH + "/{team}", put_team)
    r.add_patch(_PATH + "/{team}", patch_team)
    r.add_delete(_PATH + "/{team}", delete_team)
