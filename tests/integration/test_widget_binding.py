"""A widget socket's binding: it belongs to one handoff, and a bind that fails changes nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from handoff.app import SIO
from handoff.sockets import rooms
from tests.conftest import TIMEOUT, Bot, Client, Server, fail_updates_of, heal_updates


def _in_room(server: Server, client: Client, conversation_id: str) -> bool:
    sid = client.sio.get_sid("/live_agent")
    room = rooms.widget_room(conversation_id)
    return sid in {p[0] for p in server.app[SIO].manager.get_participants("/live_agent", room)}


async def _gone(server: Server, client: Client) -> None:
    """Disconnect ``client`` and wait (polling, bounded) until the server has handled it."""
    sid = client.sio.get_sid("/live_agent")
    await client.close()
    manager = server.app[SIO].manager
    deadline = time.monotonic() + TIMEOUT
    while manager.is_connected(sid, "/live_agent"):
        assert time.monotonic() < deadline, "the server never saw the widget go"
        await asyncio.sleep(0.01)


def _say(cid: str, bot: Bot, text: str) -> dict[str, Any]:
    return {"message": text, "ConversationID": cid, "BotID": bot.id}


async def _closed_and_reopened(server: Server) -> tuple[Bot, str, Client, Client]:
    """A handoff the agent closed while its widget stayed connected, then reopened by the bot."""
    bot = await server.bot()
    cid, old, agent = await server.live_pair(bot)
    assert (await agent.call("close", {"conversation_id": cid}))["ok"]
    # A widget that ignores disconnect_socket (a script, a stuck page) stays connected.
    await old.rec.wait("disconnect_socket")
    assert old.sio.connected
    reopened = await server.handoff(bot, ConversationID=cid)
    assert reopened["state"] == "pending"
    return bot, cid, old, agent


async def test_a_socket_of_an_earlier_handoff_must_bind_again(server: Server) -> None:
    bot, cid, old, _agent = await _closed_and_reopened(server)
    ack = await old.call("from_user", _say(cid, bot, "from the last handoff"))
    assert ack["ok"] is False and ack["error"]["code"] == "conversation_closed", ack
    assert [m.text for m in await server.messages.history(cid)] == []
    assert not _in_room(server, old, cid)
    # Its username is a bind like any other: the conversation is queued and routed.
    ack = await old.call("username", {"ConversationID": cid, "BotID": bot.id})
    assert ack["ok"] and ack["state"] == "assigned", ack
    assert _in_room(server, old, cid)
    assert await server.state.touch_connection("widget", cid, 0) == 1
    ack = await old.call("from_user", _say(cid, bot, "bound again"))
    assert ack["ok"], ack


async def test_a_socket_of_an_earlier_handoff_does_not_count_for_presence(
    server: Server,
) -> None:
    bot, cid, old, agent = await _closed_and_reopened(server)
    new = await server.widget(cid, bot)
    await agent.rec.wait(
        "conversation_assigned", lambda d: d["conversation"]["conversation_id"] == cid
    )
    await _gone(server, old)
    assert await server.state.touch_connection("widget", cid, 0) == 1
    # No grace period started: the person is still there, in the new widget.
    await server.service.sweep(time.time() + 61)
    view = await server.service.conversation(cid)
    assert view.state == "assigned", view
    assert not agent.rec.of("user_left")
    assert len(agent.rec.of("conversation_closed")) == 1  # the first handoff's only
    ack = await new.call("from_user", _say(cid, bot, "still here"))
    assert ack["ok"], ack
    await agent.rec.wait("user_message", lambda d: d["text"] == "still here")


async def test_a_bind_that_fails_changes_nothing(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent_socket(await server.agent(bot))
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget()
    await fail_updates_of(server, cid)
    ack = await widget.call("username", {"ConversationID": cid, "BotID": bot.id})
    assert ack["ok"] is False and ack["error"]["code"] == "internal_error", ack
    # Not half bound: in no room, not counted, and the conversation waits as it did.
    assert not _in_room(server, widget, cid)
    assert await server.state.touch_connection("widget", cid, 0) == 0
    assert (await server.service.conversation(cid)).state == "pending"
    ack = await widget.call("from_user", _say(cid, bot, "hello?"))
    assert ack["error"]["code"] == "not_bound", ack
    # Once the database is well, the same socket binds, and its going is noticed.
    await heal_updates(server)
    ack = await widget.call("username", {"ConversationID": cid, "BotID": bot.id})
    assert ack["ok"] and ack["state"] == "assigned", ack
    assert await server.state.touch_connection("widget", cid, 0) == 1
    await widget.close()
    assert await agent.rec.wait("user_left") == {"conversation_id": cid}
