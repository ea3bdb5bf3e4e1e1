"""Every REST operation the OpenAPI document states: method, path, auth, models.

A route added to the server is added here too (tests/integration/test_openapi.py
compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from handoff.dialogues.flow import Flow
from handoff.protocol import actions as act
from handoff.protocol import admin as adm
from handoff.protocol import bot as botp
from handoff.protocol import console, oversight, rest, stats
from handoff.protocol import dialogues as dlg
from handoff.protocol.common import ConversationView
from handoff.protocol.offline import LeaveMessageRequest, OfflineMessageView
from handoff.protocol.webhooks import DeliveryList, DeliveryView

__all__ = ["AGENT", "BOT", "OPS", "ErrorResponse", "Op"]


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
    Op("get", "/healthz", "Liveness, database and Redis check", None, None),
]
