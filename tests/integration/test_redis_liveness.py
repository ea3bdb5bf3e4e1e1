"""On PostgreSQL + Redis: a process killed with sockets open lets them go, and a Redis that
lost its data is rebuilt while the server runs, its sockets reconnecting to be counted.

The server under test drives its heartbeat only when the test says so
(``service.heartbeat()``, the loop's one step), except where a second, real
``handoff serve`` process is killed: there both beat on their own, quickly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from handoff.app import SIO
from handoff.protocol import events as ev
from handoff.routing.shared_state import Beat
from handoff.sockets import rooms
from tests.conftest import (
    REDIS_URL,
    TIMEOUT,
    Bot,
    Recorder,
    Server,
    drop_prefix,
    free_port,
    make_settings,
    redis_or_skip,
    start_server,
    stop_server,
)
from tests.integration.cluster import wait_until
from tests.integration.test_js_widget import JsWidget, StartWidget, js_widget, node

__all__ = ["js_widget", "node"]  # fixtures, used by name

HANDOFF = Path(sys.executable).parent / "handoff"


@pytest.fixture
def redis_settings(
    tmp_path: Path, migrated_postgres_url: str, redis_prefix: str
) -> Callable[..., Any]:
    def settings(**overrides: Any) -> Any:
        return make_settings(
            tmp_path,
            database_url=migrated_postgres_url,
            redis_url=REDIS_URL,
            redis_prefix=redis_prefix,
            **overrides,
        )

    return settings


@pytest.fixture
async def server(redis_settings: Callable[..., Any]) -> AsyncIterator[Server]:
    # The heartbeat loop never fires by itself here: the test calls its step.
    runner, srv = await start_server(redis_settings(heartbeat_seconds=300))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


class Widget:
    """A python-socketio widget that reconnects, and binds again on each connect (as the
    seed snippet does: it answers every ``startConversation`` with ``username``)."""

    def __init__(self, url: str, conversation_id: str, bot: Bot, *, reconnect: bool = True) -> None:
        self.url = url
        self.rec = Recorder()
        self.sio = socketio.AsyncClient(reconnection=reconnect, reconnection_delay=0.1)
        self.binds: list[dict[str, Any]] = []
        self.bound = asyncio.Event()
        hello = {"ConversationID": conversation_id, "BotID": bot.id}

        async def catch_all(event: str, *args: Any) -> None:
            await self.rec.add(event, args[0] if args else None)

        async def start(_: Any = None) -> None:
            await self.rec.add(ev.START_CONVERSATION, None)
            self.bound.clear()
            self.binds.append(await self.call("username", hello))
            self.bound.set()

        async def disconnected(reason: Any = None) -> None:
            await self.rec.add("disconnect", str(reason))

        self.sio.on("*", catch_all, namespace="/live_agent")
        self.sio.on(ev.START_CONVERSATION, start, namespace="/live_agent")
        self.sio.on("disconnect", disconnected, namespace="/live_agent")

    async def connect(self) -> None:
        await self.sio.connect(
            self.url, namespaces=["/live_agent"], transports=["websocket"], wait_timeout=TIMEOUT
        )
        await asyncio.wait_for(self.bound.wait(), TIMEOUT)

    async def call(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, namespace="/live_agent", timeout=TIMEOUT)

    async def rebound(self, times: int) -> None:
        """Wait until the widget has bound ``times`` times, the last one successfully."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.binds) < times or not self.bound.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"bound {self.binds!r}; events {self.rec.events!r}")
            await asyncio.sleep(0.02)
        assert self.binds[-1]["ok"], self.binds

    async def close(self) -> None:
        await self.sio.disconnect()


async def _lose_the_state(server: Server) -> None:
    """What a Redis restarted without persistence looks like to this deployment."""
    client = await redis_or_skip()
    try:
        await drop_prefix(client, server.settings.redis_prefix)
    finally:
        await client.aclose()


async def test_a_lost_state_is_rebuilt_and_every_socket_counted_again(server: Server) -> None:
    bot = await server.bot()
    agent_record = await server.agent(bot)
    agent = await server.agent_socket(agent_record)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = Widget(server.url, cid, bot)
    await widget.connect()
    try:
        await agent.rec.wait("conversation_assigned")
        before = await server.state.generation(cid)
        assert before is not None
        ack = await widget.call(
            "from_user", {"message": "one", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["ok"], ack

        await _lose_the_state(server)
        # Until the heartbeat notices, a message is refused for now, not as closed.
        ack = await widget.call(
            "from_user", {"message": "two", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["ok"] is False and ack["error"]["code"] == "state_unavailable", ack
        assert (await server.service.conversation(cid)).state == "assigned"

        assert await server.service.heartbeat() is Beat.LOST
        # Rebuilt from the database; the widget was closed under it (a closed transport,
        # not a Socket.IO disconnect), reconnected by itself and bound again.
        await widget.rebound(2)
        # python-socketio's client calls it a transport error; JavaScript's a transport close.
        assert widget.rec.of("disconnect") == ["transport error"]
        assert await server.state.assigned_agent(cid) == agent_record.id
        assert await server.state.touch_connection("widget", cid, 0) == 1
        after = await server.state.generation(cid)
        assert after is not None and after > before  # never a number handed out before
        ack = await widget.call(
            "from_user", {"message": "three", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["ok"], ack
        assert await server.service.heartbeat() is Beat.OK
        history = await server.messages.history(cid, after_seq=0)
        # "two" was refused, never half stored.
        assert [m.text for m in history if m.sender == "user"] == ["one", "three"]
    finally:
        await widget.close()


async def test_only_a_closed_transport_brings_the_seed_widget_back(
    server: Server, js_widget: StartWidget
) -> None:
    # 3.1.3 (the seed's) on long-polling, 4.8.1 on WebSocket: both ways a transport ends.
    for pkg, transport in (("sio3", "polling"), ("sio4", "websocket")):
        bot = await server.bot()
        record = await server.agent(bot, name="Anna")
        await server.agent_socket(record)
        cid = (await server.handoff(bot))["ConversationID"]
        widget: JsWidget = await js_widget(pkg, cid, bot.id, transports=transport)
        await widget.told("Anna joined the chat.")

        await _lose_the_state(server)
        assert await server.service.heartbeat() is Beat.LOST
        # The transport ended, not a Socket.IO DISCONNECT ("io server disconnect", after
        # which no client reconnects): a polling client may see the CLOSE packet or, if
        # its pending poll is cut first, an error; both reconnect.
        reason = (await widget.wait("disconnect"))["reason"]
        assert reason in ("transport close", "transport error"), reason
        await widget.wait("connect")
        # Bound again: counted, and a new socket of the agent has the chat back.
        deadline = time.monotonic() + TIMEOUT
        while await server.state.touch_connection("widget", cid, 0) != 1:
            assert time.monotonic() < deadline, "the seed widget did not bind again"
            await asyncio.sleep(0.05)
        back = await server.agent_socket(record)
        await back.rec.wait("conversation_assigned")
        ack = await back.call("send_message", {"conversation_id": cid, "text": "still here?"})
        assert ack["ok"], ack
        await widget.told("still here?")

        # A Socket.IO DISCONNECT instead: the client takes it as the server's wish.
        sio = server.app[SIO]
        for sid, _ in list(sio.manager.get_participants("/live_agent", rooms.widget_room(cid))):
            await sio.disconnect(sid, namespace="/live_agent")
        assert (await widget.wait("disconnect"))["reason"] == "io server disconnect"
        await asyncio.sleep(1.0)  # its reconnect delay is 1 s at first: it would be back
        assert not (await widget.state())["connected"]
        await widget.close()


async def _serve(settings: Any, port: int) -> tuple[asyncio.subprocess.Process, str]:
    env = {
        **os.environ,
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_PORT": str(port),
        "HANDOFF_DATA_DIR": str(settings.data_dir / "other"),
        "HANDOFF_DATABASE_URL": settings.database_url,
        "HANDOFF_REDIS_URL": settings.redis_url,
        "HANDOFF_REDIS_PREFIX": settings.redis_prefix,
        "HANDOFF_SECRET_KEY": settings.secret_key,
        "HANDOFF_HEARTBEAT_SECONDS": "0.2",
        "HANDOFF_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        str(HANDOFF),
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            assert proc.returncode is None, "handoff serve exited"
            assert time.monotonic() < deadline, "handoff serve did not come up"
            await asyncio.sleep(0.1)


async def test_a_killed_processs_sockets_let_go(
    redis_settings: Callable[..., Any],
) -> None:
    runner, server = await start_server(redis_settings(heartbeat_seconds=0.2))
    proc, other = await _serve(server.settings, free_port())
    try:
        bot = await server.bot()
        record = await server.agent(bot)
        agent = await server.agent_socket(record)  # on this process
        cid = (await server.handoff(bot))["ConversationID"]
        widget = Widget(other, cid, bot, reconnect=False)  # on the other process
        await widget.connect()
        await agent.rec.wait("conversation_assigned")
        far_record = await server.agent(bot)  # an agent on the other process too
        far_agent = socketio.AsyncClient(reconnection=False)
        await far_agent.connect(
            other,
            namespaces=["/agent"],
            auth={"token": await server.login(far_record.email)},
            transports=["websocket"],
        )
        ack = await far_agent.call(
            "set_status", {"status": "away"}, namespace="/agent", timeout=TIMEOUT
        )
        assert ack["ok"], ack
        far = await server.state.get_agent(far_record.id)
        assert far is not None and far.connected
        assert await server.state.touch_connection("widget", cid, 0) == 1

        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # This process reaps the dead one: the widget's grace period starts (the agent
        # is told, as when a last socket leaves), the far agent is no longer connected.
        assert await agent.rec.wait("user_left") == {"conversation_id": cid}
        assert await server.state.touch_connection("widget", cid, 0) == 0

        async def far_let_go() -> bool:  # in the same reap, maybe a moment after the widget
            far = await server.state.get_agent(far_record.id)
            assert far is not None
            return not far.connected

        await wait_until(far_let_go, "the far agent let go")
        # The person comes back (the load balancer sends them here) within the grace period.
        back = Widget(server.url, cid, bot)
        await back.connect()
        assert await agent.rec.wait("user_returned") == {"conversation_id": cid}
        await back.close()
        await widget.sio.disconnect()
        await far_agent.disconnect()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await stop_server(runner, server)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"HANDOFF_REDIS_PREFIX": ""}, "HANDOFF_REDIS_PREFIX: String should have at least 1"),
        ({"HANDOFF_HEARTBEAT_SECONDS": "0"}, "HANDOFF_HEARTBEAT_SECONDS: Input should be greater"),
        (
            {"HANDOFF_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "HANDOFF_PORT": "0"},
            "HANDOFF_REDIS_URL: Redis does not answer",
        ),
    ],
)
def test_bad_redis_settings_stop_the_start_with_the_setting_named(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    environ = {**os.environ, "HANDOFF_DATA_DIR": str(tmp_path / "data"), **env}
    done = subprocess.run(
        [str(HANDOFF), "serve"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
