"""Redis restarted and PostgreSQL stopped and started under two running processes.

Both are the test's own instances (never the machine's shared ones): a
``redis-server`` on a free port, and a PostgreSQL cluster made with ``initdb`` and
run with ``pg_ctl`` as user ``postgres``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from handoff.storage.messages import MessageRepo
from tests.conftest import Client
from tests.integration.cluster import Cluster, Node, say, wait_until
from tests.integration.multiprocess.conftest import MakeCluster
from tests.integration.services import OwnPostgres, OwnRedis

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    await server.start()
    try:
        yield server
    finally:
        await server.close()


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
