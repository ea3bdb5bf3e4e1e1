"""``/metrics`` after real traffic: the numbers say what the test did.

The registry is the process's (several servers in one test process share it), so the
counters are read as a difference between two scrapes; the per-bot gauges carry this
test's own bot id.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from handoff.protocol import events as ev
from tests.conftest import Server
from tests.integration.test_actions import call

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

RAISES = """def main(event, context):
    raise ValueError('nope')
"""
RETURNS = """import json

def main(event, context):
    return {'statusCode': 200, 'body': json.dumps({'final_response': {'ok': 1}}), 'headers': {}}
"""


async def scrape(server: Server) -> Samples:
    async with server.http.get(f"{server.url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_relayed_messages_latency_and_connections(server: Server) -> None:
    before = await scrape(server)
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    during = await scrape(server)
    assert value(during, "handoff_socket_connections", namespace="widget") == (
        value(before, "handoff_socket_connections", namespace="widget") + 1
    )
    assert value(during, "handoff_socket_connections", namespace="agent") == (
        value(before, "handoff_socket_connections", namespace="agent") + 1
    )

    for i in range(3):
        ack = await widget.call(
            ev.FROM_USER, {"message": f"user {i}", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["ok"], ack
        await agent.rec.wait(ev.USER_MESSAGE, lambda d, i=i: d["text"] == f"user {i}")
    for i in range(2):
        ack = await agent.call("send_message", {"conversation_id": cid, "text": f"agent {i}"})
        assert ack["ok"], ack
        await widget.rec.wait(ev.TO_USER, lambda d, i=i: d.get("message") == f"agent {i}")
    # A message refused (too long) is not relayed.
    refused = await widget.call(
        ev.FROM_USER, {"message": "x" * 5000, "ConversationID": cid, "BotID": bot.id}
    )
    assert not refused["ok"]

    after = await scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(during, name, **labels)

    assert grew("handoff_delivery_latency_seconds_count", direction="to_agent") == 3
    assert grew("handoff_delivery_latency_seconds_count", direction="to_widget") == 2
    assert grew("handoff_delivery_latency_seconds_sum", direction="to_agent") > 0
    # Every observation is in the +Inf bucket; the buckets are cumulative.
    assert grew("handoff_delivery_latency_seconds_bucket", direction="to_agent", le="+Inf") == 3
    assert grew("handoff_messages_total", sender="user") == 3
    assert grew("handoff_messages_total", sender="agent") == 2

    await widget.close()
    await agent.close()
    gone = await scrape(server)
    assert value(gone, "handoff_socket_connections", namespace="widget") == value(
        before, "handoff_socket_connections", namespace="widget"
    )


async def test_queue_length_and_longest_wait_per_bot(server: Server) -> None:
    bot = await server.bot()
    idle = await server.bot()
    first = (await server.handoff(bot))["ConversationID"]
    second = (await server.handoff(bot))["ConversationID"]
    await server.widget(first, bot)  # bound: queued (no agent online)
    await server.widget(second, bot)
    samples = await scrape(server)
    assert value(samples, "handoff_queue_length", bot_id=bot.id) == 2
    assert value(samples, "handoff_queue_longest_wait_seconds", bot_id=bot.id) >= 0
    assert ("handoff_queue_length", (("bot_id", idle.id),)) in samples
    assert value(samples, "handoff_queue_length", bot_id=idle.id) == 0

    sock = await server.agent_socket(await server.agent(bot, capacity=1))
    await sock.rec.wait("conversation_assigned")
    samples = await scrape(server)
    assert value(samples, "handoff_queue_length", bot_id=bot.id) == 1
    # The outbox backlog and the database's health are there too.
    assert ("handoff_webhook_outbox_backlog", ()) in samples
    assert ("handoff_process_info", ()) not in samples
    assert any(name == "handoff_process_info" for name, _ in samples)


async def test_action_calls_by_result(server: Server) -> None:
    bot = await server.bot()
    await call(server, bot, "PUT", "/actions/raises", {"code": RAISES})
    await call(server, bot, "PUT", "/actions/returns", {"code": RETURNS})
    before = await scrape(server)
    sample = {"input": {"entities": {}}}
    status, broke = await call(server, bot, "POST", "/actions/raises/test", sample)
    assert status == 200 and not broke["ok"] and broke["error"]["kind"] == "exception"
    for _ in range(2):
        status, ran = await call(server, bot, "POST", "/actions/returns/test", sample)
        assert status == 200 and ran["ok"], ran
    after = await scrape(server)

    def grew(**labels: str) -> float:
        name = "handoff_action_calls_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew(stage="staging", result="exception") == 1
    assert grew(stage="staging", result="ok") == 2
    assert grew(stage="production", result="ok") == 0
