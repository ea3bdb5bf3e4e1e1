"""What the Actions Dashboard asks of the API beyond the basics: the limits it says before
sending, and the execution logs filtered by outcome, stage and time."""

from datetime import timedelta

from handoff.api.keys import ACTIONS
from handoff.storage.actions import ActionLog
from handoff.storage.db import utcnow
from tests.conftest import Server
from tests.integration.test_actions import call

GOOD = """import json

def main(event, context):
    print("ran")
    return {'statusCode': 200, 'body': json.dumps({'n': 1}), 'headers': {}}
"""
BREAKS = """def main(event, context):
    raise ValueError("boom")
"""


async def test_the_list_says_the_limits(server: Server) -> None:
    bot = await server.bot()
    status, body = await call(server, bot, "GET", "/actions")
    assert status == 200
    assert body == {
        "actions": [],
        "limits": {
            "code_max_chars": 200_000,
            "env_value_max_chars": server.settings.env_value_max_chars,
        },
    }


async def test_logs_filter_by_outcome_stage_and_time(server: Server) -> None:
    bot = await server.bot()
    assert (await call(server, bot, "PUT", "/actions/a", {"code": GOOD}))[0] == 200
    assert (await call(server, bot, "POST", "/actions/a/publish", {}))[0] == 200
    assert (await call(server, bot, "POST", "/actions/a/test", {"input": {}}))[1]["ok"] is True
    assert (await call(server, bot, "POST", "/actions/a/invoke", {}))[1]["ok"] is True
    _, broken = await call(server, bot, "PUT", "/actions/a", {"code": BREAKS})
    assert broken["ok"] is True  # valid code that raises when run
    _, failed = await call(server, bot, "POST", "/actions/a/test", {"input": {}})
    assert failed["ok"] is False and failed["error"]["line"] == 2
    # An entry from two hours ago (still within the day the store keeps).
    earlier = utcnow() - timedelta(hours=2)
    await server.app[ACTIONS].actions.log(
        bot.id, ActionLog("a", 1, "production", "old", None, True, None, "", 1.0, earlier)
    )

    async def logs(query: str) -> list[tuple[str, bool]]:
        status, body = await call(server, bot, "GET", "/actions/a/logs" + query)
        assert status == 200, body
        return [(e["stage"], e["ok"]) for e in body["logs"]]

    # Newest written first (the back-dated entry was written last).
    assert await logs("") == [
        ("production", True), ("staging", False), ("production", True), ("staging", True)
    ]
    assert await logs("?ok=false") == [("staging", False)]
    assert await logs("?ok=true&stage=staging") == [("staging", True)]
    assert await logs("?stage=production") == [("production", True), ("production", True)]
    since = (utcnow() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert await logs(f"?since={since}&stage=production") == [("production", True)]
    assert len(await logs("?since=" + since.replace("Z", "%2B00:00"))) == 3


async def test_bad_log_filters_name_the_parameter(server: Server) -> None:
    bot = await server.bot()
    for query, field in (
        ("ok=maybe", "ok"),
        ("stage=testing", "stage"),
        ("since=yesterday", "since"),
        ("since=2026-11-22T08:00:00", "since"),  # no zone
        ("limit=ten", "limit"),
    ):
        status, body = await call(server, bot, "GET", f"/actions/a/logs?{query}")
        assert status == 400, query
        assert body["error"]["code"] == "invalid_payload"
        assert body["error"]["field"] == field, body
        assert body["error"]["message"]


async def test_the_document_states_the_filters_and_the_limits(server: Server) -> None:
    async with server.http.get(f"{server.url}/api/v1/openapi.json") as resp:
        document = await resp.json()
    logs = document["paths"]["/api/v1/bots/{bot_id}/actions/{name}/logs"]["get"]
    query = {p["name"]: p for p in logs["parameters"] if p["in"] == "query"}
    assert set(query) == {"limit", "ok", "stage", "since"}
    assert query["stage"]["schema"]["enum"] == ["staging", "production"]
    assert query["since"]["schema"]["format"] == "date-time"
    limits = document["components"]["schemas"]["ActionLimits"]
    assert set(limits["required"]) == {"code_max_chars", "env_value_max_chars"}
