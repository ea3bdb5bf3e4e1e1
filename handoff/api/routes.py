"""REST handlers: agent sign-in, the bot's handoff, conversation status, health, metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from handoff.api.auth import bearer, bot_from_request
from handoff.api.keys import LOGIN_THROTTLE, SERVICE, SETTINGS, SIGNER
from handoff.api.middleware import json_body, json_response
from handoff.errors import Forbidden, StorageUnavailable, Unauthorized
from handoff.protocol.rest import (
    HandoffRequest,
    HandoffResponse,
    LoginRequest,
    LoginResponse,
    SocketInfo,
)

__all__ = ["setup_routes"]


async def login(request: web.Request) -> web.Response:
    body = await json_body(request, LoginRequest)
    # Slow password guessing down, per address and per account.
    throttle = request.app[LOGIN_THROTTLE]
    throttle.take(f"ip:{request.remote}")
    throttle.take(f"email:{body.email.strip().lower()}")
    service = request.app[SERVICE]
    record = await service.authenticate(body.email, body.password)
    if record is None:
        raise Unauthorized("wrong email or password", field="password", code="invalid_credentials")
    token = request.app[SIGNER].issue(record.id)
    return json_response(LoginResponse(token=token, agent=await service.describe_agent(record)))


async def me(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    agent_id = request.app[SIGNER].verify(bearer(request))
    record = await service.find_agent(agent_id)
    if record is None:
        raise Unauthorized("this agent no longer exists", field="Authorization")
    return json_response(await service.describe_agent(record))


async def execute_handoff(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    body = await json_body(request, HandoffRequest)
    service = request.app[SERVICE]
    view = await service.create_handoff(
        bot,
        conversation_id=body.ConversationID,
        user=body.user,
        reason=body.reason,
        entities=body.entities,
        team=body.team,
    )
    response = HandoffResponse(
        ConversationID=view.conversation_id,
        BotID=bot.id,
        state=view.state,
        socket=SocketInfo(url=request.app[SETTINGS].resolved_public_url()),
        conversation=view,
    )
    return json_response(response, status=201)


async def conversation_status(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    service = request.app[SERVICE]
    view = await service.conversation(request.match_info["conversation_id"])
    if view.bot_id != bot.id:
        raise Forbidden("this conversation belongs to another bot", field="conversation_id")
    return json_response(view)


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[SERVICE].health()
    except StorageUnavailable as exc:
        response = json_response(
            {"status": "failing", "database": "failing", "error": exc.to_wire()}, status=503
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_get("/api/v1/agents/me", me)
    app.router.add_post("/api/v1/bots/{bot_id}/handoff", execute_handoff)
    app.router.add_get("/api/v1/bots/{bot_id}/conversations/{conversation_id}", conversation_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
