"""Limits on what a widget sends: bytes per conversation, and oversized polling posts."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, ClientTimeout

from tests.conftest import TIMEOUT, Server, make_settings, start_server, stop_server


@pytest.fixture
async def tight(tmp_path: Path) -> AsyncIterator[Server]:
    """A server whose conversations may send 300 kB at once and next to nothing after."""
    settings = make_settings(tmp_path, widget_bytes_per_second=1, widget_bytes_burst=300_000)
    runner, srv = await start_server(settings)
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


def _transcript(size: int) -> list[dict[str, str]]:
    line = "x" * 3_990
    return [{"sender": "user", "message": line} for _ in range(size // 4_000)]


async def test_a_conversation_sends_no_more_bytes_than_its_budget(tight: Server) -> None:
    server = tight
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    other_cid, other_widget, _ = await server.live_pair(bot)
    # ~200 kB each: the first fits the burst, the second does not, though the socket has
    # sent two events only (its event rate is 20 a second).
    big = {"messages": _transcript(200_000), "bot_id": bot.id}
    first = await widget.call("messages_to_client", big)
    assert first["ok"], first
    second = await widget.call("messages_to_client", big)
    assert second["ok"] is False, second
    assert (second["error"]["code"], second["error"]["field"]) == ("rate_limited", "messages")
    error = await widget.rec.wait("error", lambda e: e["event"] == "messages_to_client")
    assert error["code"] == "rate_limited"
    # The budget is the conversation's: a second socket bound to it shares it.
    tab = await server.widget(cid, bot)
    third = await tab.call("messages_to_client", big)
    assert third["error"]["code"] == "rate_limited", third
    # What was refused never reached the agent, nor the store.
    transcripts = [t for t in agent.rec.of("transcript") if t["conversation_id"] == cid]
    assert len(transcripts) == 1
    assert len(await server.messages.transcript(cid)) == len(_transcript(200_000))
    # Small messages still fit what is left; another conversation has its own budget.
    ack = await widget.call("from_user", {"message": "hi", "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"], ack
    assert (await other_widget.call("messages_to_client", big))["ok"]
    assert len(await server.messages.transcript(other_cid)) == len(big["messages"])


async def _polling_session(http: ClientSession, url: str) -> str:
    async with http.get(f"{url}/socket.io/?EIO=4&transport=polling") as resp:
        sid = json.loads((await resp.text())[1:])["sid"]
    async with http.post(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}",
                         data=b"40/live_agent,") as resp:
        assert resp.status == 200
    return str(sid)


@pytest.mark.parametrize("size", [1_100_000, 10_000_000])
async def test_an_oversized_polling_post_is_answered_413_at_once(
    server: Server, size: int
) -> None:
    sid = await _polling_session(server.http, server.url)
    url = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    body = io.BytesIO(b"4" + b"x" * size)
    # Before, nothing came back until the client gave up: TIMEOUT here.
    async with ClientSession(timeout=ClientTimeout(total=TIMEOUT)) as http:
        async with http.post(url, data=body) as resp:
            assert resp.status == 413
            assert "bytes" in await resp.text()
    # The session is closed, as Engine.IO closes one that sends too much.
    async with server.http.post(url, data=b"3") as resp:
        assert resp.status == 400
    # The server goes on: a new session works.
    assert await _polling_session(server.http, server.url)
