"""The console's live events on a real /agent socket: delivery state, notes, offline messages."""

from __future__ import annotations

from typing import Any

from handoff.app import ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from tests.conftest import Bot, Client, Server


async def token(server: Server, email: str) -> str:
    return await server.login(email)


async def rest(server: Server, method: str, path: str, auth: str, body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {auth}"}}
    if body is not None:
        kwargs["json"] = body
    async with server.http.request(method, server.url + path, **kwargs) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def assigned_agent(server: Server, cid: str) -> AgentRecord:
    view = await server.conversations.get(cid)
    assert view is not None and view.agent_id is not None
    record = await AgentRepo(server.app[ENGINE]).get(view.agent_id)
    assert record is not None
    return record


async def user_says(widget: Client, cid: str, bot: Bot, text: str) -> None:
    ack = await widget.call("from_user", {"message": text, "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"], ack


async def test_a_relayed_message_is_delivered_in_its_ack(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    assigned = sock.rec.of("conversation_assigned")[0]
    assert assigned["delivered_seq"] == 0
    ack = await sock.call("send_message", {"conversation_id": cid, "text": "Hi, Anna here"})
    assert ack["ok"] and ack["delivered"] is True and ack["message"]["seq"] == 1
    await widget.rec.wait("to_user", lambda d: d.get("seq") == 1)
    # One socket: the ack said it, no event besides (events reach a socket in order, so
    # one sent after the relay proves none came before it).
    await user_says(widget, cid, bot, "thanks")
    await sock.rec.wait("user_message")
    assert sock.rec.of("messages_delivered") == []
    # A retry of the same client_msg_id says what is true of the stored one.
    retry = {"conversation_id": cid, "text": "x", "client_msg_id": "m1"}
    first = await sock.call("send_message", retry)
    again = await sock.call("send_message", retry)
    assert first["delivered"] and again["delivered"]
    assert again["message"]["seq"] == first["message"]["seq"]


async def test_a_second_tab_of_the_agent_gets_messages_delivered(server: Server) -> None:
    bot = await server.bot()
    cid, _, sock = await server.live_pair(bot)
    record = await assigned_agent(server, cid)
    tab = await server.agent_socket(record, online=False)
    await tab.rec.wait("conversation_assigned")
    ack = await sock.call("send_message", {"conversation_id": cid, "text": "one"})
    assert ack["delivered"]
    seq = ack["message"]["seq"]
    for client in (sock, tab):
        got = await client.rec.wait("messages_delivered")
        assert got == {"conversation_id": cid, "seq": seq}


async def test_missed_messages_are_delivered_when_the_widget_binds(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    await widget.close()
    await sock.rec.wait("user_left")
    ack = await sock.call("send_message", {"conversation_id": cid, "text": "still there?"})
    assert ack["ok"] and ack["delivered"] is False
    ack2 = await sock.call("send_message", {"conversation_id": cid, "text": "hello?"})
    back = await server.widget(cid, bot)
    redelivered = [d for d in back.rec.of("to_user") if d.get("sender") == "agent"]
    assert [d["message"] for d in redelivered] == [
        "still there?", "hello?"
    ]
    got = await sock.rec.wait("messages_delivered")
    assert got == {"conversation_id": cid, "seq": ack2["message"]["seq"]}
    await sock.rec.wait("user_returned")


async def test_a_widget_confirms_what_it_received(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    ack = await sock.call("send_message", {"conversation_id": cid, "text": "one"})
    seq = ack["message"]["seq"]
    answer = await widget.call("received", {"ConversationID": cid, "seq": seq})
    assert answer == {"ok": True}
    assert await sock.rec.wait("messages_delivered") == {"conversation_id": cid, "seq": seq}
    # A widget cannot confirm more than was sent: capped at the delivery mark.
    answer = await widget.call("received", {"ConversationID": cid, "seq": seq + 50})
    assert answer == {"ok": True}
    assert await sock.rec.wait("messages_delivered") == {"conversation_id": cid, "seq": seq}

    for payload, code, field in [
        ({"ConversationID": cid}, "invalid_payload", "seq"),
        ({"ConversationID": cid, "seq": -1}, "invalid_payload", "seq"),
        ({"ConversationID": cid, "seq": 2**31}, "invalid_payload", "seq"),
        ({"ConversationID": cid, "seq": "one"}, "invalid_payload", "seq"),
        ({"ConversationID": "another-conversation", "seq": 1}, "conversation_mismatch",
         "ConversationID"),
    ]:
        answer = await widget.call("received", payload)
        assert not answer["ok"], payload
        assert (answer["error"]["code"], answer["error"].get("field")) == (code, field), payload
    loose = await server.widget()
    answer = await loose.call("received", {"ConversationID": cid, "seq": 1})
    assert (answer["error"]["code"], answer["error"]["field"]) == ("not_bound", "ConversationID")
    assert [e for e in loose.rec.of("error") if e["event"] == "received"]
    # None of that reached the agent.
    await user_says(widget, cid, bot, "sync")
    await sock.rec.wait("user_message")
    assert len(sock.rec.of("messages_delivered")) == 2


async def test_the_assigned_agent_sees_a_colleagues_note_live(server: Server) -> None:
    bot = await server.bot()
    cid, widget, sock = await server.live_pair(bot)
    anna = await assigned_agent(server, cid)
    ben = await server.agent(bot, name="Ben")
    ben_sock = await server.agent_socket(ben)
    path = f"/api/v1/conversations/{cid}/notes"
    ben_token = await token(server, ben.email)
    note = await rest(server, "POST", path, ben_token, {"text": "VIP, be nice"})
    got = await sock.rec.wait("note_added")
    assert got == {"conversation_id": cid, "note": note}
    assert note["agent"] == {"id": ben.id, "name": "Ben"}
    # Anna's own note comes back in her answer, not as an event; Ben hears nothing of it.
    await rest(server, "POST", path, await token(server, anna.email), {"text": "noted"})
    await user_says(widget, cid, bot, "sync")
    await sock.rec.wait("user_message")
    assert len(sock.rec.of("note_added")) == 1
    assert ben_sock.rec.of("note_added") == []
    # Nothing of the notes reached the widget.
    assert not [d for _, d in widget.rec.events if "VIP, be nice" in str(d) or "noted" in str(d)]


async def test_offline_messages_and_their_handling_reach_every_agent_of_the_bot(
    server: Server,
) -> None:
    bot = await server.bot()
    other = await server.bot()
    anna = await server.agent(bot, name="Anna")
    ben = await server.agent(bot, name="Ben")
    otto = await server.agent(other, name="Otto")
    socks = [await server.agent_socket(a, online=False) for a in (anna, ben, otto)]
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff/messages",
        json={"contact": "thandi@example.com", "message": "<img src=x onerror=alert(1)>"},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert resp.status == 201
        left = await resp.json()
    for sock in socks[:2]:
        got = await sock.rec.wait("offline_message")
        assert got == {"bot_id": bot.id, "message": left}
    path = f"/api/v1/bots/{bot.id}/offline-messages/{left['id']}/handled"
    await rest(server, "POST", path, await token(server, anna.email))
    await rest(server, "POST", path, await token(server, ben.email))  # again: nobody is told
    for sock in socks[:2]:
        got = await sock.rec.wait("offline_message_handled")
        assert got == {"bot_id": bot.id, "message_id": left["id"]}
    # Sync each socket with an answer of its own, then count.
    for sock in socks:
        await sock.call("queue", {})
    await socks[0].call("queue", {})
    assert [len(s.rec.of("offline_message_handled")) for s in socks] == [1, 1, 0]
    assert socks[2].rec.of("offline_message") == []
