"""REST handlers: agent sign-in, the bot's handoff, conversation status, health, metrics."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from handoff.api.auth import agent_from_request, bot_from_request
from handoff.api.health import healthz, metrics
from handoff.api.keys import DEVICES, LOGIN_THROTTLE, SERVICE, SETTINGS, SIGNER
from handoff.api.middleware import json_body, json_response
from handoff.errors import Forbidden, TooLarge, Unauthorized
from handoff.protocol.bot import HandoffOptionsRequest
from handoff.protocol.rest import (
    MAX_PACKET_PART_BYTES,
    MAX_USER_BYTES,
    HandoffRequest,
    HandoffResponse,
    LoginRequest,
    LoginResponse,
    SocketInfo,
)
from handoff.ratelimit import SignInAttempt, SignInLimited
from handoff.routing.refusals import AgentDisabled

__all__ = ["DEVICE_COOKIE", "setup_routes"]

log = logging.getLogger("handoff.api")


DEVICE_COOKIE = "handoff_device"
"""The known-device token as a cookie, for browsers (sent back only to the sign-in path)."""


async def login(request: web.Request) -> web.Response:
    body = await json_body(request, LoginRequest)
    account = body.email.strip().lower()
    devices = request.app[DEVICES]
    device = devices.device_of(body.device_token, account) or devices.device_of(
        request.cookies.get(DEVICE_COOKIE), account
    )
    attempt = SignInAttempt(account, request.remote or "unknown", device)
    service = request.app[SERVICE]
    try:
        # Only failures count: a whole office behind one address signs in freely.
        async with request.app[LOGIN_THROTTLE].attempt(attempt) as outcome:
            record = await service.authenticate(body.email, body.password)
            outcome.ok = record is not None
    except SignInLimited as exc:
        return _limited(request, exc)
    if record is None:
        raise Unauthorized("wrong email or password", field="password", code="invalid_credentials")
    if record.disabled:
        raise AgentDisabled(field="email")
    device_token = devices.issue(account, device)
    response = json_response(
        LoginResponse(
            token=request.app[SIGNER].issue(record.id),
            agent=await service.describe_agent(record),
            device_token=device_token,
        )
    )
    response.set_cookie(
        DEVICE_COOKIE,
        device_token,
        max_age=request.app[SETTINGS].login_device_ttl_seconds,
        path="/api/v1/auth",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


def _limited(request: web.Request, exc: SignInLimited) -> web.Response:
    log.info(
        "%s %s from %s → 429 %s (%s): %s",
        request.method,
        request.path,
        request.remote,
        exc.code,
        exc.field,
        exc.message,
    )
    response = json_response({"error": exc.to_wire()}, status=429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def me(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    return json_response(await request.app[SERVICE].agent_profile(record))


def _within(value: dict[str, Any] | None, limit: int, field: str) -> None:
    """A packet part travels in every queue entry agents see: bounded in bytes."""
    if value is None:
        return
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > limit:
        raise TooLarge(
            f"{field} is {size} bytes as JSON; the limit is {limit}",
            field=field,
            code="field_too_large",
        )


async def execute_handoff(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    body = await json_body(request, HandoffRequest)
    _within(body.user, MAX_USER_BYTES, "user")
    _within(body.entities, MAX_PACKET_PART_BYTES, "entities")
    _within(body.error, MAX_PACKET_PART_BYTES, "error")
    service = request.app[SERVICE]
    view = await service.create_handoff(
        bot,
        conversation_id=body.ConversationID,
        user=body.user,
        reason=body.reason,
        entities=body.entities,
        team=body.team,
        agent_id=body.agent_id,
        priority=body.priority,
        transcript=body.transcript,
        error=body.error,
    )
    placement = await service.handoff_placement(bot, view, body.language_code)
    response = HandoffResponse(
        ConversationID=view.conversation_id,
        BotID=bot.id,
        state=view.state,
        socket=SocketInfo(url=request.app[SETTINGS].resolved_public_url()),
        conversation=view,
        queue_position=placement.queue_position,
        estimated_wait_seconds=placement.estimated_wait_seconds,
        language=placement.rendered.language,
        language_fallback=placement.rendered.language_fallback,
        messages=placement.rendered.messages,
    )
    return json_response(response, status=201)


async def handoff_options(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    body = await json_body(request, HandoffOptionsRequest)
    _within(body.user, MAX_USER_BYTES, "user")
    options = await request.app[SERVICE].handoff_options(
        bot,
        conversation_id=body.ConversationID,
        language=body.language_code,
        team=body.team,
        user=body.user,
    )
    return json_response(options)


async def conversation_status(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    service = request.app[SERVICE]
    view = await service.conversation(request.match_info["conversation_id"])
    if view.bot_id != bot.id:
        raise Forbidden("this conversation belongs to another bot", field="conversation_id")
    return json_response(view)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_get("/api/v1/agents/me", me)
    app.router.add_post("/api/v1/bots/{bot_id}/handoff", execute_handoff)
    app.router.add_post("/api/v1/bots/{bot_id}/handoff/options", handoff_options)
    app.router.add_get("/api/v1/bots/{bot_id}/conversations/{conversation_id}", conversation_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
