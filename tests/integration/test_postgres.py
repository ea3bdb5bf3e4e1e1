"""The same core on PostgreSQL (the migrations on both databases: test_migrations.py)."""

from pathlib import Path

from tests.conftest import Server, make_settings, start_server, stop_server


async def test_full_handoff_on_postgres(pg_server: Server) -> None:
    server = pg_server
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot, name="Anna"))
    cid = (await server.handoff(bot, user={"name": "Thandi"}))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    for i in range(30):
        ack = await widget.call(
            "from_user", {"message": f"m{i}", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack["seq"] == i + 1
    ack = await sock.call(
        "send_message", {"conversation_id": cid, "text": "hello from Anna", "client_msg_id": "c1"}
    )
    dup = await sock.call(
        "send_message", {"conversation_id": cid, "text": "hello from Anna", "client_msg_id": "c1"}
    )
    assert ack["message"]["seq"] == dup["message"]["seq"] == 31
    await widget.rec.wait("to_user", lambda d: d["message"] == "hello from Anna")
    await widget.call(
        "messages_to_client", {"messages": [{"sender": "bot", "message": "hi"}], "bot_id": bot.id}
    )
    await sock.rec.wait("transcript")
    ack = await sock.call("close", {"conversation_id": cid})
    assert ack["ok"]
    await widget.rec.wait("disconnect_socket")
    events = await server.conversations.events(cid)
    assert [e["to"] for e in events] == ["pending", "queued", "assigned", "closed"]
    history = await server.messages.history(cid)
    assert len(history) == 31


async def test_restart_on_postgres_keeps_the_conversation(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url)
    runner, server = await start_server(settings)
    bot = await server.bot()
    agent = await server.agent(bot)
    sock = await server.agent_socket(agent)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    await widget.call("from_user", {"message": "before", "ConversationID": cid, "BotID": bot.id})
    await stop_server(runner, server)
    runner, server = await start_server(settings)
    try:
        sock = await server.agent_socket(agent, online=False)
        restored = await sock.rec.wait("conversation_assigned")
        assert [m["text"] for m in restored["messages"]] == ["before"]
    finally:
        await stop_server(runner, server)
