"""Debian's nginx, running ``deploy/nginx.conf`` (the configuration docs/deployment.md
gives), in front of two processes: WebSocket and long-polling, with sticky sessions.

All test traffic comes from this machine, but not from one address: every address in
127.0.0.0/8 is loopback, so each client binds its own (127.0.N.1) and the
``hash $remote_addr`` spreads them over both processes as it would spread real people.
nginx's access log names the upstream of every request, which shows each polling
session stayed on its process. The same file without its ``hash`` line (round robin)
breaks polling: that is why the line is there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.conftest import TIMEOUT, Bot, Client, Recorder
from tests.integration.cluster import Cluster, say
from tests.integration.multiprocess.conftest import MakeCluster, start_seed_widget
from tests.integration.nginx import DEPLOY_CONF, Nginx

pytestmark = pytest.mark.timeout(120)

# nginx connects to the processes from 127.0.0.1; its X-Forwarded-For names the client.
BEHIND_NGINX = {
    "HANDOFF_TRUSTED_PROXIES": "127.0.0.1",
    "HANDOFF_LOGIN_FAILURES_PER_ADDRESS": "3/15 minutes",
}


@dataclass
class Front:
    cluster: Cluster
    nginx: Nginx
    sessions: list[aiohttp.ClientSession]
    clients: list[Client]

    async def connect(
        self, namespace: str, source: str, transports: list[str], auth: Any = None
    ) -> Client:
        """A python-socketio client through nginx from address ``source``."""
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
        self.sessions.append(http)
        sio = socketio.AsyncClient(reconnection=False, http_session=http)
        rec = Recorder()

        async def catch_all(event: str, *args: Any) -> None:
            await rec.add(event, args[0] if args else None)

        sio.on("*", catch_all, namespace=namespace)
        await sio.connect(
            self.nginx.url,
            namespaces=[namespace],
            auth=auth,
            transports=transports,
            wait_timeout=TIMEOUT,
        )
        client = Client(sio, rec, namespace)
        self.clients.append(client)
        return client

    async def widget(self, cid: str, bot: Bot, source: str, transports: list[str]) -> Client:
        client = await self.connect("/live_agent", source, transports)
        await client.rec.wait("startConversation")
        ack = await client.call("username", {"ConversationID": cid, "BotID": bot.id})
        assert ack["ok"], ack
        return client

    async def upstream_of(self, source: str) -> str:
        """The process nginx sends address ``source`` to (a WebSocket's request is logged
        only when it ends, so ask with a plain request: the hash is the same)."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(f"{self.nginx.url}/healthz") as resp,
        ):
            assert resp.status == 200
        # nginx logs a request after it has answered it: the line may come a moment later.
        deadline = time.monotonic() + TIMEOUT
        while True:
            lines = [
                line
                for line in self.nginx.access()
                if line.remote == source and "/healthz" in line.request
            ]
            if lines:
                return lines[-1].upstream
            assert time.monotonic() < deadline, self.nginx.logs()
            await asyncio.sleep(0.02)

    def sessions_upstreams(self, client: Client) -> set[str]:
        """The processes that served this polling client's requests, by nginx's log."""
        sid = client.sio.eio.sid
        return {line.upstream for line in self.nginx.access() if line.sid == sid}


@pytest.fixture
async def front(make_cluster: MakeCluster, tmp_path: Path) -> AsyncIterator[Front]:
    cluster = await make_cluster(2, env=BEHIND_NGINX)
    nginx = Nginx(tmp_path / "nginx", [n.port for n in cluster.nodes])
    await nginx.start()
    made = Front(cluster, nginx, [], [])
    try:
        yield made
    finally:
        # nginx first: it cuts every client's connection, so none waits on a long-poll.
        await nginx.close()
        print(nginx.logs())
        await asyncio.gather(*(_close(c) for c in made.clients))
        for http in made.sessions:
            await http.close()


async def _close(client: Client) -> None:
    if client.sio.connected:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 1)


async def test_both_transports_through_nginx_with_sticky_sessions(front: Front) -> None:
    cluster = front.cluster
    bot = await cluster.bot()
    agent = await cluster.agent(bot, name="Anna", capacity=20)
    token = await cluster.wire(front.nginx.url).login(agent.email)
    sock = await front.connect("/agent", "127.0.200.1", ["websocket"], auth={"token": token})
    assert sock.sio.transport() == "websocket"
    assert (await sock.call("set_status", {"status": "online"}))["ok"]
    agent_on = await front.upstream_of("127.0.200.1")

    # Polling widgets from one address after another, until one lands on each process.
    widgets: dict[str, tuple[str, Client]] = {}
    for n in range(1, 30):
        cid = (await cluster.wire(front.nginx.url).handoff(bot))["ConversationID"]
        widget = await front.widget(cid, bot, f"127.0.{n}.1", ["polling"])
        assert widget.sio.transport() == "polling"
        (up,) = front.sessions_upstreams(widget)
        assert up == await front.upstream_of(f"127.0.{n}.1")
        widgets.setdefault(up, (cid, widget))
        if len(widgets) == 2:
            break
    assert len(widgets) == 2, "the hash sent every address to one process"
    assert {f"127.0.0.1:{n.port}" for n in cluster.nodes} == set(widgets)

    for up, (cid, widget) in widgets.items():
        await sock.rec.wait(
            "conversation_assigned", lambda d, c=cid: d["conversation"]["conversation_id"] == c
        )
        for i in range(3):
            ack = await widget.call("from_user", say(cid, bot, f"{up} says {i}"))
            assert ack["ok"], ack
            await sock.rec.wait("user_message", lambda d, t=f"{up} says {i}": d["text"] == t)
            sent = await sock.call("send_message", {"conversation_id": cid, "text": f"to {up} {i}"})
            assert sent["ok"], sent
            await widget.rec.wait("to_user", lambda d, t=f"to {up} {i}": d["message"] == t)
    # One of the two widgets was on the other process than the agent's WebSocket.
    assert agent_on in widgets and len(set(widgets) - {agent_on}) == 1

    # Stickiness, as nginx saw it: every request of a session went to one process and
    # was answered; both processes served sessions.
    by_sid: dict[str, set[str]] = collections.defaultdict(set)
    for line in front.nginx.access():
        if line.sid is not None:
            by_sid[line.sid].add(line.upstream)
            assert line.status in (101, 200), line
    assert all(len(ups) == 1 for ups in by_sid.values()), by_sid
    assert len(set().union(*by_sid.values())) == 2


async def test_the_seed_widget_through_nginx_polls_then_upgrades(
    front: Front, node_exe: str
) -> None:
    cluster = front.cluster
    bot = await cluster.bot()
    sock = await cluster.nodes[0].server.agent_socket(await cluster.agent(bot, name="Anna"))
    cid = (await cluster.wire(front.nginx.url).handoff(bot))["ConversationID"]
    widget = await start_seed_widget(node_exe, front.nginx.url, cid, bot.id)  # 3.1.3
    try:
        assert (await widget.wait("open"))["transport"] == "polling"
        await widget.wait("startConversation")
        await sock.rec.wait("conversation_assigned")
        await widget.told("Anna joined the chat.")
        assert (await widget.wait("upgrade"))["transport"] == "websocket"
        assert (await widget.send("hello through nginx"))["connected"]
        await sock.rec.wait("user_message", lambda d: d["text"] == "hello through nginx")
        assert (await sock.call("send_message", {"conversation_id": cid, "text": "hi"}))["ok"]
        await widget.told("hi")
    finally:
        await widget.close()


async def test_without_the_hash_line_polling_breaks(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    """The control: the same file, round robin instead of sticky. Long-polling's second
    request lands on the process that never saw the session and is refused."""
    cluster = await make_cluster(2)
    text = DEPLOY_CONF.read_text()
    sticky = "    hash $remote_addr consistent;\n"
    assert text.count(sticky) == 1
    nginx = Nginx(
        tmp_path / "nginx-rr", [n.port for n in cluster.nodes], source=text.replace(sticky, "")
    )
    await nginx.start()
    try:
        failures = 0
        for _ in range(2):
            sio = socketio.AsyncClient(reconnection=False)
            try:
                await sio.connect(
                    nginx.url, namespaces=["/live_agent"], transports=["polling"], wait_timeout=2
                )
                await asyncio.sleep(0.3)
                if not sio.connected:
                    failures += 1
            except socketio.exceptions.ConnectionError:
                failures += 1
            finally:
                await sio.disconnect()
        refused = [line for line in nginx.access() if line.sid and line.status == 400]
        assert failures == 2 and refused, nginx.logs()
    finally:
        await nginx.close()
        print(nginx.logs())


async def test_the_seed_widget_comes_back_through_nginx_when_its_process_dies(
    front: Front, node_exe: str
) -> None:
    """``kill -9`` of the widget's process: socket.io-client reconnects by itself, nginx
    sends it to the survivor, the snippet's ``startConversation`` handler binds again."""
    cluster = front.cluster
    bot = await cluster.bot()
    agent = await cluster.agent(bot, name="Anna")
    cid = (await cluster.wire(front.nginx.url).handoff(bot))["ConversationID"]
    widget = await start_seed_widget(node_exe, front.nginx.url, cid, bot.id, transports="websocket")
    try:
        await widget.wait("connect")
        await widget.wait("startConversation")
        up = await front.upstream_of("127.0.0.1")
        (widget_on,) = (n for n in cluster.nodes if up == f"127.0.0.1:{n.port}")
        (survivor,) = (n for n in cluster.nodes if n is not widget_on)
        sock = await survivor.server.agent_socket(agent)
        await sock.rec.wait("conversation_assigned")
        await widget.told("Anna joined the chat.")
        assert (await widget.send("before"))["connected"]
        await sock.rec.wait("user_message", lambda d: d["text"] == "before")

        widget_on.kill()
        await widget.wait("disconnect")
        await widget.wait("connect")  # socket.io-client's own reconnection, through nginx
        await widget.wait("startConversation")
        # The snippet binds again (its startConversation handler emits username, which
        # the server handles before anything the socket sends after it).
        assert (await widget.send("after"))["connected"]
        await sock.rec.wait("user_message", lambda d: d["text"] == "after")
        assert (await sock.call("send_message", {"conversation_id": cid, "text": "still here"}))[
            "ok"
        ]
        await widget.told("still here")
        texts = [m["text"] for m in sock.rec.of("user_message")]
        assert texts.count("before") == 1 and texts.count("after") == 1, texts
    finally:
        await widget.close()


async def test_behind_nginx_the_sign_in_throttle_counts_each_clients_address(
    front: Front,
) -> None:
    cluster = front.cluster
    agent = await cluster.agent(await cluster.bot())

    async def sign_in(source: str, email: str) -> int:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(
                f"{front.nginx.url}/api/v1/auth/login",
                json={"email": email, "password": "s3cret-pass"},
            ) as resp,
        ):
            return resp.status

    for n in range(3):
        assert await sign_in("127.0.1.1", f"nobody{n}@example.com") == 401
    assert await sign_in("127.0.1.1", agent.email) == 429
    # The process saw the client's address, not nginx's (its log names it) ...
    assert "from 127.0.1.1 → 429" in "".join(n.text() for n in cluster.nodes)
    # ... so a client from another address signs in, whichever process it reaches.
    for n in range(2, 6):
        assert await sign_in(f"127.0.{n}.1", agent.email) == 200
