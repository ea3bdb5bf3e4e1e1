"""The REST API: sign-in, execute_handoff, conversation status, health."""

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server


async def _post(
    server: Server, path: str, body: Any = None, *, key: str | None = None, raw: bytes | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs: dict[str, Any] = (
        {"data": raw, "headers": {**headers, "Content-Type": "application/json"}}
        if raw is not None
        else {"json": body, "headers": headers}
    )
    async with server.http.post(server.url + path, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_login_gives_a_token_that_opens_the_agent_namespace(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, capacity=4, name="Anna")
    status, body = await _post(
        server, "/api/v1/auth/login", {"email": agent.email.upper(), "password": "s3cret-pass"}
    )
    assert status == 200
    assert body["agent"]["id"] == agent.id and body["agent"]["bots"] == [bot.id]
    async with server.http.get(
        server.url + "/api/v1/agents/me", headers={"Authorization": f"Bearer {body['token']}"}
    ) as resp:
        assert resp.status == 200 and (await resp.json())["name"] == "Anna"
    sock = await server.agent_socket(agent)
    assert (await sock.call("queue", {}))["ok"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"email": "nobody@example.com", "password": "x"}, 401, "invalid_credentials", "password"),
        ({"email": "a@b.c"}, 400, "invalid_payload", "password"),
        ({"email": "a@b.c", "password": "x", "admin": True}, 400, "invalid_payload", "admin"),
    ],
)
async def test_bad_logins(server: Server, body: Any, status: int, code: str, field: str) -> None:
    got, error = await _post(server, "/api/v1/auth/login", body)
    assert (got, error["error"]["code"], error["error"]["field"]) == (status, code, field)


async def test_wrong_password_for_a_real_agent_then_throttled(server: Server) -> None:
    agent = await server.agent(await server.bot())
    codes = []
    for _ in range(12):
        _, body = await _post(
            server, "/api/v1/auth/login", {"email": agent.email, "password": "wrong"}
        )
        codes.append(body["error"]["code"])
    assert codes[0] == "invalid_credentials"
    assert codes[-1] == "rate_limited"


async def test_execute_handoff_returns_where_the_widget_connects(server: Server) -> None:
    bot = await server.bot()
    status, body = await _post(
        server,
        f"/api/v1/bots/{bot.id}/handoff",
        {"user": {"name": "Thandi"}, "reason": "asked for a human", "entities": {"order": "A-17"}},
        key=bot.api_key,
    )
    assert status == 201
    assert body["socket"] == {"url": server.url, "namespace": "/live_agent"}
    assert body["BotID"] == bot.id and body["state"] == "pending"
    assert len(body["ConversationID"]) >= 32  # server-made ids are unguessable
    assert body["conversation"]["entities"] == {"order": "A-17"}
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/conversations/{body['ConversationID']}",
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert resp.status == 200 and (await resp.json())["state"] == "pending"


async def test_execute_handoff_refuses_bad_keys_and_bodies(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    path = f"/api/v1/bots/{bot.id}/handoff"
    cases = [
        (await _post(server, path, {}), 401, "unauthorized", "Authorization"),
        (await _post(server, path, {}, key="hk_wrong"), 401, "unauthorized", "Authorization"),
        (await _post(server, path, {}, key=other.api_key), 403, "forbidden", "bot_id"),
        (await _post(server, path, key=bot.api_key, raw=b"{not json"), 400, "invalid_json", "body"),
        (await _post(server, path, key=bot.api_key, raw=b"[1]"), 400, "invalid_payload", "body"),
        (
            await _post(server, path, {"ConversationID": "a b c d e f g"}, key=bot.api_key),
            400,
            "invalid_payload",
            "ConversationID",
        ),
        (
            await _post(server, path, {"user": "not a dict"}, key=bot.api_key),
            400,
            "invalid_payload",
            "user",
        ),
        (
            await _post(server, path, {"surprise": 1}, key=bot.api_key),
            400,
            "invalid_payload",
            "surprise",
        ),
        (
            await _post(server, path, key=bot.api_key, raw=b"x" * 300_000),
            413,
            "body_too_large",
            "body",
        ),
    ]
    for (status, body), want_status, code, field in cases:
        assert status == want_status, body
        assert body["error"]["code"] == code and body["error"]["field"] == field, body
    taken = await server.handoff(other, ConversationID="shared-id-123")
    status, body = await _post(
        server, path, {"ConversationID": taken["ConversationID"]}, key=bot.api_key
    )
    assert status == 409 and body["error"]["code"] == "conversation_taken"


async def test_health_and_metrics(server: Server) -> None:
    async with server.http.get(server.url + "/healthz") as resp:
        assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
    async with server.http.get(server.url + "/metrics") as resp:
        assert resp.status == 200 and "handoff_" in await resp.text()
    async with server.http.get(server.url + "/api/v1/nothing-here") as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "http_404"


async def test_cors_follows_the_origin_allow_list(tmp_path: Path) -> None:
    from tests.conftest import make_settings, start_server, stop_server

    runner, server = await start_server(
        make_settings(tmp_path, cors_origins=["https://shop.example"])
    )
    try:
        preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
        async with server.http.options(server.url + "/api/v1/auth/login",
                                       headers=preflight) as resp:
            assert resp.status == 204
            assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        evil = {**preflight, "Origin": "https://evil.example"}
        async with server.http.options(server.url + "/api/v1/auth/login", headers=evil) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["field"] == "Origin"
            assert "Access-Control-Allow-Origin" not in resp.headers
    finally:
        await stop_server(runner, server)


async def test_openapi_document_covers_the_contract(server: Server) -> None:
    async with server.http.get(server.url + "/api/v1/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/bots/{bot_id}/handoff", "post"),
        ("/api/v1/bots/{bot_id}/actions/{name}", "put"),
        ("/api/v1/bots/{bot_id}/actions/{name}/test", "post"),
        ("/api/v1/bots/{bot_id}/actions/{name}/publish", "post"),
        ("/api/v1/bots/{bot_id}/actions/{name}/invoke", "post"),
        ("/api/v1/bots/{bot_id}/actions/{name}/logs", "get"),
        ("/api/v1/bots/{bot_id}/env/{name}", "put"),
    ]:
        assert method in paths[path], path
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    save = paths["/api/v1/bots/{bot_id}/actions/{name}"]["put"]
    assert save["security"] == [{"botKey": []}]
    assert schemas["SaveRequest"]["required"] == ["code"]
