"""Every event shape gets an answer, is counted against the socket's rate, and costs one
log line at most (rate-limited), never a traceback an attacker can multiply."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from aiohttp import WSMsgType

from tests.conftest import TIMEOUT, Server

# (what python-socketio's emit sends, what is wrong with it)
SHAPES: list[tuple[Any, str]] = [
    (None, "the payload is missing"),
    (("a", "b"), "came with 2 arguments"),
    (({"ConversationID": "c"}, 2, 3), "came with 3 arguments"),
    ("a string", "must be a JSON object"),
    ([1, 2], "must be a JSON object"),
]


@pytest.mark.parametrize(("payload", "wrong"), SHAPES)
@pytest.mark.parametrize("event", ["username", "from_user", "messages_to_client", "typing"])
async def test_widget_events_of_any_shape_are_answered(
    server: Server, event: str, payload: Any, wrong: str
) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    # python-socketio sends no argument for None, and a tuple as that many arguments.
    ack = await widget.call(event, payload)
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "invalid_payload", ack
    assert ack["error"]["field"] == "payload"
    assert wrong in ack["error"]["message"], ack
    error = await widget.rec.wait("error", lambda e: e["event"] == event)
    assert error == {**ack["error"], "event": event}
    # The socket is still bound and works.
    ack = await widget.call(
        "from_user", {"message": "fine", "ConversationID": cid, "BotID": bot.id}
    )
    assert ack["ok"], ack
    await agent.rec.wait("user_message", lambda d: d["text"] == "fine")


@pytest.mark.parametrize(
    ("payload", "wrong"), [(("a", "b"), "came with 2 arguments"), ("x", "JSON object")]
)
async def test_agent_events_of_any_shape_are_answered(
    server: Server, payload: Any, wrong: str
) -> None:
    bot = await server.bot()
    cid, _widget, agent = await server.live_pair(bot)
    ack = await agent.call("history", payload)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_payload", ack
    assert ack["error"]["field"] == "payload" and wrong in ack["error"]["message"]
    # No payload at all stands for {} on /agent.
    assert (await agent.call("queue"))["ok"]
    assert (await agent.call("history", {"conversation_id": cid}))["ok"]


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("handoff.sockets")]


async def test_a_flood_of_bad_events_is_rate_limited_and_logged_in_a_few_lines(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    bad = await server.widget()
    codes: list[str] = []
    shapes: list[tuple[str, Any]] = [
        ("username", None),
        ("from_user", ("a", "b", "c")),
        ("no_such_event", {}),
    ]
    for i in range(300):
        event, payload = shapes[i % len(shapes)]
        ack = await bad.call(event, payload)
        codes.append(ack["error"]["code"])
    # Every one answered; the ones over the socket's rate are refused as such, the
    # unknown event among them too.
    assert len(codes) == 300
    assert codes[:40].count("rate_limited") == 0
    assert "rate_limited" in codes
    assert {"invalid_payload", "unknown_event", "rate_limited"} <= set(codes)
    lines = _lines(caplog)
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    assert all("\n" not in r.getMessage() for r in lines)
    # Logging is rate-limited per namespace (5 lines a second, bursts of 20); what is
    # over it is counted and told in one summary line.
    assert len(lines) < 60, len(lines)
    summary = [r for r in lines if "were not logged" in r.getMessage()]
    refused = [r for r in lines if "refused" in r.getMessage()]
    assert refused
    if not summary:
        # The summary comes with the next line allowed: another bad event, once the
        # allowance has refilled (polled, bounded).
        deadline = time.monotonic() + TIMEOUT
        while not summary and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await bad.call("username", None)
            summary = [r for r in _lines(caplog) if "were not logged" in r.getMessage()]
    assert summary, "no summary of the lines left out"
    # The other conversation was not disturbed.
    ack = await widget.call("from_user", {"message": "ok", "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"], ack
    await agent.rec.wait("user_message", lambda d: d["text"] == "ok")


async def _raw_socket(server: Server) -> Any:
    """A bare Engine.IO WebSocket, connected to /live_agent, to send broken packets."""
    ws = await server.http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket")
    opened = await ws.receive()
    assert opened.type == WSMsgType.TEXT and opened.data.startswith("0")
    await ws.send_str("40/live_agent,")
    connected = await ws.receive()
    assert connected.data.startswith("40/live_agent,"), connected.data
    return ws


async def test_broken_socketio_packets_cost_one_line_each_at_most(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ws = await _raw_socket(server)
    # Bad JSON, an event with no name, a name that is not a string, an unknown type.
    broken = ['42/live_agent,["username", {', "42/live_agent,[]", "42/live_agent,[[1], 2]", "9"]
    for packet in broken * 10:
        await ws.send_str("4" + packet)
    # A well-formed event after them is still answered, on the same connection.
    await ws.send_str('42/live_agent,7["username"]')
    while True:
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type == WSMsgType.TEXT, msg
        if msg.data.startswith("43/live_agent,7"):
            break
    ack = json.loads(msg.data[len("43/live_agent,7") :])[0]
    assert ack["error"]["field"] == "payload"
    await ws.close()
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    malformed = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert 1 <= len(malformed) <= 21


@pytest.mark.parametrize("frame", ["", "bnot base64!", "9", "x42"])
async def test_a_frame_that_is_not_engineio_closes_the_connection_with_one_line(
    server: Server, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    caplog.set_level(logging.INFO)
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    ws = await _raw_socket(server)
    await ws.send_str(frame)
    closed = await ws.receive(timeout=TIMEOUT)
    while closed.type == WSMsgType.TEXT:  # startConversation, before the frame
        closed = await ws.receive(timeout=TIMEOUT)
    assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), closed
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    assert [r for r in caplog.records if "malformed WebSocket frame" in r.getMessage()]
    ack = await widget.call("from_user", {"message": "ok", "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"], ack
    await agent.rec.wait("user_message", lambda d: d["text"] == "ok")


# A payload that does not decode, or holds a packet of a type clients do not send, ends
# the session (400); Socket.IO garbage inside a good packet is dropped, the session lives.
POSTS = [("bnot base64!", 400), ("\x1e\x1e", 400), ("9", 400), ("6", 400), ("42/live_agent,[", 200)]


@pytest.mark.parametrize(("body", "status"), POSTS)
async def test_a_polling_payload_that_is_not_engineio_costs_one_line(
    server: Server, caplog: pytest.LogCaptureFixture, body: str, status: int
) -> None:
    caplog.set_level(logging.INFO)
    async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as resp:
        sid = json.loads((await resp.text())[1:])["sid"]
    url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    async with server.http.post(url, data=b"40/live_agent,") as resp:
        assert resp.status == 200
    async with server.http.post(url, data=body.encode()) as resp:
        assert resp.status == status
    async with server.http.post(url, data=b"3") as resp:  # a pong: is the session alive?
        assert resp.status == status
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    assert [r for r in caplog.records if "malformed" in r.getMessage()]


async def test_unknown_agent_events_count_against_the_rate(server: Server) -> None:
    bot = await server.bot()
    _cid, _widget, agent = await server.live_pair(bot)
    codes = [(await agent.call("dance", {}))["error"]["code"] for _ in range(250)]
    # Bursts of 200 (5x the widget's), then refused as over the rate, not just unknown.
    assert codes[:150] == ["unknown_event"] * 150
    assert "rate_limited" in codes
