"""Supervisors: the conversations in progress, watching read-only, taking over, transferring.

Real server, real python-socketio clients for the widget, the agents and the
supervisor, and the REST list through aiohttp.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from handoff.app import ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from tests.conftest import Bot, Client, Server


async def staff(
    server: Server,
    bots: Bot | list[Bot],
    *,
    role: str = "supervisor",
    name: str = "Sam",
    capacity: int = 3,
    teams: list[str] | None = None,
) -> AgentRecord:
    """An agent with ``role`` (the fixtures' agents all have the agent role)."""
    listed = bots if isinstance(bots, list) else [bots]
    return await AgentRepo(server.app[ENGINE]).create(
        f"{role}-{time.monotonic_ns()}@example.com",
        "s3cret-pass",
        name=name,
        bots=[b.id for b in listed],
        capacity=capacity,
        teams=teams,
        role=role,
    )


async def refused(client: Client, event: str, data: Any) -> tuple[str, str | None]:
    ack = await client.call(event, data)
    assert ack["ok"] is False, ack
    return ack["error"]["code"], ack["error"].get("field")


async def in_progress(server: Server, bot: Bot, token: str, query: str = "") -> tuple[int, Any]:
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/conversations{query}",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, await resp.json()


async def test_a_watcher_gets_both_sides_live_and_cannot_write(server: Server) -> None:
    bot = await server.bot()
    cid, widget, anna = await server.live_pair(bot)
    assert (await widget.call("from_user", {"message": "before", "ConversationID": cid,
                                            "BotID": bot.id}))["ok"]
    await anna.rec.wait("user_message")
    sam = await server.agent_socket(await staff(server, bot), online=False)

    ack = await sam.call("watch_conversation", {"conversation_id": cid})
    assert ack["ok"], ack
    assert ack["conversation"]["state"] == "assigned"
    assert [(m["seq"], m["sender"], m["text"]) for m in ack["messages"]] == [(1, "user", "before")]
    assert ack["user_connected"] is True
    # Watching twice from one socket is one watch; the count is what messages check first.
    assert (await sam.call("watch_conversation", {"conversation_id": cid, "after_seq": 1}))[
        "messages"] == []
    assert await server.state.touch_connection("watch", cid, 0) == 1

    await widget.call("from_user", {"message": "my order is late", "ConversationID": cid,
                                    "BotID": bot.id})
    seen = await sam.rec.wait("watched_message")
    assert seen["conversation_id"] == cid
    assert (seen["message"]["seq"], seen["message"]["sender"]) == (2, "user")
    sent = await anna.call("send_message", {"conversation_id": cid, "text": "checking now"})
    assert sent["ok"], sent
    seen = await sam.rec.wait("watched_message")
    assert seen["message"] == sent["message"]
    await widget.call("typing", {"ConversationID": cid, "typing": True})
    assert await sam.rec.wait("watched_typing") == {
        "conversation_id": cid, "sender": "user", "typing": True
    }
    await anna.call("typing", {"conversation_id": cid, "typing": True})
    assert (await sam.rec.wait("watched_typing"))["sender"] == "agent"
    # The watcher is not the agent: none of the agent's own events reach it.
    assert not sam.rec.of("user_message") and not sam.rec.of("conversation_assigned")

    # Read-only: writing is refused in words that say why, and nothing reaches the person.
    for event, data in [
        ("send_message", {"conversation_id": cid, "text": "hello from Sam"}),
        ("typing", {"conversation_id": cid, "typing": True}),
        ("close", {"conversation_id": cid}),
    ]:
        assert await refused(sam, event, data) == ("read_only", "conversation_id"), event
    stored = await server.messages.history(cid)
    assert [m.text for m in stored] == ["before", "my order is late", "checking now"]

    # Unwatched: the next message is not sent to it (the ack of a later call comes after
    # any emit made before it).
    assert (await sam.call("unwatch_conversation", {"conversation_id": cid})) == {
        "ok": True, "was_watching": True
    }
    assert await server.state.touch_connection("watch", cid, 0) == 0
    await widget.call("from_user", {"message": "hello?", "ConversationID": cid, "BotID": bot.id})
    await anna.rec.wait("user_message", lambda d: d["text"] == "hello?")
    assert (await sam.call("queue", {}))["ok"]
    assert [d["message"]["seq"] for d in sam.rec.of("watched_message")] == [2, 3]
    assert await refused(sam, "send_message", {"conversation_id": cid, "text": "x"}) == (
        "not_your_conversation", "conversation_id")


async def test_a_watcher_sees_the_moves_until_the_end(server: Server) -> None:
    bot = await server.bot()
    cid, widget, anna = await server.live_pair(bot)
    sam = await server.agent_socket(await staff(server, bot), online=False)
    assert (await sam.call("watch_conversation", {"conversation_id": cid}))["ok"]
    await widget.call("messages_to_client", {
        "messages": [{"sender": "user", "message": "human please"},
                     {"sender": "bot", "message": "one moment"}], "bot_id": bot.id})
    shown = await sam.rec.wait("watched_transcript")
    assert [t["message"] for t in shown["messages"]] == ["human please", "one moment"]
    assert (await anna.call("close", {"conversation_id": cid, "outcome": "done"}))["ok"]
    moved = await sam.rec.wait("watched_state")
    assert moved["transition"] == "resolve"
    assert moved["conversation"]["state"] == "closed"
    assert moved["conversation"]["close_reason"] == "resolved"
    assert await refused(sam, "watch_conversation", {"conversation_id": cid}) == (
        "conversation_closed", "conversation_id")
    # A watcher's socket that goes away takes its watches with it.
    other = (await server.live_pair(bot))[0]
    ada = await server.agent_socket(await staff(server, bot, name="Ada"), online=False)
    assert (await ada.call("watch_conversation", {"conversation_id": other}))["ok"]
    assert (await sam.call("watch_conversation", {"conversation_id": other}))["ok"]
    assert await server.state.touch_connection("watch", other, 0) == 2
    await ada.close()
    await sam.close()
    for _ in range(100):  # the server runs on_disconnect a moment after the client left
        if await server.state.touch_connection("watch", other, 0) == 0:
            break
        await asyncio.sleep(0.02)
    assert await server.state.touch_connection("watch", other, 0) == 0


async def test_a_take_over_moves_the_chat_to_the_supervisor_without_losing_a_message(
    server: Server,
) -> None:
    bot = await server.bot()
    cid, widget, anna = await server.live_pair(bot)
    for text in ("one", "two"):
        await widget.call("from_user", {"message": text, "ConversationID": cid, "BotID": bot.id})
    await anna.call("send_message", {"conversation_id": cid, "text": "three"})
    before = await server.conversations.get(cid)
    assert before is not None and before.agent_id is not None
    sup = await staff(server, bot, name="Sam")
    sam = await server.agent_socket(sup, online=False)
    # Away and no capacity at all: a supervisor stepping in is not stopped by either.
    assert (await sam.call("set_status", {"status": "away", "capacity": 0}))["ok"]
    assert (await sam.call("watch_conversation", {"conversation_id": cid}))["ok"]

    ack = await sam.call("take_over", {"conversation_id": cid})
    assert ack["ok"], ack
    assert ack["conversation"]["agent_id"] == sup.id
    told = await anna.rec.wait("conversation_transferred")
    assert told == {"conversation_id": cid, "to_agent_id": sup.id, "by_agent_id": sup.id,
                    "by_agent_name": "Sam"}
    assigned = await sam.rec.wait("conversation_assigned")
    assert assigned["from_agent_id"] == before.agent_id
    assert [m["seq"] for m in assigned["messages"]] == [1, 2, 3]
    assert (await widget.rec.wait("to_user", lambda d: d["sender"] == "system"
                                  and "transferred" in d["message"]))["message"] == (
        "You're being transferred to Sam.")
    moved = await sam.rec.wait("watched_state")
    assert (moved["transition"], moved["conversation"]["agent_id"]) == ("transfer", sup.id)

    # The person keeps chatting, now with Sam; Anna can no longer write.
    await widget.call("from_user", {"message": "four", "ConversationID": cid, "BotID": bot.id})
    got = await sam.rec.wait("user_message")
    assert (got["seq"], got["text"]) == (4, "four")
    reply = await sam.call("send_message", {"conversation_id": cid, "text": "Sam here"})
    assert reply["ok"] and reply["message"]["seq"] == 5
    assert (await widget.rec.wait("to_user", lambda d: d.get("seq") == 5))["agent"] == {
        "id": sup.id, "name": "Sam"}
    assert await refused(anna, "send_message", {"conversation_id": cid, "text": "x"}) == (
        "not_your_conversation", "conversation_id")
    # Every message once, in order, by seq: what Sam was given covers all of them.
    stored = [m.seq for m in await server.messages.history(cid)]
    sams = sorted({m["seq"] for m in assigned["messages"]} | {got["seq"], reply["message"]["seq"]})
    assert stored == sams == [1, 2, 3, 4, 5]
    # Over capacity by choice; routing gives Sam nothing more.
    presence = await server.state.get_agent(sup.id)
    assert presence is not None and presence.load == 1 and presence.capacity == 0
    assert await refused(sam, "take_over", {"conversation_id": cid}) == (
        "already_theirs", "conversation_id")
    events = await server.conversations.events(cid)
    assert events[-1]["transition"] == "transfer" and events[-1]["actor"] == f"agent:{sup.id}"


async def test_a_take_over_of_a_queued_conversation_is_like_accept(server: Server) -> None:
    bot = await server.bot()
    sup = await staff(server, bot, name="Sam")
    sam = await server.agent_socket(sup, online=False)
    cid = (await server.handoff(bot))["ConversationID"]
    assert await refused(sam, "take_over", {"conversation_id": cid}) == (
        "not_in_progress", "conversation_id")
    widget = await server.widget(cid, bot)
    ack = await sam.call("take_over", {"conversation_id": cid})
    assert ack["ok"] and ack["conversation"]["state"] == "assigned"
    assert ack["conversation"]["agent_id"] == sup.id
    assert (await sam.rec.wait("conversation_assigned"))["conversation"]["conversation_id"] == cid
    joined = await widget.rec.wait("to_user", lambda d: "joined" in d["message"])
    assert joined["agent"] == {"id": sup.id, "name": "Sam"}
    await widget.rec.wait("messages")  # the seed protocol: asked for the bot transcript


async def test_a_supervisor_transfers_another_agents_conversation(server: Server) -> None:
    bot = await server.bot()
    cid, widget, anna = await server.live_pair(bot)
    ben_record = await server.agent(bot, name="Ben", teams=["billing"])
    ben = await server.agent_socket(ben_record)
    sup = await staff(server, bot)
    sam = await server.agent_socket(sup, online=False)
    held = await server.conversations.get(cid)
    assert held is not None
    anna_record_id = held.agent_id

    ack = await sam.call("transfer", {"conversation_id": cid, "to_agent_id": ben_record.id,
                                      "note": "VIP, be kind"})
    assert ack["ok"], ack
    assert ack["conversation"]["agent_id"] == ben_record.id
    got = await ben.rec.wait("conversation_assigned", lambda d: d["note"] is not None)
    assert (got["note"], got["from_agent_id"]) == ("VIP, be kind", anna_record_id)
    told = await anna.rec.wait("conversation_transferred")
    assert (told["to_agent_id"], told["by_agent_id"]) == (ben_record.id, sup.id)
    await widget.rec.wait("to_user", lambda d: d["message"] == "You're being transferred to Ben.")
    events = await server.conversations.events(cid)
    assert events[-1]["detail"] == {"note": "VIP, be kind", "from_agent_id": anna_record_id,
                                    "by_agent_id": sup.id, "agent_id": ben_record.id}

    # Then to a team: back to the queue for it, and auto routing gives it to its member.
    await ben.call("set_status", {"status": "online", "capacity": 5})
    ack = await sam.call("transfer", {"conversation_id": cid, "to_team": "billing"})
    assert ack["ok"], ack
    told = await ben.rec.wait("conversation_transferred")
    assert (told["to_team"], told["by_agent_id"]) == ("billing", sup.id)
    again = await ben.rec.wait("conversation_assigned", lambda d: d["conversation"]["team"])
    assert again["conversation"]["agent_id"] == ben_record.id

    # Refused: to the agent who has it, to nobody known, and a queued conversation.
    assert await refused(sam, "transfer", {"conversation_id": cid,
                                           "to_agent_id": ben_record.id}) == (
        "already_theirs", "to_agent_id")
    assert await refused(sam, "transfer", {"conversation_id": cid, "to_agent_id": "agt_nope"}) == (
        "unknown_agent", "to_agent_id")
    queued = (await server.handoff(bot, team="nobody"))["ConversationID"]
    await server.widget(queued, bot)
    assert await refused(sam, "transfer", {"conversation_id": queued, "to_team": "billing"}) == (
        "not_assigned", "conversation_id")


async def test_the_list_of_conversations_in_progress(server: Server) -> None:
    bot = await server.bot()
    cid, widget, anna = await server.live_pair(bot)
    await widget.call("from_user", {"message": "hi", "ConversationID": cid, "BotID": bot.id})
    await anna.rec.wait("user_message")
    waiting = (await server.handoff(bot, user={"name": "Thandi"}, team="vip"))["ConversationID"]
    await server.widget(waiting, bot)
    await server.handoff(bot)  # pending: the widget never came, not in progress
    sup = await staff(server, bot)
    token = await server.login(sup.email)

    status, body = await in_progress(server, bot, token)
    assert status == 200, body
    assert body["bot_id"] == bot.id and body["limit"] == 100 and body["truncated"] is False
    assert [(c["conversation_id"], c["state"]) for c in body["conversations"]] == [
        (waiting, "queued"), (cid, "assigned")]
    queued, assigned = body["conversations"]
    assert queued["user"] == {"name": "Thandi"} and queued["team"] == "vip"
    assert queued["agent"] is None and queued["wait_seconds"] >= 0
    assert queued["last_message_at"] is None
    anna_view = await server.conversations.get(cid)
    assert anna_view is not None
    assert assigned["agent"]["id"] == anna_view.agent_id
    assert assigned["agent"]["name"]
    assert assigned["assigned_at"] and assigned["last_message_at"]

    status, body = await in_progress(server, bot, token, "?state=assigned")
    assert [c["conversation_id"] for c in body["conversations"]] == [cid]
    status, body = await in_progress(server, bot, token, "?limit=1")
    assert [c["conversation_id"] for c in body["conversations"]] == [waiting]
    assert body["truncated"] is True and body["limit"] == 1

    # An admin sees any bot's; for a bot that does not exist, a 404 naming it.
    admin = await staff(server, [], role="admin", name="Ada")
    admin_token = await server.login(admin.email)
    status, body = await in_progress(server, bot, admin_token)
    assert status == 200 and len(body["conversations"]) == 2
    status, body = await in_progress(server, Bot("bot_nope", ""), admin_token)
    assert (status, body["error"]["code"], body["error"]["field"]) == (404, "unknown_bot", "bot_id")


async def test_refusals_name_their_field(server: Server) -> None:
    bot, other = await server.bot(), await server.bot()
    cid, _widget, anna = await server.live_pair(bot)
    agent_token = await server.login((await server.agent(bot)).email)
    # An agent without the role: every supervisor request says which role it needs.
    for event in ("watch_conversation", "take_over"):
        code, field = await refused(anna, event, {"conversation_id": cid})
        assert (code, field) == ("forbidden", "role"), event
    status, body = await in_progress(server, bot, agent_token)
    assert (status, body["error"]["field"]) == (403, "role")
    assert "supervisor role" in body["error"]["message"]
    # A supervisor of another bot.
    stranger = await staff(server, other)
    far = await server.agent_socket(stranger, online=False)
    for event in ("watch_conversation", "take_over"):
        assert await refused(far, event, {"conversation_id": cid}) == (
            "forbidden", "conversation_id"), event
    assert await refused(far, "transfer", {"conversation_id": cid, "to_team": "x"}) == (
        "forbidden", "conversation_id")
    status, body = await in_progress(server, bot, await server.login(stranger.email))
    assert (status, body["error"]["field"]) == (403, "bot_id")
    # An admin may watch any bot's conversation but takes over only one of their bots.
    admin = await server.agent_socket(await staff(server, other, role="admin"), online=False)
    assert (await admin.call("watch_conversation", {"conversation_id": cid}))["ok"]
    assert await refused(admin, "take_over", {"conversation_id": cid}) == (
        "forbidden", "conversation_id")

    sam = await server.agent_socket(await staff(server, bot), online=False)
    # Unknown and closed conversations.
    for event in ("watch_conversation", "take_over"):
        assert await refused(sam, event, {"conversation_id": "nope"}) == (
            "unknown_conversation", "conversation_id"), event
    await anna.call("close", {"conversation_id": cid})
    for event in ("watch_conversation", "take_over"):
        assert await refused(sam, event, {"conversation_id": cid}) == (
            "conversation_closed", "conversation_id"), event
    # Bad bodies.
    for event, data, field in [
        ("watch_conversation", {}, "conversation_id"),
        ("watch_conversation", {"conversation_id": ""}, "conversation_id"),
        ("watch_conversation", {"conversation_id": 12}, "conversation_id"),
        ("watch_conversation", {"conversation_id": cid, "after_seq": -1}, "after_seq"),
        ("watch_conversation", {"conversation_id": cid, "after_seq": "x"}, "after_seq"),
        ("watch_conversation", {"conversation_id": cid, "after_seq": 2**31}, "after_seq"),
        ("unwatch_conversation", {"conversation_id": "x" * 129}, "conversation_id"),
        ("take_over", {"conversation_id": None}, "conversation_id"),
        ("take_over", ["not", "an", "object"], "payload"),
    ]:
        assert await refused(sam, event, data) == ("invalid_payload", field), (event, data)
    token = await server.login((await staff(server, bot)).email)
    for query, field in [("?state=closed", "state"), ("?limit=0", "limit"),
                         ("?limit=501", "limit"), ("?limit=ten", "limit")]:
        status, body = await in_progress(server, bot, token, query)
        assert (status, body["error"]["code"], body["error"]["field"]) == (
            400, "invalid_payload", field), query
    # Nothing above disturbed the rest: the widget of another conversation still works.
    cid2, widget2, anna2 = await server.live_pair(bot)
    assert (await widget2.call("from_user", {"message": "still fine", "ConversationID": cid2,
                                             "BotID": bot.id}))["ok"]
    assert (await anna2.rec.wait("user_message"))["text"] == "still fine"


async def test_the_list_of_conversations_in_progress_on_postgres(pg_server: Server) -> None:
    """The same query on PostgreSQL: the order by state and time, the last message's time."""
    server = pg_server
    bot = await server.bot()
    cid, widget, _anna = await server.live_pair(bot)
    await widget.call("from_user", {"message": "hi", "ConversationID": cid, "BotID": bot.id})
    waiting = (await server.handoff(bot, team="vip"))["ConversationID"]  # nobody is in vip
    await server.widget(waiting, bot)
    token = await server.login((await staff(server, bot)).email)
    status, body = await in_progress(server, bot, token)
    assert status == 200, body
    assert [(c["conversation_id"], c["state"]) for c in body["conversations"]] == [
        (waiting, "queued"), (cid, "assigned")]
    assert body["conversations"][1]["last_message_at"] is not None
    assert body["conversations"][1]["agent"]["name"]
