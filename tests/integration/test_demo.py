"""The demo (HANDOFF_DEMO=true) on a real server: the page, its endpoint, the whole two-tab path.

The person's side is the seed snippet cut out of ``client_examples/widget.html``, run under
Node with the official socket.io-client 3.1.3 (``tests/js/seed_widget.js``); the agent is a
python-socketio ``/agent`` client signed in with the demo credentials the bootstrap made.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handoff.api.demo import DEMO, DEMO_PAGE
from handoff.api.security_headers import OTHER_POLICY, inline_hashes, page_policy
from handoff.app import ENGINE
from handoff.demo import DEMO_AGENT_EMAIL, DEMO_BOT_ID
from handoff.storage.agents import AgentRepo
from handoff.storage.bots import BotRepo
from tests.conftest import Client, Server, make_settings, start_server, stop_server
from tests.integration import test_js_widget
from tests.integration.test_js_widget import StartWidget, assert_seed_snippet

# The Node seed-widget fixtures, used here by name (js_widget runs on this module's server).
node = test_js_widget.node
js_widget = test_js_widget.js_widget

WIDGET_DIR = DEMO_PAGE.parent
CONVERSE = "/demo/api/converse"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """The real server with the demo on (this module's ``server``, also for ``js_widget``)."""
    runner, srv = await start_server(make_settings(tmp_path, demo=True))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


async def converse(server: Server, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    async with server.http.post(server.url + CONVERSE, json=body, **kwargs) as resp:
        return resp.status, await resp.json()


async def turn(server: Server, cid: str, **given: Any) -> dict[str, Any]:
    status, answer = await converse(server, {"ConversationID": cid, **given})
    assert status == 200, answer
    return dict(answer)


def texts(answer: dict[str, Any]) -> list[str]:
    return [m["text"] for m in answer["messages"] if m.get("text")]


async def demo_agent(server: Server) -> Client:
    """The demo agent, signed in with the credentials the bootstrap made, online."""
    created = server.app[DEMO].created
    assert created is not None and created.email == DEMO_AGENT_EMAIL
    token = await server.login(created.email, created.password)
    sock = await server._connect("/agent", auth={"token": token})
    ack = await sock.call("set_status", {"status": "online"})
    assert ack["ok"], ack
    return sock


# ------------------------------------------------------------------------------- the page


async def test_the_page_is_served_with_only_its_inline_snippet_allowed(server: Server) -> None:
    html = DEMO_PAGE.read_text(encoding="utf-8")
    async with server.http.get(server.url + "/demo/widget.html") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert await resp.read() == DEMO_PAGE.read_bytes()
        policy = resp.headers["Content-Security-Policy"]
        etag = resp.headers["ETag"]
    scripts, styles = inline_hashes(html)
    assert len(scripts) == 1 and styles == []  # the snippet's script; styles come from a file
    assert policy == page_policy(scripts)
    assert "unsafe-inline" not in policy and policy.count("'sha256-") == 1
    # A reload's "not modified" carries the same policy: the browser keeps its headers.
    async with server.http.get(
        server.url + "/demo/widget.html", headers={"If-None-Match": etag}
    ) as resp:
        assert resp.status == 304
        assert resp.headers["Content-Security-Policy"] == policy
    # Its Socket.IO part is the seed's, with only the documented differences.
    assert_seed_snippet(html)
    assert re.findall(r"""<script\s+src="([^"]*)""", html) == [
        "/console/vendor/socket.io.min.js",
        "widget.js",
    ]
    assert "://" not in html  # nothing from a CDN
    # Controls a person (and a browser test) finds by name, and a status line.
    assert 'aria-label="Message"' in html and 'aria-label="Send"' in html
    assert 'id="status"' in html and 'role="log"' in html
    for name, kind in (("widget.js", "javascript"), ("widget.css", "css")):
        async with server.http.get(f"{server.url}/demo/{name}") as resp:
            assert resp.status == 200 and kind in resp.content_type
            assert await resp.read() == (WIDGET_DIR / name).read_bytes()
            etag = resp.headers["ETag"]
        async with server.http.get(
            f"{server.url}/demo/{name}", headers={"If-None-Match": etag}
        ) as resp:
            assert resp.status == 304
            assert resp.headers["Content-Security-Policy"] == OTHER_POLICY
    # Untrusted text goes in as text: the script never parses HTML.
    script = (WIDGET_DIR / "widget.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)


async def test_demo_paths_redirect_and_serve_nothing_else(server: Server) -> None:
    for path in ("/demo", "/demo/"):
        async with server.http.get(server.url + path, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/demo/widget.html"
    for name in ("python_bot.py", "README.md", "..%2Fpyproject.toml", "rasa_bot"):
        async with server.http.get(f"{server.url}/demo/{name}") as resp:
            assert resp.status == 404, name
            assert (await resp.json())["error"]["code"] == "not_found"


# ------------------------------------------------------------------ the two-tab path


async def test_demo_bot_to_agent_and_back_with_the_seed_snippet(
    server: Server, js_widget: StartWidget
) -> None:
    agent = await demo_agent(server)
    cid = "demo-two-tabs-1"
    hello = await turn(server, cid, user={"full_name": "Thandi"})
    assert texts(hello)[0] == "Hi Thandi! I'm the demo shop bot." and hello["state"] == "bot"
    items = hello["messages"][1]["data"]["items"]
    assert [i["payload"]["message"] for i in items] == ["/faq_hours", "/order", "/agent"]
    offer = await turn(server, cid, payload="/agent")
    assert offer["session"]["node"] == "offer_human"
    handed = await turn(server, cid, payload="/handoff")
    assert handed["state"] == "with_agent" and texts(handed) == ["Connecting you to an agent..."]
    handoff = handed["handoff"]
    assert handoff["ConversationID"] == cid and handoff["BotID"] == DEMO_BOT_ID
    assert handoff["socket"] == {"url": server.url, "namespace": "/live_agent"}

    # The page's snippet binds what converse returned; the demo bot is in manual mode.
    widget = await js_widget(
        "sio3", handoff["ConversationID"], handoff["BotID"], page=DEMO_PAGE
    )
    await widget.wait("startConversation")
    queued = await agent.rec.wait(
        "queue_updated", lambda d: any(c["conversation_id"] == cid for c in d["conversations"])
    )
    entry = next(c for c in queued["conversations"] if c["conversation_id"] == cid)
    assert entry["bot_id"] == DEMO_BOT_ID
    accepted = await agent.call("accept", {"conversation_id": cid})
    assert accepted["ok"], accepted
    await widget.told("joined the chat.")
    await widget.wait("messages")

    # Both ways: the snippet's from_user block, and the agent's send_message as to_user.
    assert (await widget.send("is my parcel lost?"))["connected"]
    said = await agent.rec.wait("user_message", lambda d: d["conversation_id"] == cid)
    assert said["text"] == "is my parcel lost?"
    ack = await agent.call("send_message", {"conversation_id": cid, "text": "<b>No</b>, it's fine"})
    assert ack["ok"], ack
    assert await widget.told("it's fine") == "<b>No</b>, it's fine"
    meanwhile = await turn(server, cid, message="hello?")
    assert meanwhile["state"] == "with_agent"

    # The agent hands the person back to the bot: disconnect_socket, and the snippet leaves.
    outcome = {"status": "back_to_bot", "note": "refund", "variables": {"refund_id": "R42"}}
    ack = await agent.call("close", {"conversation_id": cid, "outcome": outcome})
    assert ack["ok"], ack
    await widget.wait("disconnect_socket")
    assert (await widget.wait("disconnect"))["reason"] == "io client disconnect"

    # The next converse turn is the bot again, where the handoff returns to.
    back = await turn(server, cid)
    assert back["state"] == "bot" and back["handoff"] is None
    assert texts(back)[0] == "Welcome back! Your refund R42 is on its way. Anything else?"
    faq = await turn(server, cid, payload="/faq_hours")
    assert "Monday to Friday" in texts(faq)[0] and faq["state"] == "bot"
    assert not widget.rec.of("error"), widget.rec.of("error")


# --------------------------------------------------------------------------- bad input


def field_of(body: Any) -> tuple[str, str | None]:
    return body["error"]["code"], body["error"].get("field")


async def test_bad_bodies_are_400_naming_the_field(server: Server) -> None:
    async with server.http.post(
        server.url + CONVERSE, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400 and field_of(await resp.json()) == ("invalid_json", "body")
    cases: list[tuple[Any, str]] = [
        ([1, 2], "body"),
        ({}, "ConversationID"),
        ({"ConversationID": "short"}, "ConversationID"),
        ({"ConversationID": "demo-bad-input", "payload": 1}, "payload"),
        ({"ConversationID": "demo-bad-input", "message": "x" * 4001}, "message"),
        ({"ConversationID": "demo-bad-input", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        status, answer = await converse(server, body)
        assert status == 400, (body, answer)
        assert field_of(answer) == ("invalid_payload", field), (body, answer)
    status, answer = await converse(
        server, {"ConversationID": "demo-bad-input", "message": "a", "payload": "/menu"}
    )
    assert status == 400 and answer["error"]["code"] == "invalid_payload"
    # Too big for any body: refused before it is read.
    big = json.dumps({"ConversationID": "demo-bad-input", "message": "x" * 300_000})
    async with server.http.post(
        server.url + CONVERSE, data=big, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 413
        assert field_of(await resp.json()) == ("body_too_large", "body")
    # None of it disturbed the bot: a good turn still works.
    assert (await turn(server, "demo-bad-input"))["state"] == "bot"


async def test_demo_calls_are_rate_limited_per_address(tmp_path: Path) -> None:
    runner, server = await start_server(
        make_settings(tmp_path, demo=True, demo_rate_limit="3/minute")
    )
    try:
        for _ in range(2):
            assert (await turn(server, "demo-rate-limited"))["state"] == "bot"
        status, _ = await converse(server, {"ConversationID": 1})  # bad ones count too
        assert status == 400
        async with server.http.post(
            server.url + CONVERSE, json={"ConversationID": "demo-rate-limited"}
        ) as resp:
            assert resp.status == 429
            assert field_of(await resp.json()) == ("rate_limited", "address")
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
    finally:
        await stop_server(runner, server)


async def test_with_the_demo_off_every_demo_path_is_404_and_no_demo_account_exists(
    tmp_path: Path,
) -> None:
    runner, server = await start_server(make_settings(tmp_path))
    try:
        assert not server.settings.demo and DEMO not in server.app
        status, answer = await converse(server, {"ConversationID": "demo-off-1234"})
        assert status == 404 and answer["error"]["code"] == "demo_off"
        for path in ("/demo", "/demo/", "/demo/widget.html", "/demo/widget.js"):
            async with server.http.get(server.url + path, allow_redirects=False) as resp:
                assert resp.status == 404, path
        engine = server.app[ENGINE]
        assert await BotRepo(engine).get(DEMO_BOT_ID) is None
        assert await AgentRepo(engine).by_email(DEMO_AGENT_EMAIL) is None
    finally:
        await stop_server(runner, server)


async def test_the_demo_makes_nothing_on_a_database_that_had_bots(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runner, server = await start_server(settings)
    try:
        await server.bot()
    finally:
        await stop_server(runner, server)
    runner, server = await start_server(settings.model_copy(update={"demo": True}))
    try:
        assert server.app[DEMO].bot_id is None and server.app[DEMO].created is None
        status, answer = await converse(server, {"ConversationID": "demo-nothing-1"})
        assert status == 404 and field_of(answer) == ("no_demo_bot", "bot_id")
        engine = server.app[ENGINE]
        assert await AgentRepo(engine).by_email(DEMO_AGENT_EMAIL) is None
    finally:
        await stop_server(runner, server)
