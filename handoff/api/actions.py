"""REST handlers of the custom-action API (and its env variables and logs)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel

from handoff.actions.service import check_name
from handoff.api.auth import bot_for_builder
from handoff.api.keys import ACTIONS, SERVICE, SETTINGS
from handoff.api.middleware import json_body, json_response
from handoff.errors import BadRequest, HandoffError, NotFound
from handoff.protocol.actions import (
    CODE_MAX_CHARS,
    ActionLimits,
    ActionSummary,
    ActionVersionView,
    EnvRequest,
    InvokeRequest,
    InvokeResponse,
    LogView,
    PublishRequest,
    PublishResponse,
    SaveRequest,
    SaveResponse,
    TestRequest,
)
from handoff.protocol.events import WIDGET_NAMESPACE
from handoff.runner import CodeProblem
from handoff.storage.bots import BotRecord

__all__ = ["setup_action_routes"]

_PREFIX = "/api/v1/bots/{bot_id}"
_ACTIONS = "working on a bot's custom actions from the console"


async def save_action(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    body = await json_body(request, SaveRequest)
    version, problems = await request.app[ACTIONS].save(bot, request.match_info["name"], body.code)
    return json_response(SaveResponse(ok=not problems, version=version, errors=problems))


async def get_action(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    actions = request.app[ACTIONS]
    name = check_name(request.match_info["name"])
    versions = await actions.actions.versions(bot.id, name)
    if not versions:
        raise NotFound(f"no action {name!r}", field="name", code="unknown_action")
    latest = versions[0]
    production = next((v.version for v in versions if v.production), None)
    with_code = request.query.get("code") == "1"
    return json_response(
        ActionSummary(
            name=name,
            latest_version=latest.version,
            production_version=production,
            versions=[
                ActionVersionView(
                    version=v.version,
                    errors=[CodeProblem.model_validate(e) for e in v.errors],
                    created_at=v.created_at,
                    published_at=v.published_at,
                    production=v.production,
                    code=v.code if with_code or v is latest else None,
                )
                for v in versions
            ],
        )
    )


async def list_actions(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    actions = request.app[ACTIONS]
    names = await actions.actions.names(bot.id)
    return json_response(
        {
            "actions": [
                ActionSummary(name=n, latest_version=latest, production_version=prod).model_dump(
                    mode="json", exclude={"versions"}
                )
                for n, latest, prod in names
            ],
            # The editor says these before it sends, so the builder need not guess them.
            "limits": ActionLimits(
                code_max_chars=CODE_MAX_CHARS,
                env_value_max_chars=actions.settings.env_value_max_chars,
            ).model_dump(mode="json"),
        }
    )


async def test_action(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    body = await json_body(request, TestRequest)
    done = await request.app[ACTIONS].test(
        bot, request.match_info["name"], body.input, body.version
    )
    return json_response(done.view)


async def publish_action(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    body = await json_body(request, PublishRequest)
    version = await request.app[ACTIONS].publish(bot, request.match_info["name"], body.version)
    return json_response(PublishResponse(production_version=version))


async def invoke_action(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    body = await json_body(request, InvokeRequest)
    actions = request.app[ACTIONS]
    done = await actions.invoke(
        bot,
        request.match_info["name"],
        conversation_id=body.ConversationID,
        user=body.user,
        entities=body.entities,
        node=body.node,
        event=body.event,
    )
    response = InvokeResponse(**done.view.model_dump())
    if not done.result.ok:
        response.fallback_message = actions.fallback(bot)
        if bot.escalate_on_break:
            response.escalate = True
            try:
                response.handoff = await _escalate(request, bot, body, done.view.error)
            except HandoffError as exc:
                # The action ran and was logged; the caller still gets its result
                # and fallback, with why no handoff could be made.
                response.handoff = {"error": exc.to_wire()}
    return json_response(response)


async def _escalate(
    request: web.Request, bot: BotRecord, body: InvokeRequest, error: object
) -> dict[str, object]:
    """A bot break the bot wants a human for: the same as ``execute_handoff``."""
    service = request.app[SERVICE]
    kind = getattr(error, "kind", "error")
    view = await service.create_handoff(
        bot,
        conversation_id=body.ConversationID,
        user=body.user,
        reason=f"bot break in action {request.match_info['name']!r}: {kind}",
        entities=body.entities if isinstance(body.entities, dict) else {},
        team=None,
        # The agent sees why the bot gave up (the handoff packet's error).
        error=error.model_dump(mode="json") if isinstance(error, BaseModel) else None,
    )
    return {
        "ConversationID": view.conversation_id,
        "socket": {
            "url": request.app[SETTINGS].resolved_public_url(),
            "namespace": WIDGET_NAMESPACE,
        },
        "state": view.state,
    }


def _log_filters(
    query: Mapping[str, str],
) -> tuple[bool | None, str | None, datetime | None]:
    """``?ok=true|false&stage=staging|production&since=<ISO time>``; a bad one is a 400
    naming its parameter."""
    ok: bool | None = None
    if "ok" in query:
        if query["ok"].lower() not in ("true", "false"):
            raise BadRequest("ok must be true or false", field="ok")
        ok = query["ok"].lower() == "true"
    stage = query.get("stage")
    if stage is not None and stage not in ("staging", "production"):
        raise BadRequest("stage must be staging or production", field="stage")
    since: datetime | None = None
    if "since" in query:
        try:
            since = datetime.fromisoformat(query["since"])
        except ValueError:
            raise BadRequest(
                "since must be an ISO time such as 2026-11-22T08:00:00Z", field="since"
            ) from None
        if since.tzinfo is None:
            raise BadRequest("since needs a time zone (Z or +01:00, for example)", field="since")
        since = since.astimezone(UTC)
    return ok, stage, since


async def action_logs(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    try:
        limit = min(500, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise BadRequest("limit must be a whole number", field="limit") from None
    ok, stage, since = _log_filters(request.query)
    entries = await request.app[ACTIONS].actions.logs(
        bot.id,
        check_name(request.match_info["name"]),
        limit=limit,
        ok=ok,
        stage=stage,
        since=since,
    )
    return json_response(
        {
            "logs": [
                LogView.model_validate(e, from_attributes=True).model_dump(mode="json")
                for e in entries
            ]
        }
    )


async def put_env(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    body = await json_body(request, EnvRequest)
    view = await request.app[ACTIONS].put_env(
        bot,
        request.match_info["name"],
        body.staging,
        body.production,
        keep={f for f in ("staging", "production") if f not in body.model_fields_set},
    )
    return json_response(view)


async def list_env(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    views = await request.app[ACTIONS].list_env(bot)
    return json_response({"variables": [v.model_dump(mode="json") for v in views]})


async def delete_env(request: web.Request) -> web.Response:
    bot = await bot_for_builder(request, to=_ACTIONS)
    await request.app[ACTIONS].delete_env(bot, request.match_info["name"])
    return json_response({"ok": True})


def setup_action_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(_PREFIX + "/actions", list_actions)
    r.add_put(_PREFIX + "/actions/{name}", save_action)
    r.add_get(_PREFIX + "/actions/{name}", get_action)
    r.add_post(_PREFIX + "/actions/{name}/test", test_action)
    r.add_post(_PREFIX + "/actions/{name}/publish", publish_action)
    r.add_post(_PREFIX + "/actions/{name}/invoke", invoke_action)
    r.add_get(_PREFIX + "/actions/{name}/logs", action_logs)
    r.add_get(_PREFIX + "/env", list_env)
    r.add_put(_PREFIX + "/env/{name}", put_env)
    r.add_delete(_PREFIX + "/env/{name}", delete_env)
