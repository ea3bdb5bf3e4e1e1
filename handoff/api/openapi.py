"""The OpenAPI 3.1 document of the REST API, built from the same pydantic models it serves."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from handoff import __version__
from handoff.api.admin_agents import AGENT_ID_PATTERN
from handoff.api.keys import SETTINGS
from handoff.api.middleware import json_response
from handoff.dialogues.flow import Flow
from handoff.protocol import actions as act
from handoff.protocol import admin as adm
from handoff.protocol import bot as botp
from handoff.protocol import console, oversight, rest, stats
from handoff.protocol import dialogues as dlg
from handoff.protocol.common import MAX_INT, ConversationView
from handoff.protocol.offline import LeaveMessageRequest, OfflineMessageView
from handoff.protocol.webhooks import DeliveryList, DeliveryView

__all__ = ["openapi_document", "setup_openapi"]


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class OkResponse(BaseModel):
    ok: bool


class ActionList(BaseModel):
    actions: list[act.ActionSummary]
    limits: act.ActionLimits


class LogList(BaseModel):
    logs: list[act.LogView]


class EnvList(BaseModel):
    variables: list[act.EnvVarView]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    auth: str | None
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    status: int = 200


BOT = "botKey"
AGENT = "agentToken"
B = "/api/v1/bots/{bot_id}"
C = "/api/v1/conversations/{conversation_id}"
OPS = [
    Op(
        "post",
        "/api/v1/auth/login",
        "An agent signs in",
        None,
        rest.LoginResponse,
        rest.LoginRequest,
    ),
    Op(
        "get",
        "/api/v1/agents/me",
        "The signed-in agent, their bots and teams, and the console's limits",
        AGENT,
        console.AgentProfile,
    ),
    Op(
        "post",
        B + "/handoff",
        "execute_handoff: create (or reopen) a conversation for a human",
        BOT,
        rest.HandoffResponse,
        rest.HandoffRequest,
        201,
    ),
    Op(
        "post",
        B + "/handoff/options",
        "provide_handoff_options: can a human take the conversation now, and what to show",
        BOT,
        botp.HandoffOptions,
        botp.HandoffOptionsRequest,
    ),
    Op(
        "get",
        B + "/conversations/{conversation_id}",
        "A conversation's state",
        BOT,
        ConversationView,
    ),
    Op("get", B, "The bot's settings", BOT, act.BotSettings),
    Op("patch", B, "Change the bot's settings", BOT, act.BotSettings, act.BotSettingsPatch),
    Op("get", B + "/actions", "The bot's custom actions", BOT, ActionList),
    Op(
        "put",
        B + "/actions/{name}",
        "Save (and validate) an action's code as a new version",
        BOT,
        act.SaveResponse,
        act.SaveRequest,
    ),
    Op(
        "get",
        B + "/actions/{name}",
        "An action's versions (?code=1 for every version's code)",
        BOT,
        act.ActionSummary,
    ),
    Op(
        "post",
        B + "/actions/{name}/test",
        "Live test on sample input with staging variables",
        BOT,
        act.InvocationView,
        act.TestRequest,
    ),
    Op(
        "post",
        B + "/actions/{name}/publish",
        "Make a version the production one (Train Bot)",
        BOT,
        act.PublishResponse,
        act.PublishRequest,
    ),
    Op(
        "post",
        B + "/actions/{name}/invoke",
        "Run the production version",
        BOT,
        act.InvokeResponse,
        act.InvokeRequest,
    ),
    Op(
        "get",
        B + "/actions/{name}/logs",
        "Execution logs of the last day, newest first, optionally filtered",
        BOT,
        LogList,
    ),
    Op("get", B + "/env", "The bot's env variables, values masked", BOT, EnvList),
    Op(
        "put",
        B + "/env/{name}",
        "Set an env variable's staging and production values",
        BOT,
        act.EnvVarView,
        act.EnvRequest,
    ),
    Op("delete", B + "/env/{name}", "Delete an env variable", BOT, OkResponse),
    Op(
        "get",
        B + "/webhooks/deliveries",
        "Webhook deliveries, newest first (?status=pending|delivered|failed, ?limit=1..500)",
        BOT,
        DeliveryList,
    ),
    Op(
        "post",
        B + "/webhooks/deliveries/{delivery_id}/retry",
        "Send a failed (or pending) webhook again now",
        BOT,
        DeliveryView,
    ),
    Op(
        "post",
        B + "/handoff/messages",
        "Leave a message for the bot's agents (fires message.left)",
        BOT,
        OfflineMessageView,
        LeaveMessageRequest,
        201,
    ),
    Op(
        "put",
        B + "/dialogue",
        "Save the bot's dialogue flow (JSON, or YAML with Content-Type application/yaml)",
        BOT,
        dlg.DialogueView,
        Flow,
    ),
    Op("get", B + "/dialogue", "The bot's dialogue flow as saved", BOT, dlg.DialogueView),
    Op(
        "post",
        B + "/converse",
        "One turn of the bot's dialogue: the person's message or payload in, HSL out",
        BOT,
        dlg.ConverseResponse,
        dlg.ConverseRequest,
    ),
    # The agent console's REST side (any client may use it)
    Op(
        "get",
        B + "/agents",
        "The bot's agents with their live status, and its teams (for a transfer)",
        AGENT,
        console.ColleagueList,
    ),
    Op(
        "get",
        B + "/canned-responses",
        "The bot's canned responses, by shortcut",
        AGENT,
        console.CannedList,
    ),
    Op(
        "post",
        B + "/canned-responses",
        "Add a canned response (admin role)",
        AGENT,
        console.CannedResponseView,
        console.CannedRequest,
        201,
    ),
    Op(
        "put",
        B + "/canned-responses/{id}",
        "Change a canned response (admin role)",
        AGENT,
        console.CannedResponseView,
        console.CannedRequest,
    ),
    Op(
        "delete",
        B + "/canned-responses/{id}",
        "Delete a canned response (admin role)",
        AGENT,
        None,
        status=204,
    ),
    Op(
        "get",
        C + "/notes",
        "A conversation's private notes, oldest first",
        AGENT,
        console.NoteList,
    ),
    Op(
        "post",
        C + "/notes",
        "Add a private note (the person never sees it)",
        AGENT,
        console.NoteView,
        console.NoteRequest,
        201,
    ),
    Op(
        "put",
        C + "/tags",
        "Replace a conversation's tags",
        AGENT,
        console.TagsView,
        console.TagsRequest,
    ),
    Op(
        "get",
        B + "/conversations",
        "The bot's conversations in progress, longest waiting first (supervisor role)",
        AGENT,
        oversight.InProgressList,
    ),
    Op(
        "post",
        B + "/offline-messages/{message_id}/handled",
        "Mark a message left for the bot's agents handled (once; again answers the same)",
        AGENT,
        OfflineMessageView,
    ),
    # The supervisor's dashboard
    Op(
        "get",
        "/api/v1/stats",
        "A period's numbers: totals, wait / first reply / handle percentiles, a zero-filled"
        " series (supervisor role; CSV with Accept: text/csv or format=csv)",
        AGENT,
        stats.StatsView,
    ),
    Op(
        "get",
        "/api/v1/stats/live",
        "Now: agents online / away / offline with load, queue length and longest wait,"
        " conversations in progress, per bot (supervisor role)",
        AGENT,
        stats.LiveView,
    ),
    # The admin API (the console's Admin page; admin role unless said)
    Op("get", "/api/v1/bots", "Every bot (admin); the bots one serves", AGENT, adm.BotList),
    Op(
        "post",
        "/api/v1/bots",
        "Create a bot; its API key is in the answer this once",
        AGENT,
        adm.BotCreated,
        adm.BotCreateRequest,
        201,
    ),
    Op(
        "post",
        B + "/api-key",
        "Rotate the bot's API key: the new one is shown once, the old one stops at once",
        AGENT,
        adm.ApiKeyView,
    ),
    Op("get", "/api/v1/agents", "Every agent: role, status, bots, teams", AGENT, adm.AgentList),
    Op(
        "post",
        "/api/v1/agents",
        "Create an agent (email, password, role, capacity, bots and teams)",
        AGENT,
        adm.AdminAgent,
        adm.AgentCreateRequest,
        201,
    ),
    Op("get", "/api/v1/agents/{agent_id}", "One agent", AGENT, adm.AdminAgent),
    Op(
        "patch",
        "/api/v1/agents/{agent_id}",
        "Change an agent: name, role, capacity, bots and teams, disabled (keeps one admin)",
        AGENT,
        adm.AdminAgent,
        adm.AgentPatch,
    ),
    Op(
        "delete",
        "/api/v1/agents/{agent_id}",
        "Delete an agent (signed out where connected; never the last admin)",
        AGENT,
        None,
        status=204,
    ),
    Op(
        "post",
        "/api/v1/agents/{agent_id}/password",
        "Reset an agent's password (left out: a random one, shown once)",
        AGENT,
        adm.PasswordView,
        adm.PasswordRequest,
    ),
    Op("get", B + "/teams", "The bot's teams with their members", AGENT, adm.TeamList),
    Op(
        "put",
        B + "/teams/{team}",
        "Set a team's members (creates it; an empty list ends it)",
        AGENT,
        adm.TeamList,
        adm.TeamRequest,
    ),
    Op(
        "patch",
        B + "/teams/{team}",
        "Rename a team (its members move with it)",
        AGENT,
        adm.TeamList,
        adm.TeamPatch,
    ),
    Op("delete", B + "/teams/{team}", "End a team (its members stay)", AGENT, None, status=204),
    Op(
        "post",
        "/demo/api/converse",
        "Demo only (HANDOFF_DEMO=true, else 404): a converse turn of the demo bot, no API key",
        None,
        dlg.ConverseResponse,
        dlg.ConverseRequest,
    ),
    Op("get", "/api/v1/openapi.json", "This document: the REST API as OpenAPI 3.1", None, None),
    Op("get", "/healthz", "Liveness and database check", None, None),
]


# Path parameters by (the segment before, name): the rules the handlers apply. A
# conversation id is any string here: an unknown one is a 404, and its ":" and "."
# may reach the path percent-encoded.
_PATH_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("actions", "name"): {"type": "string", "pattern": act.ACTION_NAME_PATTERN},
    ("env", "name"): {"type": "string", "pattern": act.ENV_NAME_PATTERN},
    ("canned-responses", "id"): {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    ("teams", "team"): {"type": "string", "pattern": adm.TEAM_PATTERN},
    ("agents", "agent_id"): {"type": "string", "pattern": f"^{AGENT_ID_PATTERN}$"},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields as query parameters (an optional one: its non-null type)."""
    schema = model.model_json_schema()
    params = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])
        if prop.get("default", 0) is None:
            del prop["default"]
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", ()),
                "schema": prop,
            }
        )
    return params


_TIME = {"type": "string", "format": "date-time"}
_STATS_QUERY = [
    _query(
        "bot_id",
        {"type": "string", "minLength": 1, "maxLength": 64},
        "one bot (default: every bot the caller may read)",
    ),
]
# Query parameters by path, as the handlers read them (an unknown one is a 400).
_QUERY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "/api/v1/stats": [
        *_STATS_QUERY,
        _query("team", {"type": "string", "minLength": 1, "maxLength": 100}, "one team"),
        _query(
            "agent_id",
            {"type": "string", "minLength": 1, "maxLength": 64},
            "the conversations this agent took part in",
        ),
        _query("from", _TIME, "ISO 8601 with an offset (default: today's 00:00 UTC)"),
        _query("to", _TIME, "exclusive; ISO 8601 with an offset (default: now)"),
        _query(
            "bucket",
            {"type": "string", "enum": ["hour", "day"]},
            "series step (default: hour up to 2 days, else day)",
        ),
        _query("format", {"type": "string", "enum": ["json", "csv"]}, "csv: the series as CSV"),
    ],
    "/api/v1/stats/live": _STATS_QUERY,
    B + "/conversations": _query_params(oversight.InProgressQuery),
    B + "/actions/{name}/logs": [
        _query("limit", {"type": "integer"}, "1-500; others are clamped"),
        _query("ok", {"type": "string", "enum": ["true", "false"]}, "only successes or failures"),
        _query("stage", {"type": "string", "enum": ["staging", "production"]}, "one stage"),
        _query("since", _TIME, "entries from this ISO time with a zone on (default: a day ago)"),
    ],
}


def _params(path: str) -> list[dict[str, Any]]:
    return _path_params(path) + _QUERY_PARAMS.get(path, [])


def _path_params(path: str) -> list[dict[str, Any]]:
    parts = path.split("/")
    return [
        {
            "name": part[1:-1],
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMS.get((before, part[1:-1]), {"type": "string"}),
        }
        for before, part in pairwise(parts)
        if part.startswith("{")
    ]


def _env_value_limits(schema: dict[str, Any], max_chars: int) -> None:
    """EnvRequest's values as the action service checks them: a length set by
    ``HANDOFF_ENV_VALUE_MAX_CHARS``, and no NUL."""
    for field in ("staging", "production"):
        for branch in schema["properties"][field]["anyOf"]:
            if branch.get("type") == "string":
                branch["maxLength"] = max_chars
                branch["pattern"] = r"^[^\u0000]*$"


@functools.lru_cache(maxsize=4)
def openapi_document(*, env_value_max_chars: int = 50) -> dict[str, Any]:
    """The document; limits that are settings come in as arguments.

    Built once per process and setting (pydantic's schema generation costs about 0.1 s,
    which every app start would pay); treat the answer as read-only.
    """
    models = {m for op in OPS for m in (op.request, op.response) if m is not None}
    models.add(ErrorResponse)
    keys, schemas = models_json_schema(
        [
            (m, "validation" if any(op.request is m for op in OPS) else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    ref = {m: keys[(m, mode)] for (m, mode) in keys}
    _env_value_limits(schemas["$defs"]["EnvRequest"], env_value_max_chars)
    error = {
        "description": "error",
        "content": {"application/json": {"schema": ref[ErrorResponse]}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        item: dict[str, Any] = {"summary": op.summary, "parameters": _params(op.path)}
        if op.auth:
            item["security"] = [{op.auth: []}]
        if op.request is not None:
            # A body with nothing required may be left out: the server reads it as {}.
            body = schemas["$defs"][ref[op.request]["$ref"].rsplit("/", 1)[1]]
            required = bool(body.get("required")) or body.get("minProperties", 0) > 0
            item["requestBody"] = {
                "required": required,
                "content": {"application/json": {"schema": ref[op.request]}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": ref[op.response]}}
        item["responses"] = {str(op.status): ok, "4XX": error}
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "handoff",
            "version": __version__,
            "description": "Live-agent handoff server: the bot-side REST API.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                BOT: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the bot's API key from `handoff create-bot`",
                },
                AGENT: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an agent token from POST /api/v1/auth/login",
                },
            },
        },
    }


def setup_openapi(app: web.Application) -> None:
    document = openapi_document(env_value_max_chars=app[SETTINGS].env_value_max_chars)

    async def serve(request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/v1/openapi.json", serve)
