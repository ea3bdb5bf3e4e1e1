"""The served OpenAPI document against the server that serves it, by schemathesis.

Every operation in ``/api/v1/openapi.json`` goes through schemathesis's phases
(examples, coverage, fuzzing, stateful) with all of its checks: server errors,
status codes, content types, response schemas and headers, schema-valid data
accepted and schema-invalid data refused, missing headers, undeclared methods
and their ``Allow``, auth. It runs with a real bot API key and a real agent
token, the bot's own id in the path, bounded examples and a fixed seed. No
failure is allowed; a route added later is in the document (test_openapi.py sees
to that) and so is tested here.

schemathesis makes blocking HTTP calls, so its run (the same engine ``st run``
drives) goes to a thread while the real server keeps serving on the test's loop.
schemathesis's pytest loader for fixtures (``schemathesis.pytest.from_fixture``)
does not work with pytest 9.2, and the module-level one needs the document at
import time, before any server runs.

Below it, each mismatch schemathesis found is pinned as a plain test.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as st_events

from handoff.api.openapi_ops import OPS
from tests.conftest import Server

# Small enough that the whole run takes a few seconds; the coverage phase adds its
# boundary cases (nulls, wrong types, patterns, undeclared methods) on top.
MAX_EXAMPLES = 10
SEED = 20260101
# schemathesis's default statuses for its data checks, plus 413 (see below).
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                     "429", "5xx"]
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]


@dataclass
class Run:
    problems: list[str] = dataclasses.field(default_factory=list)
    """One entry per failed check or error; empty when the server and document agree."""
    answers: Counter[tuple[str, str, int]] = dataclasses.field(default_factory=Counter)
    """(phase, operation, status) of every answer schemathesis got."""


def _run(url: str, config: schemathesis.Config) -> Run:
    """Every phase and every check, as ``st run`` does."""
    schema = schemathesis.openapi.from_url(url, config=config, timeout=10)
    run = Run()
    for event in from_schema(schema).execute():
        if isinstance(event, st_events.ScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None and case_id in recorder.cases:
                    operation = recorder.cases[case_id].value.operation.label
                    status = interaction.response.status_code
                    run.answers[(event.phase.value, operation, status)] += 1
            if event.status != Status.FAILURE:
                continue
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    info = check.failure_info
                    if info is None:
                        continue
                    response = recorder.find_response(case_id=info.failure.case_id or case_id)
                    answer = (
                        f"{response.status_code} {response.text[:300]}" if response else "no answer"
                    )
                    run.problems.append(
                        f"[{recorder.label}] {check.name}: {info.failure.title}: "
                        f"{info.failure.message}\n    {info.code_sample}\n    -> {answer}"
                    )
        elif isinstance(event, st_events.NonFatalError):
            run.problems.append(f"[{event.label}] error: {event.value!r}")
        elif isinstance(event, st_events.FatalError):
            run.problems.append(f"fatal: {event.exception!r}")
    return run


# Every operation in two phases plus the stateful one: about 1.5 s per operation on a loaded
# 2-core machine, past the 60 s default, and the document grows with each issue (the admin
# API alone added 13 operations).
@pytest.mark.timeout(300)
async def test_the_server_and_its_openapi_document_agree(server: Server, tmp_path: Path) -> None:
    bot = await server.bot()
    token = await server.login((await server.agent(bot)).email)
    config: dict[str, Any] = {
        "seed": SEED,
        "workers": 1,
        "cache": {"enabled": False},  # nothing written to .schemathesis/ in the work tree
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        # Bodies are capped in bytes (256 KiB, 413 body_too_large), which JSON Schema
        # cannot say; a body that long, valid or not, is refused as too large.
        "checks": {
            "enabled": True,
            "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES},
            "positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES},
        },
        # A dialogue flow is checked beyond its schema (references between nodes, one
        # of regex/choices, templates that parse), which JSON Schema cannot say: a
        # schema-valid flow may still be a 400 invalid_dialogue naming node and field.
        "operations": [
            {
                "include-name": "PUT /api/v1/bots/{bot_id}/dialogue",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}
                },
            },
            # A stats period is checked across its parameters (from before to, at most
            # 366 days, hourly buckets over at most 31), which JSON Schema cannot say.
            {
                "include-name": "GET /api/v1/stats",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}
                },
            },
        ],
        "auth": {"openapi": {"botKey": {"bearer": bot.api_key}, "agentToken": {"bearer": token}}},
        # The bot's own id, so its routes answer beyond 403.
        "parameters": {"path.bot_id": bot.id},
    }
    # Hypothesis keeps a cache of constants; not in the work tree.
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        run = await asyncio.to_thread(
            _run, f"{server.url}/api/v1/openapi.json", schemathesis.Config.from_dict(config)
        )
    finally:
        set_hypothesis_home_dir(None)
    assert not run.problems, "\n".join(dict.fromkeys(run.problems))

    # It tested what it should: every operation in both generating phases (schemathesis
    # leaves out the one serving the document it reads), and past authentication.
    documented = {f"{op.method.upper()} {op.path}" for op in OPS} - {"GET /api/v1/openapi.json"}
    for phase in ("coverage", "fuzzing"):
        answered = {operation for (p, operation, _) in run.answers if p == phase}
        assert answered == documented, (phase, documented - answered)
    assert any(p == "stateful" for (p, _, _) in run.answers)
    succeeded = {operation for (_, operation, status) in run.answers if status < 300}
    assert {
        "GET /api/v1/agents/me",  # the agent token
        "GET /api/v1/bots/{bot_id}",  # the bot key, for its own bot_id
        "POST /api/v1/bots/{bot_id}/handoff",
        "PUT /api/v1/bots/{bot_id}/actions/{name}",
    } <= succeeded, succeeded


# The mismatches schemathesis found, one by one.


async def _call(
    server: Server, method: str, path: str, body: Any = None, *, key: str | None = None
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    async with server.http.request(method, server.url + path, **kwargs) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def _document(server: Server) -> dict[str, Any]:
    async with server.http.get(server.url + "/api/v1/openapi.json") as resp:
        return dict(await resp.json())


def _error(body: Any) -> tuple[str, str | None]:
    return body["error"]["code"], body["error"].get("field")


async def test_an_undeclared_method_is_405_with_allow(server: Server) -> None:
    bot = await server.bot()
    for path, allowed in [
        ("/healthz", {"GET", "HEAD"}),
        (f"/api/v1/bots/{bot.id}", {"GET", "HEAD", "PATCH"}),
        (f"/api/v1/bots/{bot.id}/actions/order_status", {"GET", "HEAD", "PUT"}),
    ]:
        status, body, headers = await _call(server, "TRACE", path, key=bot.api_key)
        assert (status, _error(body)[0]) == (405, "http_405"), path
        assert {m.strip() for m in headers["Allow"].split(",")} == allowed, path


async def test_patch_refuses_null_only_where_the_document_does_not_offer_it(
    server: Server,
) -> None:
    fields = (await _document(server))["components"]["schemas"]["BotSettingsPatch"]["properties"]
    for name in ("name", "assignment_mode", "escalate_on_break"):
        assert "anyOf" not in fields[name] and "default" not in fields[name], fields[name]
        assert fields[name]["type"] in ("string", "boolean"), fields[name]
    for name in ("wait_limit_seconds", "webhook_url", "action_timeout_seconds", "fallback_message"):
        assert {"type": "null"} in fields[name]["anyOf"], fields[name]

    bot = await server.bot()
    path = f"/api/v1/bots/{bot.id}"
    for name in ("name", "assignment_mode", "escalate_on_break"):
        status, body, _ = await _call(server, "PATCH", path, {name: None}, key=bot.api_key)
        assert (status, _error(body)) == (400, ("invalid_payload", name))
    status, body, _ = await _call(
        server, "PATCH", path, {"wait_limit_seconds": None, "name": "Shop"}, key=bot.api_key
    )
    assert status == 200 and body["name"] == "Shop" and body["wait_limit_seconds"] is None


async def test_path_names_have_the_pattern_the_server_applies(server: Server) -> None:
    paths = (await _document(server))["paths"]

    def pattern(path: str) -> str:
        (param,) = [p for p in paths[path]["put"]["parameters"] if p["name"] == "name"]
        return str(param["schema"]["pattern"])

    assert pattern("/api/v1/bots/{bot_id}/actions/{name}") == r"^[A-Za-z0-9_\-]{1,100}$"
    assert pattern("/api/v1/bots/{bot_id}/env/{name}") == r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"

    # JSON Schema's "$" is the end of the string; so is the server's now (a name
    # ending in a newline was saved as such).
    bot = await server.bot()
    code = {"code": "def main(event, context):\n    return {}\n"}
    status, body, _ = await _call(
        server, "PUT", f"/api/v1/bots/{bot.id}/actions/order_status%0A", code, key=bot.api_key
    )
    assert (status, _error(body)) == (400, ("invalid_name", "name"))
    status, body, _ = await _call(
        server, "PUT", f"/api/v1/bots/{bot.id}/env/STORE%0A", {"staging": "x"}, key=bot.api_key
    )
    assert (status, _error(body)) == (400, ("invalid_name", "name"))
    status, body, _ = await _call(server, "GET", f"/api/v1/bots/{bot.id}/env", key=bot.api_key)
    assert body == {"variables": []}


async def test_version_is_bounded_in_the_document_and_by_the_server(server: Server) -> None:
    schemas = (await _document(server))["components"]["schemas"]
    for model in ("TestRequest", "PublishRequest"):
        (integer,) = [b for b in schemas[model]["properties"]["version"]["anyOf"]
                      if b.get("type") == "integer"]
        assert (integer["minimum"], integer["maximum"]) == (1, 2**31 - 1), integer

    bot = await server.bot()
    for verb in ("publish", "test"):
        path = f"/api/v1/bots/{bot.id}/actions/order_status/{verb}"
        for version in (2**63, 2**31, 0, "1", True):
            status, body, _ = await _call(server, "POST", path, {"version": version},
                                          key=bot.api_key)
            assert (status, _error(body)) == (400, ("invalid_payload", "version")), version
        # 1.0 is an integer to JSON Schema: accepted (and there is no such action yet).
        status, body, _ = await _call(server, "POST", path, {"version": 1.0}, key=bot.api_key)
        assert (status, _error(body)[0]) == (404, "unknown_action")


async def test_bodies_take_the_json_types_the_document_gives(server: Server) -> None:
    bot = await server.bot()
    cases: list[tuple[str, dict[str, Any], str]] = [
        (f"/api/v1/bots/{bot.id}/handoff", {"ConversationID": 12345678}, "ConversationID"),
        (f"/api/v1/bots/{bot.id}/handoff", {"reason": 42}, "reason"),
        (f"/api/v1/bots/{bot.id}/actions/order_status/invoke", {"ConversationID": 12345678},
         "ConversationID"),
        (f"/api/v1/bots/{bot.id}", {"escalate_on_break": 0}, "escalate_on_break"),
        (f"/api/v1/bots/{bot.id}", {"wait_limit_seconds": "30"}, "wait_limit_seconds"),
    ]
    for path, body, field in cases:
        method = "PATCH" if path.endswith(bot.id) else "POST"
        status, answer, _ = await _call(server, method, path, body, key=bot.api_key)
        assert (status, _error(answer)) == (400, ("invalid_payload", field)), (path, body)
    assert await server.conversations.get("12345678") is None

    # The widget protocol is the seed's and keeps its own rules: a string id from
    # execute_handoff binds, also when a widget sends it as a number.
    cid = (await server.handoff(bot, ConversationID="12345678"))["ConversationID"]
    widget = await server.widget()
    ack = await widget.call("username", {"ConversationID": 12345678, "BotID": bot.id})
    assert ack["ok"] and ack["conversation_id"] == cid, ack


async def test_env_bodies_are_documented_as_the_server_checks_them(server: Server) -> None:
    doc = await _document(server)
    put = doc["paths"]["/api/v1/bots/{bot_id}/env/{name}"]["put"]
    assert put["requestBody"]["required"] is True
    env = doc["components"]["schemas"]["EnvRequest"]
    assert env["minProperties"] == 1
    for field in ("staging", "production"):
        (text,) = [b for b in env["properties"][field]["anyOf"] if b.get("type") == "string"]
        assert text["maxLength"] == server.settings.env_value_max_chars
        assert text["pattern"] == r"^[^\u0000]*$"

    bot = await server.bot()
    path = f"/api/v1/bots/{bot.id}/env/STORE"
    for body, code, field in [
        (None, "invalid_payload", "staging"),
        ({"staging": "x" * (server.settings.env_value_max_chars + 1)}, "value_too_long",
         "staging"),
        ({"production": "a\u0000b"}, "invalid_payload", "production"),
    ]:
        status, answer, _ = await _call(server, "PUT", path, body, key=bot.api_key)
        assert (status, _error(answer)) == (400, (code, field)), body
