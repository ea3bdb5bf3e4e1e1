"""Grace periods for widgets and agents, and a restart that loses nothing."""

import time
from pathlib import Path

from tests.conftest import Server, make_settings, start_server, stop_server


async def test_widget_comes_back_within_grace_and_gets_what_it_missed(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    await widget.close()
    assert (await sock.rec.wait("user_left")) == {"conversation_id": cid}
    for text in ("are you there?", "I'll wait"):
        assert (await sock.call("send_message", {"conversation_id": cid, "text": text}))["ok"]
    await server.service.sweep(time.time() + 30)  # inside the 60 s grace
    back = await server.widget(cid, bot)
    assert (await sock.rec.wait("user_returned")) == {"conversation_id": cid}
    missed = [d["message"] for d in back.rec.of("to_user") if d.get("sender") == "agent"]
    assert missed == ["are you there?", "I'll wait"]
    assert (await server.service.conversation(cid)).state == "assigned"


async def test_rich_widget_resumes_from_a_sequence_number(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    for text in ("one", "two", "three"):
        await sock.call("send_message", {"conversation_id": cid, "text": text})
    await widget.rec.wait("to_user", lambda d: d["message"] == "three")
    await widget.close()
    back = await server.widget(cid, bot, resume_after_seq=1)
    assert [d["message"] for d in back.rec.of("to_user") if d.get("sender") == "agent"] == [
        "two",
        "three",
    ]


async def test_widget_gone_past_grace_is_abandoned(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    await widget.close()
    await sock.rec.wait("user_left")
    await server.service.sweep(time.time() + 61)
    closed = await sock.rec.wait("conversation_closed")
    assert closed == {"conversation_id": cid, "reason": "abandoned"}
    view = await server.service.conversation(cid)
    assert (view.state, view.close_reason) == ("closed", "abandoned")


async def test_agent_gone_past_grace_puts_chats_back_at_the_head(server: Server) -> None:
    bot = await server.bot()
    a = await server.agent(bot, capacity=1)
    sock_a = await server.agent_socket(a)
    first = (await server.handoff(bot))["ConversationID"]
    w1 = await server.widget(first, bot)
    await sock_a.rec.wait("conversation_assigned")
    second = (await server.handoff(bot))["ConversationID"]
    await server.widget(second, bot)
    await sock_a.close()
    await server.service.sweep(time.time() + 30)  # within grace: still theirs
    assert (await server.service.conversation(first)).agent_id == a.id
    await server.service.sweep(time.time() + 61)
    await w1.rec.wait("to_user", lambda d: "disconnected" in d["message"])
    queue = [e.conversation_id for e in await server.state.queue(bot.id)]
    assert queue == [first, second]
    b = await server.agent(bot, capacity=1)
    sock_b = await server.agent_socket(b)
    got = await sock_b.rec.wait("conversation_assigned")
    assert got["conversation"]["conversation_id"] == first


async def test_agent_reconnecting_within_grace_keeps_their_chats(server: Server) -> None:
    bot = await server.bot()
    a = await server.agent(bot)
    sock = await server.agent_socket(a)
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    await sock.close()
    again = await server.agent_socket(a, online=False)
    restored = await again.rec.wait("conversation_assigned")
    assert restored["conversation"]["conversation_id"] == cid
    await server.service.sweep(time.time() + 61)
    assert (await server.service.conversation(cid)).agent_id == a.id
    assert (await again.call("send_message", {"conversation_id": cid, "text": "back"}))["ok"]


async def test_restart_loses_nothing_that_was_acknowledged(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runner, server = await start_server(settings)
    bot = await server.bot()
    agent = await server.agent(bot)
    sock = await server.agent_socket(agent)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    for i in range(20):
        ack = await widget.call(
            "from_user", {"message": f"m{i}", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["ok"]
    await sock.call("send_message", {"conversation_id": cid, "text": "agent says"})
    await stop_server(runner, server)

    runner, server = await start_server(settings)
    try:
        sock = await server.agent_socket(agent, online=False)
        restored = await sock.rec.wait("conversation_assigned")
        texts = [m["text"] for m in restored["messages"]]
        assert texts == [f"m{i}" for i in range(20)] + ["agent says"]
        widget = await server.widget(cid, bot)
        ack = await widget.call(
            "from_user", {"message": "after restart", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["seq"] == 22
        assert (await sock.rec.wait("user_message"))["text"] == "after restart"
    finally:
        await stop_server(runner, server)
