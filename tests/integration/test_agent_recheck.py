"""Open agent sockets are checked again: an expired token, a deleted or disabled agent ends them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from handoff.app import AGENT_SOCKETS, ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from tests.conftest import TIMEOUT, Bot, Client, Server, make_settings, start_server, stop_server


async def until(condition: Any, *, within: float = TIMEOUT) -> None:
    """Poll ``condition()`` until true, at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def assigned(server: Server, bot: Bot, agent: AgentRecord) -> tuple[str, Client]:
    sock = await server.agent_socket(agent)
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    return cid, sock


async def ended(sock: Client, words: str) -> None:
    """The socket was told it is unauthorized (and why), then disconnected."""
    event = await sock.rec.wait("unauthorized")
    assert event["code"] == "unauthorized" and words in event["message"], event
    await until(lambda: not sock.sio.connected)


async def status_of(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with server.http.request(method, server.url + path, **kwargs) as resp:
        return resp.status, await resp.json()


async def refused_connect(server: Server, token: str) -> str:
    """The message of the connect error a socket with ``token`` gets."""
    refusal = await server.refused_agent_connect({"token": token})
    assert refusal["code"] == "unauthorized", refusal
    return str(refusal["message"])


async def test_healthy_sockets_are_left_alone(server: Server) -> None:
    agent = await server.agent(await server.bot())
    sock = await server.agent_socket(agent)
    assert await server.app[AGENT_SOCKETS].recheck() == 0
    assert (await sock.call("queue", {}))["ok"]
    assert sock.rec.of("unauthorized") == []


async def test_disabling_an_agent_ends_their_sockets_and_their_sign_in(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot)
    cid, sock = await assigned(server, bot, agent)
    second = await server.agent_socket(agent, online=False)  # another tab
    token = await server.login(agent.email)
    repo = AgentRepo(server.app[ENGINE])
    await repo.set_disabled(agent.id, True)

    assert await server.app[AGENT_SOCKETS].recheck() == 2
    await ended(sock, "disabled")
    await ended(second, "disabled")
    # The agent's chat follows the normal agent-grace path back to the queue.
    await server.service.sweep(time.time() + server.settings.agent_grace_seconds + 1)
    assert (await server.service.conversation(cid)).state == "queued"

    status, body = await status_of(
        server,
        "POST",
        "/api/v1/auth/login",
        json={"email": agent.email, "password": "s3cret-pass"},
    )
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        403,
        "agent_disabled",
        "email",
    )
    status, body = await status_of(
        server, "GET", "/api/v1/agents/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (status, body["error"]["code"]) == (403, "agent_disabled")
    assert "disabled" in await refused_connect(server, token)

    await repo.set_disabled(agent.id, False)
    back = await server.agent_socket(agent)
    assert (await back.call("queue", {}))["ok"]


async def test_deleting_an_agent_ends_their_sockets_and_keeps_their_history(
    server: Server,
) -> None:
    bot = await server.bot()
    agent = await server.agent(bot)
    cid, sock = await assigned(server, bot, agent)
    assert (await sock.call("send_message", {"conversation_id": cid, "text": "hello"}))["ok"]
    token = await server.login(agent.email)
    assert await AgentRepo(server.app[ENGINE]).delete(agent.id)

    await server.app[AGENT_SOCKETS].recheck()
    await ended(sock, "no longer exists")
    status, body = await status_of(
        server, "GET", "/api/v1/agents/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    assert "no longer exists" in await refused_connect(server, token)
    with pytest.raises(AssertionError, match="invalid_credentials"):
        await server.login(agent.email)
    # What they did stays theirs; the email is free for a new agent.
    assert (await server.service.conversation(cid)).agent_id == agent.id
    assert [m.agent_id for m in await server.messages.history(cid)] == [agent.id]
    again = await server.agent(bot, email=agent.email)
    assert again.id != agent.id and await server.login(agent.email)


async def test_an_expired_token_ends_the_socket_at_the_recheck(server: Server) -> None:
    agent = await server.agent(await server.bot())
    sock = await server.agent_socket(agent)
    later = time.time() + server.settings.token_ttl_seconds + 2
    assert await server.app[AGENT_SOCKETS].recheck(later) == 1
    await ended(sock, "expired")


async def test_an_expired_token_is_refused_on_the_next_event(tmp_path: Path) -> None:
    # A real token that expires while its socket is open; no database read decides it.
    runner, server = await start_server(make_settings(tmp_path, token_ttl_seconds=1))
    try:
        agent = await server.agent(await server.bot())
        sock = await server.agent_socket(agent, online=False)
        answers: list[Any] = []

        async def refused() -> bool:
            ack = await sock.call("queue", {})
            answers.append(ack)
            return not ack["ok"]

        deadline = time.monotonic() + TIMEOUT
        while not await refused():  # the token lives 1-2 s
            assert time.monotonic() < deadline, answers
            await asyncio.sleep(0.05)
        assert answers[-1]["error"]["code"] == "unauthorized"
        assert "expired" in answers[-1]["error"]["message"]
        await ended(sock, "expired")
    finally:
        await stop_server(runner, server)


async def test_disable_agent_in_another_process_ends_the_socket(
    server: Server, tmp_path: Path
) -> None:
    # The CLI changes the database only; the server notices at its next recheck.
    agent = await server.agent(await server.bot())
    sock = await server.agent_socket(agent)
    env = {**os.environ, "HANDOFF_DATA_DIR": str(server.settings.data_dir)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handoff.cli",
        "disable-agent",
        "--email",
        agent.email,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out) == {"agent_id": agent.id, "email": agent.email, "disabled": True}
    assert await server.app[AGENT_SOCKETS].recheck() == 1
    await ended(sock, "disabled")
