"""REST: agents as admins manage them (admin role on every route)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import admin_from_request
from handoff.api.keys import RECHECK_AGENTS, SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.protocol.admin import (
    AgentCreateRequest,
    AgentList,
    AgentPatch,
    PasswordRequest,
    PasswordView,
)

__all__ = ["AGENT_ID_PATTERN", "setup_admin_agent_routes"]

_MANAGE = "managing agents"
AGENT_ID_PATTERN = r"agt_[A-Za-z0-9_-]{1,60}"
"""What an agent id looks like; ``/api/v1/agents/me`` stays the signed-in agent's alone."""
_PATH = "/api/v1/agents/{agent_id:" + AGENT_ID_PATTERN + "}"


async def list_agents(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    return json_response(AgentList(agents=await request.app[SERVICE].admin_agents.all(record)))


async def create_agent(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    body = await json_body(request, AgentCreateRequest)
    view = await request.app[SERVICE].admin_agents.create(
        record,
        email=body.email,
        password=body.password,
        name=body.name,
        role=body.role,
        capacity=body.capacity,
        bots=body.bots,
    )
    return json_response(view, status=201)


async def get_agent(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    agent_id = request.match_info["agent_id"]
    return json_response(await request.app[SERVICE].admin_agents.get(record, agent_id))


async def patch_agent(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    body = await json_body(request, AgentPatch)
    changes = body.model_dump(exclude_unset=True)
    view = await request.app[SERVICE].admin_agents.update(
        record, request.match_info["agent_id"], changes
    )
    if view.disabled:
        await request.app[RECHECK_AGENTS]()  # their sockets here end now, not at the next tick
    return json_response(view)


async def reset_password(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to="resetting a password")
    body = await json_body(request, PasswordRequest)
    agent_id = request.match_info["agent_id"]
    made = await request.app[SERVICE].admin_agents.reset_password(record, agent_id, body.password)
    return json_response(PasswordView(agent_id=agent_id, password=made))


async def delete_agent(request: web.Request) -> web.Response:
    record = await admin_from_request(request, to=_MANAGE)
    await request.app[SERVICE].admin_agents.delete(record, request.match_info["agent_id"])
    await request.app[RECHECK_AGENTS]()
    return web.Response(status=204)


def setup_admin_agent_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/agents", list_agents)
    r.add_post("/api/v1/agents", create_agent)
    r.add_get(_PATH, get_agent)
    r.add_patch(_PATH, patch_agent)
    r.add_delete(_PATH, delete_agent)
    r.add_post(_PATH + "/password", reset_password)
