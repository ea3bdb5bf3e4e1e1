"""Two and three ``handoff serve`` processes on one PostgreSQL and one Redis: a widget on
one process and its agent on another chat normally, and taking a conversation is atomic
across processes (manual: exactly one accept wins; auto: never two agents, never over
capacity)."""

from __future__ import annotations

import asyncio
import collections
import json

import pytest

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
