"""Two and three ``handoff serve`` processes on one PostgreSQL and one Redis: a widget on
one process and its agent on another chat normally, and taking a conversation is atomic
across processes (manual: exactly one accept wins; auto: never two agents, never over
capacity)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json

import pytest
import redis.asyncio as aioredis

from tests.conftest import Client
from tests.integration.cluster import say, wait_until
from tests.integration.multiprocess.conftest import MakeCluster, start_seed_widget

pytestmark = pytest.mark.timeout(120)


def agent_texts(widget: Client) -> list[tuple[int, str]]:
    return [
        (d["seq"], d["message"]) for d in widget.rec.of("to_user") if d.get("sender") == "agent"
    ]


async def test_widget_on_one_process_chats_with_an_agent_on_another(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(3)
    a, b, c = cluster.nodes
    bot = await cluster.bot()
    agent = await cluster.agent(bot, name="Anna")
    sock = await b.server.agent_socket(agent)
    cid = (await c.server.handoff(bot))["ConversationID"]  # the bot's REST call: a third one
    widget = await a.server.widget(cid, bot)

    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == cid
    await widget.rec.wait("to_user", lambda d: "Anna" in d["message"])

    # Interleaved both ways: each side's acks in order, the other side gets all of them.
    seqs: list[int] = []
    for i in range(20):
        ack = await widget.call("from_user", say(cid, bot, f"user {i}"))
        assert ack["ok"], ack
        seqs.append(ack["seq"])
        sent = await sock.call(
            "send_message", {"conversation_id": cid, "text": f"agent {i}", "client_msg_id": f"m{i}"}
        )
        assert sent["ok"], sent
        seqs.append(sent["message"]["seq"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 40

    await wait_until(lambda: len(sock.rec.of("user_message")) == 20, "user messages on B")
    got = [(m["seq"], m["text"]) for m in sock.rec.of("user_message")]
    assert got == [(seqs[2 * i], f"user {i}") for i in range(20)]
    await wait_until(lambda: len(agent_texts(widget)) == 20, "agent messages on A")
    assert agent_texts(widget) == [(seqs[2 * i + 1], f"agent {i}") for i in range(20)]

    # What the database holds, asked from the third process: each once, in seq order.
    history = await sock.call("history", {"conversation_id": cid})
    assert [(m["seq"], m["text"]) for m in history["messages"]] == sorted(got + agent_texts(widget))

    # Closing on B ends the widget's socket on A.
    assert (await sock.call("close", {"conversation_id": cid}))["ok"]
    await widget.rec.wait("disconnect_socket")


async def test_the_seed_widget_under_node_on_one_process_agent_on_another(
    make_cluster: MakeCluster, node_exe: str
) -> None:
    cluster = await make_cluster(2)
    a, b = cluster.nodes
    bot = await cluster.bot()
    sock = await b.server.agent_socket(await cluster.agent(bot, name="Anna"))
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await start_seed_widget(node_exe, a.url, cid, bot.id)  # 3.1.3, polling first
    try:
        await widget.wait("startConversation")
        await sock.rec.wait("conversation_assigned")
        await widget.told("Anna joined the chat.")
        for i in range(5):
            assert (await widget.send(f"seed {i}"))["connected"]
        await wait_until(lambda: len(sock.rec.of("user_message")) == 5, "seed messages on B")
        texts = [m["text"] for m in sock.rec.of("user_message")]
        seqs = [m["seq"] for m in sock.rec.of("user_message")]
        assert texts == [f"seed {i}" for i in range(5)] and seqs == sorted(set(seqs))
        for i in range(5):
            ack = await sock.call("send_message", {"conversation_id": cid, "text": f"to seed {i}"})
            assert ack["ok"], ack
        for i in range(5):
            await widget.told(f"to seed {i}")
        shown = [d["message"] for d in widget.rec.of("to_user") if d.get("sender") == "agent"]
        assert shown == [f"to seed {i}" for i in range(5)]
        assert (await sock.call("close", {"conversation_id": cid}))["ok"]
        await widget.wait("disconnect_socket")
    finally:
        await widget.close()


async def test_manual_take_is_atomic_across_processes(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster(2)
    a, b = cluster.nodes
    bot = await cluster.bot(assignment_mode="manual")
    on_a = await a.server.agent_socket(await cluster.agent(bot, capacity=10))
    on_b = await b.server.agent_socket(await cluster.agent(bot, capacity=10))
    won: collections.Counter[str] = collections.Counter()
    for i in range(8):
        cid = (await a.server.handoff(bot))["ConversationID"]
        await (a if i % 2 else b).server.widget(cid, bot)
        for sock in (on_a, on_b):
            offer = await sock.rec.wait(
                "queue_updated",
                lambda d, c=cid: c in [x["conversation_id"] for x in d["conversations"]],
            )
            assert offer
        first, second = (on_a, on_b) if i % 2 else (on_b, on_a)
        acks = await asyncio.gather(
            first.call("accept", {"conversation_id": cid}),
            second.call("accept", {"conversation_id": cid}),
        )
        winners = [ack for ack in acks if ack["ok"]]
        losers = [ack for ack in acks if not ack["ok"]]
        assert len(winners) == 1 and len(losers) == 1, acks
        won[winners[0]["conversation"]["agent_id"]] += 1
        assert losers[0]["error"]["code"] in {"already_assigned", "not_queued"}, losers
        view = await cluster.conversation(b, bot, cid)
        assert view["state"] == "assigned", view
        assert view["agent_id"] == winners[0]["conversation"]["agent_id"], (view, winners)
    print("accepts won per agent:", dict(won))


async def test_auto_assignment_with_two_processes_dispatching_at_once(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(2)
    a, b = cluster.nodes
    bot = await cluster.bot()
    capacity = {}
    socks = []
    for node in (a, b, a, b):
        agent = await cluster.agent(bot, capacity=2)
        capacity[agent.id] = 2
        socks.append((agent.id, await node.server.agent_socket(agent)))
    # More people than seats (8), bound at once half on each process.
    cids = [(await a.server.handoff(bot))["ConversationID"] for _ in range(12)]
    await asyncio.gather(*(((a, b)[i % 2]).server.widget(cid, bot) for i, cid in enumerate(cids)))

    def assigned() -> dict[str, list[str]]:
        held: dict[str, list[str]] = collections.defaultdict(list)
        for agent_id, sock in socks:
            for event in sock.rec.of("conversation_assigned"):
                held[event["conversation"]["conversation_id"]].append(agent_id)
        return held

    await wait_until(lambda: len(assigned()) == 8, "8 conversations assigned", within=15)
    await asyncio.sleep(0.5)  # any wrong second assignment would show by now
    held = assigned()
    assert len(held) == 8 and all(len(v) == 1 for v in held.values()), held
    load = collections.Counter(v[0] for v in held.values())
    assert all(load[agent_id] <= cap for agent_id, cap in capacity.items()), load
    # What the processes agree on: every agent's queue shows the 4 still waiting.
    queue = await socks[0][1].call("queue", {})
    waiting = {c["conversation_id"] for c in queue["conversations"]}
    assert waiting == set(cids) - set(held), (waiting, held)

    # A seat that frees on one process is filled from the queue, once.
    first, holders = next(iter(held.items()))
    closer = dict(socks)[holders[0]]
    assert (await closer.call("close", {"conversation_id": first}))["ok"]
    await wait_until(lambda: len(assigned()) == 9, "the freed seat filled")
    held = assigned()
    assert all(len(v) == 1 for v in held.values()), json.dumps(held)


async def test_chat_messages_go_through_redis_only_to_reach_another_process(
    make_cluster: MakeCluster,
) -> None:
    """A message whose every recipient socket is on the sending process is emitted there
    alone; once the recipient has a socket on another process, it goes through Redis."""
    cluster = await make_cluster(2)
    a, b = cluster.nodes
    bot = await cluster.bot()
    agent = await cluster.agent(bot, name="Anna")
    on_a = await a.server.agent_socket(agent)
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot)
    await on_a.rec.wait("conversation_assigned")

    channel = aioredis.Redis.from_url(cluster.redis_url).pubsub(ignore_subscribe_messages=True)
    await channel.subscribe(f"{cluster.prefix}socketio")
    relayed: list[str] = []

    async def listen() -> None:
        async for message in channel.listen():
            data = json.loads(message["data"])
            if data.get("method") == "emit" and data.get("event") in ("user_message", "to_user"):
                relayed.append(data["event"])

    listener = asyncio.create_task(listen())
    try:
        # All on A: nothing crosses Redis, and both sides get every message.
        for i in range(3):
            assert (await widget.call("from_user", say(cid, bot, f"here {i}")))["ok"]
            sent = await on_a.call("send_message", {"conversation_id": cid, "text": f"back {i}"})
            assert sent["ok"], sent
        await wait_until(lambda: len(on_a.rec.of("user_message")) == 3, "user messages on A")
        await wait_until(lambda: len(agent_texts(widget)) == 3, "agent messages on A")
        probe = await b.server.agent_socket(agent)  # the agent opens a second tab, on B
        await probe.rec.wait("conversation_assigned")
        assert relayed == []

        # The agent's tab on B: the person's messages now go through Redis, and what the
        # agent sends from B reaches the widget on A through it too.
        assert (await widget.call("from_user", say(cid, bot, "both tabs")))["ok"]
        await probe.rec.wait("user_message", lambda d: d["text"] == "both tabs")
        await on_a.rec.wait("user_message", lambda d: d["text"] == "both tabs")
        sent = await probe.call("send_message", {"conversation_id": cid, "text": "from B"})
        assert sent["ok"], sent
        await widget.rec.wait("to_user", lambda d: d["message"] == "from B")
        await wait_until(lambda: sorted(relayed) == ["to_user", "user_message"], "two publishes")
        assert [t for _, t in agent_texts(widget)].count("from B") == 1
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await channel.aclose()
