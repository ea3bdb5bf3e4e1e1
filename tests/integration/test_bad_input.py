"""Bad input gets a clear error, is logged, and disturbs no other conversation."""

from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.conftest import Bot, Client, Server


async def _still_works(server: Server, bot: Bot, cid: str, widget: Client, agent: Client) -> None:
    ack = await widget.call(
        "from_user", {"message": "still fine", "ConversationID": cid, "BotID": bot.id}
    )
    assert ack["ok"], ack
    got = await agent.rec.wait("user_message", lambda d: d["text"] == "still fine")
    assert got["conversation_id"] == cid


WIDGET_CASES: list[tuple[str, Any, str, str | None]] = [
    ("username", "not an object", "invalid_payload", "payload"),
    ("username", {"BotID": "x"}, "invalid_payload", "ConversationID"),
    ("username", {"ConversationID": "", "BotID": "x"}, "invalid_payload", "ConversationID"),
    (
        "username",
        {"ConversationID": "nope-nope-nope", "BotID": "x"},
        "unknown_conversation",
        "ConversationID",
    ),
    (
        "from_user",
        {"message": "hi", "ConversationID": "c", "BotID": "b"},
        "not_bound",
        "ConversationID",
    ),
    ("from_user", {"ConversationID": "c"}, "invalid_payload", "message"),
    (
        "messages_to_client",
        {"messages": [{"sender": "robot", "message": "x"}], "bot_id": "b"},
        "invalid_payload",
        "messages.0.sender",
    ),
    ("no_such_event", {}, "unknown_event", None),
]


@pytest.mark.parametrize(("event", "payload", "code", "field"), WIDGET_CASES)
async def test_widget_bad_input_gets_an_error_event(
    server: Server, event: str, payload: Any, code: str, field: str | None
) -> None:
    bot = await server.bot()
    cid, good_widget, agent = await server.live_pair(bot)
    bad = await server.widget()
    await bad.emit(event, payload)
    error = await bad.rec.wait("error")
    assert error["code"] == code and error["event"] == event
    assert error.get("field") == field
    assert error["message"]
    await _still_works(server, bot, cid, good_widget, agent)


async def test_widget_cannot_reach_another_conversation_or_bot(server: Server) -> None:
    bot = await server.bot()
    other_bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    other_cid = (await server.handoff(bot))["ConversationID"]
    # The right conversation with another bot's id.
    intruder = await server.widget()
    ack = await intruder.call("username", {"ConversationID": cid, "BotID": other_bot.id})
    assert ack["error"]["code"] == "bot_mismatch" and ack["error"]["field"] == "BotID"
    # Bound to one conversation, sending into another.
    ack = await widget.call(
        "from_user", {"message": "x", "ConversationID": other_cid, "BotID": bot.id}
    )
    assert ack["error"]["code"] == "conversation_mismatch"
    ack = await widget.call(
        "from_user", {"message": "x", "ConversationID": cid, "BotID": other_bot.id}
    )
    assert ack["error"]["code"] == "bot_mismatch"
    ack = await widget.call("messages_to_client", {"messages": [], "bot_id": other_bot.id})
    assert ack["error"]["code"] == "bot_mismatch"
    assert [m.text for m in await server.messages.history(other_cid)] == []
    await _still_works(server, bot, cid, widget, agent)


async def test_oversize_and_empty_messages_are_refused_and_nothing_is_stored(
    server: Server,
) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    ack = await widget.call(
        "from_user", {"message": "x" * 4097, "ConversationID": cid, "BotID": bot.id}
    )
    assert ack["error"]["code"] == "message_too_large" and ack["error"]["field"] == "message"
    ack = await widget.call("from_user", {"message": "   ", "ConversationID": cid, "BotID": bot.id})
    assert ack["error"]["field"] == "message"
    big = await agent.call("send_message", {"conversation_id": cid, "text": "é" * 3000})
    assert big["error"]["code"] == "message_too_large"
    exactly = await widget.call(
        "from_user", {"message": "x" * 4096, "ConversationID": cid, "BotID": bot.id}
    )
    assert exactly["ok"] and exactly["seq"] == 1
    assert len(await server.messages.history(cid)) == 1
    await _still_works(server, bot, cid, widget, agent)


async def test_flooding_widget_is_rate_limited_without_hurting_others(server: Server) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    flood_cid, flood_widget, _ = await server.live_pair(bot)
    codes = []
    for i in range(80):
        ack = await flood_widget.call(
            "from_user", {"message": f"spam {i}", "ConversationID": flood_cid, "BotID": bot.id}
        )
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert "rate_limited" in codes and codes[0] == "ok"
    stored = await server.messages.history(flood_cid, limit=1000)
    assert len(stored) == codes.count("ok")
    await _still_works(server, bot, cid, widget, agent)


async def test_agent_with_a_bad_token_is_refused(server: Server) -> None:
    for auth in ({"token": "forged"}, {}, None, {"token": 42}):
        refusal = await server.refused_agent_connect(auth)
        assert refusal["code"] == "unauthorized", refusal
        assert refusal["message"]


AGENT_CASES: list[tuple[str, Any, str, str | None]] = [
    ("set_status", {"status": "sleepy"}, "invalid_payload", "status"),
    ("set_status", {"status": "online", "capacity": -1}, "invalid_payload", "capacity"),
    ("accept", {}, "invalid_payload", "conversation_id"),
    ("accept", {"conversation_id": "does-not-exist"}, "unknown_conversation", "conversation_id"),
    ("send_message", {"conversation_id": "x", "text": ""}, "invalid_payload", "text"),
    ("transfer", {"conversation_id": "x"}, "invalid_payload", "to_team"),
    (
        "transfer",
        {"conversation_id": "x", "to_agent_id": "a", "to_team": "t"},
        "invalid_payload",
        "to_team",
    ),
    ("history", {"conversation_id": "x", "after_seq": -1}, "invalid_payload", "after_seq"),
    ("history", [1, 2], "invalid_payload", "payload"),
    ("dance", {}, "unknown_event", None),
]


async def test_acting_on_a_closed_conversation_says_it_is_closed(server: Server) -> None:
    bot = await server.bot()
    cid, _widget, agent = await server.live_pair(bot)
    assert (await agent.call("close", {"conversation_id": cid}))["ok"]
    for event, payload in (
        ("close", {"conversation_id": cid}),
        ("typing", {"conversation_id": cid, "typing": True}),
        ("send_message", {"conversation_id": cid, "text": "still there?"}),
        ("transfer", {"conversation_id": cid, "to_team": "billing"}),
    ):
        ack = await agent.call(event, payload)
        assert ack["ok"] is False, (event, ack)
        error = ack["error"]
        assert (error["code"], error["field"]) == ("conversation_closed", "conversation_id")
        assert "closed" in error["message"]


@pytest.mark.parametrize(("event", "payload", "code", "field"), AGENT_CASES)
async def test_agent_bad_requests_get_error_acks(
    server: Server, event: str, payload: Any, code: str, field: str | None
) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    ack = await agent.call(event, payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code, ack
    assert ack["error"].get("field") == field
    await _still_works(server, bot, cid, widget, agent)


async def test_unknown_agent_event_is_bad_input_and_the_socket_keeps_working(
    server: Server,
) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    for payload in ({"steps": 3}, None, "not an object"):
        ack = await agent.call("dance", payload)
        assert ack == {
            "ok": False,
            "error": {"code": "unknown_event", "message": "unknown event 'dance'"},
        }
    # The same socket still answers requests and carries messages both ways.
    ack = await agent.call("queue", {})
    assert ack["ok"], ack
    sent = await agent.call("send_message", {"conversation_id": cid, "text": "still here"})
    assert sent["ok"] and sent["message"]["seq"] == 1, sent
    await widget.rec.wait("to_user", lambda d: d["message"] == "still here")
    await _still_works(server, bot, cid, widget, agent)


async def test_agent_cannot_touch_conversations_that_are_not_theirs(server: Server) -> None:
    bot = await server.bot()
    other_bot = await server.bot()
    cid, widget, owner = await server.live_pair(bot)
    colleague = await server.agent_socket(await server.agent(bot))
    stranger = await server.agent_socket(await server.agent(other_bot))
    for sock, code in ((colleague, "not_your_conversation"), (stranger, "forbidden")):
        for event, payload in (
            ("send_message", {"conversation_id": cid, "text": "hijack"}),
            ("close", {"conversation_id": cid}),
            ("typing", {"conversation_id": cid, "typing": True}),
            ("transfer", {"conversation_id": cid, "to_team": "x"}),
        ):
            ack = await sock.call(event, payload)
            assert ack["error"]["code"] == code, (event, ack)
    ack = await stranger.call("history", {"conversation_id": cid})
    assert ack["error"]["code"] == "forbidden"
    ack = await stranger.call("accept", {"conversation_id": cid})
    assert ack["error"]["code"] == "forbidden"
    assert [m.text for m in await server.messages.history(cid)] == []
    await _still_works(server, bot, cid, widget, owner)


async def test_client_message_ids_make_agent_sends_idempotent(server: Server) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    first = await agent.call(
        "send_message", {"conversation_id": cid, "text": "once", "client_msg_id": "m-1"}
    )
    again = await agent.call(
        "send_message", {"conversation_id": cid, "text": "once", "client_msg_id": "m-1"}
    )
    assert first["ok"] and again["ok"]
    assert again["message"]["seq"] == first["message"]["seq"]
    assert [m.text for m in await server.messages.history(cid)] == ["once"]
    await widget.rec.wait("to_user", lambda d: d["message"] == "once")
    assert [d["message"] for d in widget.rec.of("to_user") if d.get("sender") == "agent"] == [
        "once"
    ]


async def test_sockets_follow_the_origin_allow_list(tmp_path: Path) -> None:
    from tests.conftest import make_settings, start_server, stop_server

    runner, server = await start_server(
        make_settings(tmp_path, cors_origins=["https://shop.example"])
    )
    try:
        evil = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await evil.connect(server.url, namespaces=["/live_agent"],
                               headers={"Origin": "https://evil.example"},
                               transports=["websocket"], wait_timeout=5)
        await evil.disconnect()
        good = socketio.AsyncClient(reconnection=False)
        await good.connect(server.url, namespaces=["/live_agent"],
                           headers={"Origin": "https://shop.example"},
                           transports=["websocket"], wait_timeout=5)
        assert good.connected
        await good.disconnect()
    finally:
        await stop_server(runner, server)


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u3164 ", "\u00a0"])
async def test_a_message_of_invisible_characters_is_blank(server: Server, text: str) -> None:
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    ack = await widget.call("from_user", {"message": text, "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"] is False, ack
    assert (ack["error"]["code"], ack["error"]["field"]) == ("invalid_payload", "message")
    ack = await agent.call("send_message", {"conversation_id": cid, "text": text})
    assert (ack["error"]["code"], ack["error"]["field"]) == ("invalid_payload", "text")
    assert await server.messages.history(cid) == []
    # Text with a visible character among the invisible ones is a message.
    ack = await widget.call(
        "from_user", {"message": "\u200bhi\u200d", "ConversationID": cid, "BotID": bot.id}
    )
    assert ack["ok"], ack
