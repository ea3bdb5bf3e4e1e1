"""execute_handoff enriched: transcript, priority, target agent, the handoff packet, messages."""

from __future__ import annotations

from typing import Any

from tests.conftest import Bot, Server

TRANSCRIPT = [
    {"sender": "user", "message": "Where is my order abc123?"},
    {"sender": "bot", "message": "<i>It left the warehouse</i> yesterday."},
    {"sender": "user", "message": "I want to talk to a person"},
]


async def post(server: Server, bot: Bot, body: Any) -> tuple[int, Any]:
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff",
        json=body,
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        return resp.status, await resp.json()


async def test_a_bot_transcript_is_shown_and_the_widget_is_not_asked(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    sock = await server.agent_socket(agent)
    body = {
        "ConversationID": "order-abc123-chat",
        "user": {"name": "Thandi", "email": "thandi@example.com"},
        "reason": "asked for a human",
        "entities": {"order_id": "abc123"},
        "transcript": TRANSCRIPT,
        "priority": "high",
        "language_code": "af",
    }
    status, answer = await post(server, bot, body)
    assert status == 201, answer
    assert answer["queue_position"] == 1 and answer["language"] == "af"
    assert answer["estimated_wait_seconds"] is None  # no history yet
    assert answer["messages"][0]["text"] == (
        "Jy is volgende in die tou. 'n Agent sal binnekort by jou wees."
    )
    packet = answer["conversation"]["handoff_packet"]
    assert packet["transcript"] == 3 and packet["priority"] == "high"
    widget = await server.widget("order-abc123-chat", bot)
    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["transcript"] == TRANSCRIPT
    seen = assigned["conversation"]["handoff_packet"]
    assert seen == {
        "user": {"name": "Thandi", "email": "thandi@example.com"},
        "reason": "asked for a human",
        "entities": {"order_id": "abc123"},
        "team": None,
        "agent_id": None,
        "priority": "high",
        "transcript": 3,
        "error": None,
    }
    # Everything sent to the widget after the assignment comes after a `messages`
    # request would have: an agent message that arrives proves none was sent.
    ack = await sock.call("send_message", {"conversation_id": "order-abc123-chat", "text": "Hi!"})
    assert ack["ok"], ack
    await widget.rec.wait("to_user", lambda d: d["message"] == "Hi!")
    assert widget.rec.of("messages") == []
    assert [t.message for t in await server.messages.transcript("order-abc123-chat")] == [
        t["message"] for t in TRANSCRIPT
    ]


async def test_without_a_transcript_the_widget_is_asked(server: Server) -> None:
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot))
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["handoff_packet"]["transcript"] == 0
    await widget.rec.wait("messages")


async def test_priority_orders_the_queue_and_the_packet_travels_with_it(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot)
    sock = await server.agent_socket(agent, online=False)
    order = [("n1", "normal"), ("n2", "normal"), ("u1", "urgent"), ("l1", "low"), ("h1", "high")]
    positions = {}
    for name, priority in order:
        cid = f"{name}-priority-test"
        status, answer = await post(
            server,
            bot,
            {"ConversationID": cid, "priority": priority, "reason": name, "user": {"n": name}},
        )
        assert status == 201, answer
        positions[name] = answer["queue_position"]
        await server.widget(cid, bot)
    # Where each would stand as it came (pending: the place it takes when its widget binds).
    assert positions == {"n1": 1, "n2": 2, "u1": 1, "l1": 4, "h1": 2}
    ack = await sock.call("queue", {})
    assert ack["ok"], ack
    queued = ack["conversations"]
    assert [q["reason"] for q in queued] == ["u1", "h1", "n1", "n2", "l1"]
    assert [q["position"] for q in queued] == [1, 2, 3, 4, 5]
    assert [q["priority"] for q in queued] == ["urgent", "high", "normal", "normal", "low"]
    assert queued[0]["handoff_packet"]["user"] == {"n": "u1"}
    assert queued[0]["handoff_packet"]["priority"] == "urgent"
    update = await sock.rec.wait("queue_updated", lambda d: len(d["conversations"]) == 5)
    assert update["conversations"][0]["handoff_packet"]["reason"] == "u1"
    # An agent coming online takes them in that order.
    await sock.call("set_status", {"status": "online"})
    taken = [
        (await sock.rec.wait("conversation_assigned"))["conversation"]["reason"] for _ in range(3)
    ]
    assert taken == ["u1", "h1", "n1"]


async def test_a_target_agent_gets_it_waits_for_them_when_busy_and_is_skipped_when_away(
    server: Server,
) -> None:
    bot = await server.bot()
    a = await server.agent(bot, capacity=1, email="a-first@example.com")
    b = await server.agent(bot, capacity=1, email="b-second@example.com")
    # Left to itself, dispatch gives a tie to the lower id: ask for the other one.
    first, second = sorted([a, b], key=lambda r: r.id)
    sock_first = await server.agent_socket(first)
    sock_second = await server.agent_socket(second)
    status, answer = await post(
        server, bot, {"ConversationID": "targeted-one", "agent_id": second.id}
    )
    assert status == 201 and answer["conversation"]["handoff_packet"]["agent_id"] == second.id
    await server.widget("targeted-one", bot)
    got = await sock_second.rec.wait("conversation_assigned")
    assert got["conversation"]["conversation_id"] == "targeted-one"
    assert got["conversation"]["handoff_packet"]["agent_id"] == second.id
    # The second agent is now full: a conversation for them waits, the first agent stays free.
    await post(server, bot, {"ConversationID": "targeted-two", "agent_id": second.id})
    await server.widget("targeted-two", bot)
    assert await server.state.position(bot.id, "targeted-two") == 1
    assert await server.state.agent_conversations(first.id) == []
    # Once they go away it is not held for them: the first agent gets it.
    await sock_second.call("set_status", {"status": "away"})
    await post(server, bot, {"ConversationID": "targeted-three"})
    await server.widget("targeted-three", bot)
    got = await sock_first.rec.wait("conversation_assigned")
    assert got["conversation"]["conversation_id"] == "targeted-two"


async def test_execute_handoff_is_idempotent_with_the_new_fields(server: Server) -> None:
    bot = await server.bot()
    body = {"ConversationID": "twice-called-chat", "transcript": TRANSCRIPT, "priority": "urgent"}
    status, first = await post(server, bot, body)
    assert status == 201
    status, second = await post(server, bot, {**body, "transcript": TRANSCRIPT[:1]})
    assert status == 201
    assert second["ConversationID"] == first["ConversationID"]
    assert second["conversation"] == first["conversation"]
    assert second["queue_position"] == first["queue_position"] == 1
    assert len(await server.messages.transcript("twice-called-chat")) == 3
    events = await server.conversations.events("twice-called-chat")
    assert [e["transition"] for e in events] == ["create"]


async def test_bad_execute_bodies(server: Server) -> None:
    bot = await server.bot()
    other_bot = await server.bot()
    stranger = await server.agent(other_bot)
    salesperson = await server.agent(bot, teams=["sales"])
    too_long = [{"sender": "user", "message": "hi"}] * 501
    cases: list[tuple[Any, int, str, str]] = [
        ({"priority": "asap"}, 400, "invalid_payload", "priority"),
        ({"priority": 3}, 400, "invalid_payload", "priority"),
        ({"transcript": too_long}, 413, "message_too_large", "transcript"),
        (
            {"transcript": [{"sender": "agent", "message": "x"}]},
            400,
            "invalid_payload",
            "transcript.0.sender",
        ),
        (
            {"transcript": [{"sender": "user", "message": "x" * 4001}]},
            400,
            "invalid_payload",
            "transcript.0.message",
        ),
        ({"transcript": [{"sender": "user"}]}, 400, "invalid_payload", "transcript.0.message"),
        ({"transcript": "hello"}, 400, "invalid_payload", "transcript"),
        ({"user": {"notes": "x" * 5000}}, 413, "field_too_large", "user"),
        ({"entities": {"notes": "x" * 17_000}}, 413, "field_too_large", "entities"),
        ({"agent_id": "agent_nobody"}, 404, "unknown_agent", "agent_id"),
        ({"agent_id": stranger.id}, 404, "unknown_agent", "agent_id"),
        ({"agent_id": salesperson.id, "team": "support"}, 404, "unknown_agent", "agent_id"),
        ({"agent_id": ""}, 400, "invalid_payload", "agent_id"),
        ({"language_code": ["en"]}, 400, "invalid_payload", "language_code"),
        ({"error": "broke"}, 400, "invalid_payload", "error"),
    ]
    for body, status, code, field in cases:
        got_status, answer = await post(server, bot, {"ConversationID": "bad-body-chat", **body})
        assert got_status == status, (body, answer)
        assert answer["error"]["code"] == code and answer["error"]["field"] == field, (body, answer)
    # Nothing was made by any of them.
    assert await server.conversations.get("bad-body-chat") is None
    status, ok = await post(
        server,
        bot,
        {"ConversationID": "bad-body-chat", "agent_id": salesperson.id, "team": "sales"},
    )
    assert status == 201 and ok["conversation"]["team"] == "sales"
