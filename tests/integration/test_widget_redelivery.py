"""A widget that goes silent and then is gone gets, when it binds again, every agent message
sent after its last proof of life: the seed widget (which cannot name a seq) as much as a rich one.

The silence is made by :class:`~tests.integration.proxy.FreezingProxy` between the widget
and the server. The seed widget itself, under Node, is in ``test_js_widget.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import socketio

from tests.conftest import TIMEOUT, Client, Recorder, Server
from tests.integration.proxy import FreezingProxy


@pytest.fixture
async def proxy(server: Server) -> AsyncIterator[FreezingProxy]:
    p = FreezingProxy(server.settings.port)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


async def _widget_through(proxy: FreezingProxy, server: Server) -> Client:
    sio = socketio.AsyncClient(reconnection=False)
    rec = Recorder()

    async def catch_all(event: str, *args: object) -> None:
        await rec.add(event, args[0] if args else None)

    sio.on("*", catch_all, namespace="/live_agent")
    await sio.connect(
        proxy.url, namespaces=["/live_agent"], transports=["websocket"], wait_timeout=TIMEOUT
    )
    client = Client(sio, rec, "/live_agent")
    server.clients.append(client)
    await rec.wait("startConversation")
    return client


def _agent_texts(client: Client) -> list[str]:
    return [d["message"] for d in client.rec.of("to_user") if d.get("sender") == "agent"]


async def test_a_silently_dropped_widget_gets_what_it_missed_on_a_plain_rebind(
    server: Server, proxy: FreezingProxy
) -> None:
    bot = await server.bot()
    anna = await server.agent(bot, name="Anna")
    agent = await server.agent_socket(anna)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await _widget_through(proxy, server)
    ack = await widget.call("username", {"ConversationID": cid, "BotID": bot.id})
    assert ack["ok"] and ack["state"] == "assigned", ack
    for text in ("before 1", "before 2"):
        assert (await agent.call("send_message", {"conversation_id": cid, "text": text}))["ok"]
    await widget.rec.wait("to_user", lambda d: d["message"] == "before 2")
    # The widget's last packet: it had both messages by then.
    ack = await widget.call("from_user", {"message": "ok", "ConversationID": cid, "BotID": bot.id})
    assert ack["ok"], ack

    proxy.freeze()
    lost = [f"lost {i}" for i in range(29)]
    for text in lost:
        assert (await agent.call("send_message", {"conversation_id": cid, "text": text}))["ok"]
    proxy.cut()
    assert await agent.rec.wait("user_left") == {"conversation_id": cid}
    assert not [t for t in _agent_texts(widget) if t.startswith("lost")]

    # The seed widget's rebind: no seq, so the server works out what may be missing.
    back = await server.widget(cid, bot)
    assert _agent_texts(back) == lost
    for sent in (d for d in back.rec.of("to_user") if d.get("sender") == "agent"):
        assert sent["agent"] == {"id": anna.id, "name": "Anna"}  # as when first sent
        assert isinstance(sent["seq"], int)
    await agent.rec.wait("user_returned")
    # Taken once: a further rebind (another tab) gets nothing again.
    again = await server.widget(cid, bot)
    assert _agent_texts(again) == []


async def test_messages_sent_again_have_the_shape_they_had_the_first_time(server: Server) -> None:
    bot = await server.bot()
    anna = await server.agent(bot, name="Anna")
    agent = await server.agent_socket(anna)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await widget.close()
    await agent.rec.wait("user_left")
    sent = await agent.call("send_message", {"conversation_id": cid, "text": "are you there?"})
    assert sent["ok"], sent
    back = await server.widget(cid, bot)
    again = next(d for d in back.rec.of("to_user") if d.get("sender") == "agent")
    assert again == {
        "message": "are you there?",
        "seq": sent["message"]["seq"],
        "sender": "agent",
        "agent": {"id": anna.id, "name": "Anna"},
    }
