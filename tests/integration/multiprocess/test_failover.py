"""``kill -9`` of one process of three, mid-conversation.

Its widget and agent reconnect to the other processes (the URL a load balancer would
send them to), bind again, and every acknowledged message is there exactly once; what
was sent during the failover is neither lost nor duplicated (the agent retries with its
``client_msg_id``; the widget resumes from the last agent ``seq`` it showed). A deadline
the dead process set fires on a survivor, and a widget of the dead process that never
comes back is abandoned after its grace period, once the dead process's sockets are let
go.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess

import pytest
import socketio

from handoff.storage.messages import MessageRepo
from tests.conftest import Bot, Client
from tests.integration.cluster import Cluster, Node, say, wait_until
from tests.integration.multiprocess.conftest import MakeCluster

pytestmark = pytest.mark.timeout(120)

GRACE = 3.0
FAST_TIMERS = {
    "HANDOFF_WIDGET_GRACE_SECONDS": str(GRACE),
    "HANDOFF_SWEEP_INTERVAL_SECONDS": "0.2",
    # A dead process is noticed within about two heartbeats.
    "HANDOFF_HEARTBEAT_SECONDS": "0.5",
}


def agent_seqs(widget: Client) -> list[int]:
    return [d["seq"] for d in widget.rec.of("to_user") if d.get("sender") == "agent"]


async def test_kill_9_mid_conversation_loses_and_duplicates_nothing(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(3, env=FAST_TIMERS)
    a, b, c = cluster.nodes
    bot = await cluster.bot()
    anna = await cluster.agent(bot, name="Anna")
    # Everything of this conversation on A: A's death takes both sides.
    sock = await a.server.agent_socket(anna)
    cid = (await a.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot, features=["queue"])
    await sock.rec.wait("conversation_assigned")

    acked: dict[int, str] = {}
    for i in range(5):
        ack = await widget.call("from_user", say(cid, bot, f"before {i}"))
        acked[ack["seq"]] = f"before {i}"
        sent = await sock.call(
            "send_message", {"conversation_id": cid, "text": f"reply {i}", "client_msg_id": f"r{i}"}
        )
        acked[sent["message"]["seq"]] = f"reply {i}"
    await wait_until(lambda: len(agent_seqs(widget)) == 5, "the replies reached the widget")

    # A bot without agents: its wait limit, set by A as the person queued, runs out after
    # A is gone.
    lonely = await cluster.bot(wait_limit_seconds=3.0)
    waiting = (await a.server.handoff(lonely))["ConversationID"]
    await a.server.widget(waiting, lonely)
    assert (await cluster.conversation(b, lonely, waiting))["state"] == "queued"

    # The agent sends as A dies: the answer may never come.
    in_flight = asyncio.create_task(
        sock.sio.call(
            "send_message",
            {"conversation_id": cid, "text": "during the failover", "client_msg_id": "during"},
            namespace="/agent",
            timeout=3,
        )
    )
    await asyncio.sleep(0)
    a.kill()
    with contextlib.suppress(Exception):
        await in_flight
    await wait_until(lambda: not widget.sio.connected and not sock.sio.connected, "sockets cut")

    # The widget comes back on B, the agent on C: a load balancer's choice.
    seen = max(agent_seqs(widget))
    widget2 = await b.server.widget()
    bound = await widget2.call(
        "username", {"ConversationID": cid, "BotID": bot.id, "resume_after_seq": seen}
    )
    assert bound["ok"], bound
    sock2 = await c.server.agent_socket(anna)
    restored = await sock2.rec.wait(
        "conversation_assigned", lambda d: d["conversation"]["conversation_id"] == cid
    )
    assert restored
    # The agent's client retries what it never saw answered, with the same id.
    retried = await sock2.call(
        "send_message",
        {"conversation_id": cid, "text": "during the failover", "client_msg_id": "during"},
    )
    assert retried["ok"], retried
    acked[retried["message"]["seq"]] = "during the failover"
    await widget2.rec.wait("to_user", lambda d: d["message"] == "during the failover")

    # Both directions work across the survivors.
    for i in range(3):
        ack = await widget2.call("from_user", say(cid, bot, f"after {i}"))
        assert ack["ok"], ack
        acked[ack["seq"]] = f"after {i}"
        await sock2.rec.wait("user_message", lambda d, t=f"after {i}": d["text"] == t)
        sent = await sock2.call(
            "send_message", {"conversation_id": cid, "text": f"again {i}", "client_msg_id": f"a{i}"}
        )
        acked[sent["message"]["seq"]] = f"again {i}"
        await widget2.rec.wait("to_user", lambda d, t=f"again {i}": d["message"] == t)

    # Every acknowledged message exactly once, in seq order: in history and in the table.
    history = await sock2.call("history", {"conversation_id": cid})
    told = [(m["seq"], m["text"]) for m in history["messages"]]
    assert told == sorted(acked.items())
    stored = await MessageRepo(cluster.engine).history(cid)
    assert [(m.seq, m.text) for m in stored] == sorted(acked.items())
    # The widget on B got each agent message once, none it had before the failover.
    after = [d["message"] for d in widget2.rec.of("to_user") if d.get("sender") == "agent"]
    assert after == ["during the failover", "again 0", "again 1", "again 2"]

    # A's wait limit fired on a survivor.
    await wait_until(
        lambda: _closed(cluster, b, lonely, waiting), "the wait limit A set fired", within=15
    )
    assert (await cluster.conversation(c, lonely, waiting))["close_reason"] == "no_agent"
    # The widget of the first conversation came back in time: still assigned.
    assert (await cluster.conversation(c, bot, cid))["state"] == "assigned"


async def test_a_widget_of_a_dead_process_that_never_returns_is_abandoned(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(2, env=FAST_TIMERS)
    a, b = cluster.nodes
    bot = await cluster.bot()
    bob = await b.server.agent_socket(await cluster.agent(bot, name="Bob"))
    cid = (await b.server.handoff(bot))["ConversationID"]
    widget = await a.server.widget(cid, bot)
    await bob.rec.wait("conversation_assigned")
    assert (await widget.call("from_user", say(cid, bot, "hello")))["ok"]
    await bob.rec.wait("user_message")

    a.kill()
    # A's sockets are let go once its heartbeat is missed: Bob hears the person left,
    # and after the grace period the conversation is abandoned.
    left = await bob.rec.wait("user_left", within=15)
    assert left["conversation_id"] == cid
    closed = await bob.rec.wait(
        "conversation_closed", lambda d: d["conversation_id"] == cid, within=GRACE + 10
    )
    assert closed["reason"] == "abandoned", closed
    view = await cluster.conversation(b, bot, cid)
    assert (view["state"], view["close_reason"]) == ("closed", "abandoned")


async def _closed(cluster: Cluster, node: Node, bot: Bot, cid: str) -> bool:
    return (await cluster.conversation(node, bot, cid))["state"] == "closed"


async def test_a_sigterm_lets_every_socket_go_at_once_and_they_bind_elsewhere(
    make_cluster: MakeCluster,
) -> None:
    # A rolling restart: the process stops accepting and lets its sockets go at once
    # (before, a WebSocket held the stop until Engine.IO's ping timeout, 44 s, and a
    # long-poll 24 s: past systemd's and Kubernetes' usual grace, so it was killed).
    cluster = await make_cluster(2)
    a, b = cluster.nodes
    bot = await cluster.bot()
    record = await cluster.agent(bot, name="Anna")
    agent = await a.server.agent_socket(record)  # WebSocket
    cid = (await a.server.handoff(bot))["ConversationID"]
    polling = socketio.AsyncClient(reconnection=False)  # the seed's first transport
    gone = asyncio.Event()
    polling.on("disconnect", lambda *_: gone.set(), namespace="/live_agent")
    await polling.connect(a.url, namespaces=["/live_agent"], transports=["polling"])
    ack = await polling.call(
        "username", {"ConversationID": cid, "BotID": bot.id}, namespace="/live_agent"
    )
    assert ack["ok"], ack
    await agent.rec.wait("conversation_assigned")

    assert a.proc is not None
    a.proc.terminate()
    try:  # a guard against waiting out the ping timeout, not a measure of speed
        code = await asyncio.to_thread(a.proc.wait, 15)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"SIGTERM waited for the sockets to time out:\n{a.text()}") from None
    assert code == 0, a.text()
    assert "stopping: 2 sockets let go" in a.text()
    await wait_until(lambda: not agent.sio.connected, "the agent's WebSocket let go")
    await asyncio.wait_for(gone.wait(), 5)
    await polling.disconnect()

    # Both come back on B, as a load balancer sends them: the chat goes on.
    agent = await b.server.agent_socket(record)
    assigned = await agent.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == cid
    widget = await b.server.widget(cid, bot)
    assert (await widget.call("from_user", say(cid, bot, "still here")))["ok"]
    await agent.rec.wait("user_message", lambda d: d["text"] == "still here")
