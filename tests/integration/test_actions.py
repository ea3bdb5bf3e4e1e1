"""Custom actions through the REST API: save, validate, test, publish, invoke, logs, env."""

from datetime import timedelta
from typing import Any

from handoff.api.keys import ACTIONS
from handoff.storage.actions import ActionLog
from handoff.storage.db import utcnow
from tests.conftest import Bot, Server

SEED_DEFAULT = '''import  json

def main(event, context):
    body = json.loads(event['body'])
    entities = body.get('entities')
    user_data = body.get('user')
    conversation_details = body.get('conversation_details')
    final_response = {
        'status': True,
        'entities':entities,
        'user_full_name': user_data.get("full_name"),
        'user_device_platform': user_data.get("device_platform"),
        'conversation_details':conversation_details
    }
    response = {'statusCode': 200, 'body': json.dumps(final_response), 'headers': {'Content-Type': 'application/json'}}
    return response
'''

STATEFUL = '''import json
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def main(event, context):
    body = json.loads(event['body'])
    user_details = body['user_details']
    conversation_data = body['conversation_data']
    visits = int(user_details.get('visits', '0')) + 1
    user_details['visits'] = str(visits)
    conversation_data['turns'] = conversation_data.get('turns', 0) + 1
    api = body['env_variables'].get('API_KEY')
    logger.info("visit %s with key %s", visits, api)
    print("stage key", api)
    final_response = {'status': True, 'visits': visits, 'key_len': len(api or ''),
                      'user_details': user_details, 'conversation_data': conversation_data}
    return {'statusCode': 200, 'body': json.dumps(final_response), 'headers': {}}
'''


async def call(server: Server, bot: Bot, method: str, path: str, body: Any = None,
               *, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key or bot.api_key}"}
    url = f"{server.url}/api/v1/bots/{bot.id}{path}"
    async with server.http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_save_validates_and_versions(server: Server) -> None:
    bot = await server.bot()
    status, body = await call(server, bot, "PUT", "/actions/orders", {"code": SEED_DEFAULT})
    assert status == 200 and body == {"ok": True, "version": 1, "errors": []}
    _, again = await call(server, bot, "PUT", "/actions/orders", {"code": SEED_DEFAULT})
    assert again["version"] == 1  # the same code keeps its version
    broken = "import json\n\ndef main(event, context):\n    return {'a': 1\n"
    _, bad = await call(server, bot, "PUT", "/actions/orders", {"code": broken})
    assert bad["ok"] is False and bad["version"] == 2
    assert bad["errors"][0]["line"] == 4 and bad["errors"][0]["column"] >= 1
    _, wrong_main = await call(server, bot, "PUT", "/actions/other",
                               {"code": "def main(event):\n    return {}\n"})
    assert "two parameters" in wrong_main["errors"][0]["message"]
    _, no_main = await call(server, bot, "PUT", "/actions/other", {"code": "x = 1\n"})
    assert "main" in no_main["errors"][0]["message"]
    _, missing = await call(server, bot, "PUT", "/actions/other",
                            {"code": "import no_such_module_here\ndef main(e, c):\n    return {}\n"})
    assert missing["errors"][0]["line"] == 1
    assert "no_such_module_here" in missing["errors"][0]["message"]
    status, refused = await call(server, bot, "POST", "/actions/orders/publish", {"version": 2})
    assert status == 409 and refused["error"]["code"] == "action_has_errors"
    status, listed = await call(server, bot, "GET", "/actions/orders")
    assert status == 200 and [v["version"] for v in listed["versions"]] == [2, 1]
    assert listed["versions"][0]["code"] == broken


async def test_live_test_uses_staging_and_publish_makes_production(server: Server) -> None:
    bot = await server.bot()
    await call(server, bot, "PUT", "/env/API_KEY",
               {"staging": "stage-secret-1", "production": "prod-secret-22"})
    await call(server, bot, "PUT", "/actions/visit", {"code": STATEFUL})
    sample = {"entities": {}, "user_data": {"user_id": "u1", "full_name": "Thandi"}}
    status, tested = await call(server, bot, "POST", "/actions/visit/test", {"input": sample})
    assert status == 200 and tested["ok"], tested
    assert tested["output"]["visits"] == 1 and tested["output"]["key_len"] == 14
    assert "visit 1 with key" in tested["logs"] and "stage key" in tested["logs"]
    assert "stage-secret-1" not in tested["logs"]  # secrets are masked in logs
    assert tested["duration_ms"] > 0 and tested["version"] == 1
    status, missing = await call(server, bot, "POST", "/actions/visit/invoke", {"user": {}})
    assert status == 404 and missing["error"]["code"] == "not_published"
    status, published = await call(server, bot, "POST", "/actions/visit/publish", {})
    assert status == 200 and published == {"ok": True, "production_version": 1}
    invoke = {"ConversationID": "conv-visit-1", "user": {"user_id": "u1"}, "entities": {}}
    _, first = await call(server, bot, "POST", "/actions/visit/invoke", invoke)
    _, second = await call(server, bot, "POST", "/actions/visit/invoke", invoke)
    assert first["ok"] and second["ok"], (first, second)
    assert first["output"]["key_len"] == 14 and second["output"]["visits"] == 2
    assert second["output"]["conversation_data"]["turns"] == 2
    other_conv = {**invoke, "ConversationID": "conv-visit-2"}
    _, third = await call(server, bot, "POST", "/actions/visit/invoke", other_conv)
    assert third["output"]["visits"] == 3  # user details follow the user
    assert third["output"]["conversation_data"]["turns"] == 1  # conversation details do not
    status, logs = await call(server, bot, "GET", "/actions/visit/logs")
    assert status == 200
    assert [e["stage"] for e in logs["logs"]] == ["production"] * 3 + ["staging"]
    assert all("prod-secret-22" not in e["logs"] for e in logs["logs"])
    _, env = await call(server, bot, "GET", "/env")
    assert env["variables"][0]["staging"] == "********"
    assert "secret" not in str(env)


async def test_rollback_to_an_earlier_version(server: Server) -> None:
    bot = await server.bot()
    for answer in ("one", "two"):
        code = ("import json\ndef main(event, context):\n    return {'statusCode': 200, "
                f"'body': json.dumps({{'answer': '{answer}'}}), 'headers': {{}}}}\n")
        await call(server, bot, "PUT", "/actions/pick", {"code": code})
        await call(server, bot, "POST", "/actions/pick/publish", {})
    _, now = await call(server, bot, "POST", "/actions/pick/invoke", {"user": {}})
    assert now["output"] == {"answer": "two"}
    _, back = await call(server, bot, "POST", "/actions/pick/publish", {"version": 1})
    assert back["production_version"] == 1
    _, then = await call(server, bot, "POST", "/actions/pick/invoke", {"user": {}})
    assert then["output"] == {"answer": "one"} and then["version"] == 1


async def test_bot_break_gives_fallback_and_may_escalate_to_a_human(server: Server) -> None:
    bot = await server.bot()
    code = "import json\ndef main(event, context):\n    x = {}\n    return x['missing']\n"
    await call(server, bot, "PUT", "/actions/boom", {"code": code})
    await call(server, bot, "POST", "/actions/boom/publish", {})
    _, broke = await call(server, bot, "POST", "/actions/boom/invoke", {"user": {}})
    assert broke["ok"] is False and broke["error"]["kind"] == "exception"
    assert broke["error"]["line"] == 4 and "KeyError" in broke["error"]["message"]
    assert broke["fallback_message"] and broke["escalate"] is False
    status, patched = await call(server, bot, "PATCH", "", {
        "escalate_on_break": True, "fallback_message": "Let me get a person for you."})
    assert status == 200 and patched["escalate_on_break"] is True
    _, escalated = await call(server, bot, "POST", "/actions/boom/invoke",
                              {"ConversationID": "conv-break-1", "user": {"name": "T"}})
    assert escalated["escalate"] is True
    assert escalated["fallback_message"] == "Let me get a person for you."
    assert escalated["handoff"]["ConversationID"] == "conv-break-1"
    view = await server.service.conversation("conv-break-1")
    assert view.state == "pending" and "bot break" in (view.reason or "")
    # The agent sees what broke: the error is in the handoff packet.
    error = view.handoff_packet.error
    assert error is not None and error["kind"] == "exception" and error["line"] == 4


async def test_timeouts_bad_returns_and_oversize_details_keep_stored_state(server: Server) -> None:
    bot = await server.bot()
    await call(server, bot, "PATCH", "", {"action_timeout_seconds": 1})
    slow = "import time\ndef main(event, context):\n    time.sleep(10 ** 6)\n"
    await call(server, bot, "PUT", "/actions/slow", {"code": slow})
    _, timed_out = await call(server, bot, "POST", "/actions/slow/test", {"input": {}})
    assert timed_out["error"]["kind"] == "timeout"
    not_dict = "def main(event, context):\n    return 'hello'\n"
    await call(server, bot, "PUT", "/actions/str", {"code": not_dict})
    _, bad = await call(server, bot, "POST", "/actions/str/test", {"input": {}})
    assert bad["error"]["kind"] == "bad_return" and "returned str" in bad["error"]["message"]
    not_json = "def main(event, context):\n    return {'statusCode': 200, 'body': '{nope'}\n"
    await call(server, bot, "PUT", "/actions/nojson", {"code": not_json})
    _, bad_body = await call(server, bot, "POST", "/actions/nojson/test", {"input": {}})
    assert bad_body["error"]["kind"] == "bad_return" and "JSON" in bad_body["error"]["message"]
    # Store good state, then try to overwrite it with too much.
    await call(server, bot, "PUT", "/actions/state", {"code": STATEFUL})
    await call(server, bot, "POST", "/actions/state/publish", {})
    await call(server, bot, "POST", "/actions/state/invoke", {"user": {"user_id": "u9"}})
    big = ("import json\ndef main(event, context):\n    return {'statusCode': 200, 'body': "
           "json.dumps({'user_details': {'visits': 'x' * 500}}), 'headers': {}}\n")
    await call(server, bot, "PUT", "/actions/state", {"code": big})
    await call(server, bot, "POST", "/actions/state/publish", {})
    _, over = await call(server, bot, "POST", "/actions/state/invoke", {"user": {"user_id": "u9"}})
    assert over["error"]["kind"] == "limit_exceeded" and "200" in over["error"]["message"]
    details = server.app[ACTIONS].details
    assert (await details.user("u9")) == {"language_code": "en", "name": "Guest User",
                                          "visits": "1"}


async def test_bad_requests_are_clear(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    cases = [
        (await call(server, bot, "PUT", "/actions/x", {"code": "def main(e, c): pass"},
                    key="hk_nope"), 401, "unauthorized"),
        (await call(server, bot, "PUT", "/actions/x", {"code": "def main(e, c): pass"},
                    key=other.api_key), 403, "forbidden"),
        (await call(server, bot, "PUT", "/actions/bad name!", {"code": "x"}), 400,
         "invalid_name"),
        (await call(server, bot, "PUT", "/actions/x", {"code": ""}), 400, "invalid_payload"),
        (await call(server, bot, "PUT", "/actions/x", {"source": "x"}), 400, "invalid_payload"),
        (await call(server, bot, "POST", "/actions/none/test", {"input": {}}), 404,
         "unknown_action"),
        (await call(server, bot, "POST", "/actions/none/publish", {"version": 0}), 400,
         "invalid_payload"),
        (await call(server, bot, "PUT", "/env/API_KEY", {"staging": "x" * 51}), 400,
         "value_too_long"),
        (await call(server, bot, "PUT", "/env/9BAD", {"staging": "x"}), 400, "invalid_name"),
        (await call(server, bot, "PUT", "/env/EMPTY", {}), 400, "invalid_payload"),
        (await call(server, bot, "DELETE", "/env/NOPE"), 404, "unknown_variable"),
        (await call(server, bot, "PATCH", "", {"assignment_mode": "random"}), 400,
         "invalid_payload"),
    ]
    for (status, body), want, code in cases:
        assert (status, body["error"]["code"]) == (want, code), body


async def test_logs_are_purged_after_a_day(server: Server) -> None:
    bot = await server.bot()
    actions = server.app[ACTIONS]
    old = utcnow() - timedelta(days=1, minutes=1)
    for created in (old, utcnow()):
        await actions.actions.log(bot.id, ActionLog("a", 1, "production", "r", None, True, None,
                                                    "", 1.0, created))
    purged_logs, _ = await actions.purge()
    assert purged_logs == 1
    assert len(await actions.actions.logs(bot.id, "a")) == 1


async def test_bot_code_cannot_reach_the_servers_files_port_or_other_bots(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    await call(server, other, "PUT", "/env/OTHER_SECRET", {"staging": "not-yours-123"})
    data_dir = server.settings.data_dir.resolve()
    probe = f'''import json, os, socket
def main(event, context):
    seen = {{}}
    for path in ({str(data_dir / "handoff.sqlite3")!r}, {str(data_dir / "secret_key")!r},
                 "/proc/1/environ"):
        try:
            open(path, "rb").read(10)
            seen[path] = "read"
        except Exception as exc:
            seen[path] = type(exc).__name__
    try:
        socket.create_connection(("127.0.0.1", {server.settings.port}), timeout=2).close()
        seen["server_port"] = "connected"
    except Exception as exc:
        seen["server_port"] = type(exc).__name__
    seen["env"] = sorted(k for k in os.environ if "SECRET" in k or "HANDOFF" in k)
    seen["vars"] = json.loads(event["body"])["env_variables"]
    return {{"statusCode": 200, "body": json.dumps(seen), "headers": {{}}}}
'''
    _, saved = await call(server, bot, "PUT", "/actions/probe", {"code": probe})
    assert saved["ok"], saved
    _, ran = await call(server, bot, "POST", "/actions/probe/test", {"input": {}})
    assert ran["ok"], ran
    out = ran["output"]
    assert all(out[p] != "read" for p in out if p.startswith("/")), out
    assert out["server_port"] != "connected"
    assert out["env"] == [] and out["vars"] == {}


async def test_partial_updates_keep_what_is_not_named(server: Server) -> None:
    bot = await server.bot()
    await call(server, bot, "PUT", "/env/TOKEN", {"staging": "s-1234", "production": "p-5678"})
    await call(server, bot, "PUT", "/env/TOKEN", {"staging": "s-9999"})
    env = server.app[ACTIONS].env
    assert await env.values(bot.id, "production") == {"TOKEN": "p-5678"}
    assert await env.values(bot.id, "staging") == {"TOKEN": "s-9999"}
    await call(server, bot, "PUT", "/env/TOKEN", {"production": None})
    assert await env.values(bot.id, "production") == {}
    status, body = await call(server, bot, "PATCH", "", {"escalate_on_break": None})
    assert status == 400 and body["error"]["field"] == "escalate_on_break"
    status, body = await call(server, bot, "PATCH", "", {"fallback_message": None,
                                                          "wait_limit_seconds": 90})
    assert status == 200 and body["wait_limit_seconds"] == 90
    status, body = await call(server, bot, "GET", "/actions/bad name!/logs")
    assert status == 400 and body["error"]["code"] == "invalid_name"


async def test_escalation_that_cannot_hand_off_still_returns_the_result(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    await server.handoff(other, ConversationID="taken-by-other")
    code = "def main(event, context):\n    raise ValueError('nope')\n"
    await call(server, bot, "PUT", "/actions/boom", {"code": code})
    await call(server, bot, "POST", "/actions/boom/publish", {})
    await call(server, bot, "PATCH", "", {"escalate_on_break": True})
    status, body = await call(server, bot, "POST", "/actions/boom/invoke",
                              {"ConversationID": "taken-by-other", "user": {}})
    assert status == 200 and body["ok"] is False and body["error"]["kind"] == "exception"
    assert body["fallback_message"] and body["escalate"] is True
    assert body["handoff"]["error"]["code"] == "conversation_taken"
    status, bad = await call(server, bot, "POST", "/actions/boom/invoke",
                             {"ConversationID": "a b", "user": {}})
    assert status == 400 and bad["error"]["field"] == "ConversationID"
