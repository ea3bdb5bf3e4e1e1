from tests.conftest import Server


async def test_widget_to_agent_and_back(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot)
    agent_sock = await server.agent_socket(agent)
    body = await server.handoff(bot, user={"name": "Thandi"}, reason="wants a human")
    cid = body["ConversationID"]
    widget = await server.widget(cid, bot)
    assigned = await agent_sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == cid
    assert agent_sock.rec.of("user_returned") == []
    await widget.rec.wait("messages")
    ack = await widget.call(
        "from_user", {"message": "hello", "ConversationID": cid, "BotID": bot.id}
    )
    assert ack["ok"] and ack["seq"] == 1
    msg = await agent_sock.rec.wait("user_message")
    assert msg["text"] == "hello" and msg["seq"] == 1
    ack = await agent_sock.call("send_message", {"conversation_id": cid, "text": "hi, Anna here"})
    assert ack["ok"], ack
    got = await widget.rec.wait("to_user", lambda d: d.get("sender") == "agent")
    assert got["message"] == "hi, Anna here"
    ack = await agent_sock.call("close", {"conversation_id": cid, "outcome": "solved"})
    assert ack["ok"], ack
    await widget.rec.wait("disconnect_socket")
