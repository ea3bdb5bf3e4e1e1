"""Redis restarted and PostgreSQL stopped and started under two running processes.

Both are the test's own instances (never the machine's shared ones): a
``redis-server`` on a free port, and a PostgreSQL cluster made with ``initdb`` and
run with ``pg_ctl`` as user ``postgres``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio

from handoff.storage.messages import MessageRepo
from tests.conftest import TIMEOUT, Bot, Client, Recorder
from tests.integration.cluster import Cluster, Node, say, wait_until
from tests.integration.multiprocess.conftest import MakeCluster, start_seed_widget
from tests.integration.services import (
    OwnPostgres,
    OwnRedis,
    own_redis_fixture,  # noqa: F401
)

pytestmark = pytest.mark.timeout(120)

# A process notices a dead peer, or a Redis that lost its data, within about two beats.
HEARTBEAT = {"HANDOFF_HEARTBEAT_SECONDS": "0.5"}


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        await server.init()
        await server.start()
        yield server
    finally:
        print(f"======== postgres.log ========\n{server.log()}")
        await server.close()


async def crossing(
    cluster: Cluster, cid: str, bot_id: str, widget: Client, sock: Client, text: str
) -> None:
    """One message each way between the widget's process and the agent's."""
    ack = await widget.call("from_user", {"message": text, "ConversationID": cid, "BotID": bot_id})
    assert ack["ok"], ack
    await sock.rec.wait("user_message", lambda d: d["text"] == text)
    sent = await sock.call("send_message", {"conversation_id": cid, "text": f"re: {text}"})
    assert sent["ok"], sent
    await widget.rec.wait("to_user", lambda d: d["message"] == f"re: {text}")


async def test_a_redis_restart_leaves_every_process_subscribed(
    make_cluster: MakeCluster, own_redis: OwnRedis
) -> None:
    cluster = await make_cluster(2, redis_url=own_redis.url)
    a, b = cluster.nodes
    channel = f"{cluster.prefix}socketio"
    bot = await cluster.bot()
    sock = await b.server.agent_socket(await cluster.agent(bot))
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    await crossing(cluster, cid, bot.id, widget, sock, "before the restart")
    # python-socketio subscribes on a process's first connection: both have had one.
    processes = len({a.port, b.port})
    assert await own_redis.numsub(channel) == processes

    # Redis goes away (its pub/sub connections with it) and comes back with its data.
    await own_redis.stop(save=True)
    await own_redis.start()
    await wait_until(
        _equals(own_redis, channel, processes), "every process resubscribed", within=20, every=0.2
    )
    await crossing(cluster, cid, bot.id, widget, sock, "after the restart")
    # The processes still agree on the conversation, from either side.
    assert (await cluster.conversation(b, bot, cid))["state"] == "assigned"
    for node in (a, b):
        status, body = await node.healthz(cluster.http)
        assert status == 200, body


async def test_while_redis_is_down_a_message_is_refused_with_a_retryable_error(
    make_cluster: MakeCluster, own_redis: OwnRedis
) -> None:
    cluster = await make_cluster(1, redis_url=own_redis.url)
    (a,) = cluster.nodes
    bot = await cluster.bot()
    sock = await a.server.agent_socket(await cluster.agent(bot))
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    await own_redis.stop(save=True)
    # Refused, not acknowledged, not stored; and with a code a client may retry on.
    refused = await widget.call("from_user", say(cid, bot, "while redis is down"))
    assert not refused["ok"], refused
    assert refused["error"]["code"] == "state_unavailable", refused
    sent = await sock.call("send_message", {"conversation_id": cid, "text": "agent, redis down"})
    assert not sent["ok"] and sent["error"]["code"] == "state_unavailable", sent
    # The bot's REST side too: 503 with Retry-After, not 500.
    async with cluster.http.post(
        f"{a.url}/api/v1/bots/{bot.id}/handoff",
        json={},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 503 and body["error"]["code"] == "state_unavailable", body
        assert resp.headers["Retry-After"]
    await own_redis.start()
    await wait_until(_retried(widget, cid, bot), "the retry is taken", within=20, every=0.3)
    await sock.rec.wait("user_message", lambda d: d["text"] == "while redis is down")
    stored = [m.text for m in await MessageRepo(cluster.engine).history(cid)]
    assert stored == ["while redis is down"], stored


def _retried(widget: Client, cid: str, bot: Bot) -> Callable[[], Awaitable[bool]]:
    """The widget's retry, until one is acknowledged."""

    async def check() -> bool:
        ack = await widget.call("from_user", say(cid, bot, "while redis is down"))
        return bool(ack["ok"])

    return check


def _equals(redis: OwnRedis, channel: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await redis.numsub(channel) == count

    return check


async def test_postgres_stopped_refuses_messages_and_stores_each_retry_once(
    make_cluster: MakeCluster, own_postgres: OwnPostgres
) -> None:
    cluster = await make_cluster(2, database_url=own_postgres.url)
    a, b = cluster.nodes
    bot = await cluster.bot()
    sock = await b.server.agent_socket(await cluster.agent(bot))
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    await crossing(cluster, cid, bot.id, widget, sock, "before")
    await cluster.engine.dispose()  # the test's own pool: no stale connections after

    await own_postgres.stop()
    # Inbound messages are refused, never acknowledged; /healthz on each says so.
    refused = await widget.call("from_user", say(cid, bot, "while down"))
    assert not refused["ok"] and refused["error"]["code"] == "storage_unavailable", refused
    agent_refused = await sock.call(
        "send_message", {"conversation_id": cid, "text": "agent while down", "client_msg_id": "d1"}
    )
    assert not agent_refused["ok"], agent_refused
    assert agent_refused["error"]["code"] == "storage_unavailable", agent_refused
    for node in (a, b):
        status, body = await node.healthz(cluster.http)
        assert status == 503 and body["database"] == "failing", body
    assert not [m for m in sock.rec.of("user_message") if m["text"] == "while down"]

    await own_postgres.start()
    for node in (a, b):
        await wait_until(
            lambda n=node: _healthy(cluster, n), f"{node.name} healthy again", within=20
        )
    # The clients retry what was refused: each is stored once, and delivered.
    again = await widget.call("from_user", say(cid, bot, "while down"))
    assert again["ok"], again
    await sock.rec.wait("user_message", lambda d: d["text"] == "while down")
    retried = await sock.call(
        "send_message", {"conversation_id": cid, "text": "agent while down", "client_msg_id": "d1"}
    )
    assert retried["ok"], retried
    twice = await sock.call(
        "send_message", {"conversation_id": cid, "text": "agent while down", "client_msg_id": "d1"}
    )
    assert twice["message"]["seq"] == retried["message"]["seq"]
    await crossing(cluster, cid, bot.id, widget, sock, "after")

    stored = [(m.sender, m.text) for m in await MessageRepo(cluster.engine).history(cid)]
    assert stored == [
        ("user", "before"),
        ("agent", "re: before"),
        ("user", "while down"),
        ("agent", "agent while down"),
        ("user", "after"),
        ("agent", "re: after"),
    ]
    seqs = [m.seq for m in await MessageRepo(cluster.engine).history(cid)]
    assert seqs == sorted(set(seqs)), seqs


async def _healthy(cluster: Cluster, node: Node) -> bool:
    status, _ = await node.healthz(cluster.http)
    return status == 200


async def test_a_redis_that_lost_its_data_is_rebuilt_and_the_chat_goes_on(
    make_cluster: MakeCluster, own_redis: OwnRedis, node_exe: str
) -> None:
    """Redis restarts empty (no persistence, or a failover to an empty replica). The
    processes notice, one rebuilds the state from the database, and every process lets
    its sockets go so that clients reconnect and bind again: the seed widget (under
    Node) by itself, an agent client by reconnecting and saying its status again."""
    cluster = await make_cluster(
        2, redis_url=own_redis.url, env={"HANDOFF_HEARTBEAT_SECONDS": "0.5"}
    )
    a, b = cluster.nodes
    bot = await cluster.bot()
    agent = await cluster.agent(bot, name="Anna")
    token = await b.server.login(agent.email)
    sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    rec = Recorder()

    async def catch_all(event: str, *args: Any) -> None:
        await rec.add(event, args[0] if args else None)

    async def connected() -> None:
        await rec.add("connect", None)

    async def disconnected(*_: Any) -> None:
        await rec.add("disconnect", None)

    sio.on("*", catch_all, namespace="/agent")
    sio.on("connect", connected, namespace="/agent")
    sio.on("disconnect", disconnected, namespace="/agent")
    await sio.connect(
        b.url,
        namespaces=["/agent"],
        auth={"token": token},
        transports=["websocket"],
        wait_timeout=TIMEOUT,
    )
    sock = Client(sio, rec, "/agent")
    b.server.clients.append(sock)
    await rec.wait("connect")
    assert (await sock.call("set_status", {"status": "online"}))["ok"]
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await start_seed_widget(node_exe, a.url, cid, bot.id, transports="websocket")
    try:
        await widget.wait("connect")
        await widget.wait("startConversation")
        await rec.wait("conversation_assigned")
        await widget.told("Anna joined the chat.")
        assert (await widget.send("before"))["connected"]
        await rec.wait("user_message", lambda d: d["text"] == "before")

        await own_redis.stop(save=False)
        await own_redis.start()
        # Both sides are let go and come back by themselves.
        await widget.wait("disconnect")
        await widget.wait("connect")
        await widget.wait("startConversation")
        await rec.wait("disconnect", within=20)
        await rec.wait("connect", within=10)
        assert (await sock.call("set_status", {"status": "online"}))["ok"]

        assert (await widget.send("after"))["connected"]
        await rec.wait("user_message", lambda d: d["text"] == "after", within=10)
        ack = await sock.call("send_message", {"conversation_id": cid, "text": "still here"})
        assert ack["ok"], ack
        await widget.told("still here")
        assert (await cluster.conversation(a, bot, cid))["state"] == "assigned"
        stored = [m.text for m in await MessageRepo(cluster.engine).history(cid)]
        assert stored == ["before", "after", "still here"]
    finally:
        await widget.close()
