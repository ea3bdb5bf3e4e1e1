"""Queue, assignment, transfer and close, through real sockets."""

import asyncio
import time

from tests.conftest import Server


async def test_person_waits_in_queue_and_held_messages_reach_the_agent(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    cid = (await server.handoff(bot, user={"name": "Thandi"}))["ConversationID"]
    widget = await server.widget(cid, bot)
    notice = await widget.rec.wait("to_user")
    assert "first in line" in notice["message"] and "No agent is online" in notice["message"]
    for i in range(3):
        ack = await widget.call(
            "from_user", {"message": f"held {i}", "ConversationID": cid, "BotID": bot.id}
        )
        assert ack == {"ok": True, "seq": i + 1}

    agent_sock = await server.agent_socket(agent)
    assigned = await agent_sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["state"] == "assigned"
    assert [m["text"] for m in assigned["messages"]] == ["held 0", "held 1", "held 2"]
    assert [m["seq"] for m in assigned["messages"]] == [1, 2, 3]
    joined = await widget.rec.wait("to_user", lambda d: "joined" in d["message"])
    assert joined["message"] == "Anna joined the chat."
    await widget.rec.wait("messages")
    transcript = [
        {"sender": "user", "message": "I want a human"},
        {"sender": "bot", "message": "<b>Sure</b>, let me find one"},
    ]
    ack = await widget.call("messages_to_client", {"messages": transcript, "bot_id": bot.id})
    assert ack == {"ok": True, "stored": 2}
    got = await agent_sock.rec.wait("transcript")
    assert got == {"conversation_id": cid, "messages": transcript}
    stored = await server.messages.transcript(cid)
    assert [t.message for t in stored] == ["I want a human", "<b>Sure</b>, let me find one"]
    # A widget that answers a later `messages` with [] does not wipe what is stored.
    await widget.call("messages_to_client", {"messages": [], "bot_id": bot.id})
    assert len(await server.messages.transcript(cid)) == 2


async def test_queue_positions_are_told_and_updated(server: Server) -> None:
    bot = await server.bot()
    widgets = []
    for _ in range(3):
        cid = (await server.handoff(bot))["ConversationID"]
        widgets.append((cid, await server.widget(cid, bot, features=["queue"])))
    third = widgets[2][1]
    first_notice = await third.rec.wait("to_user")
    assert "number 3" in first_notice["message"]
    position = await third.rec.wait("queue_position")
    assert position["position"] == 3 and position["agents_online"] == 0
    agent = await server.agent(bot, capacity=1)
    await server.agent_socket(agent)
    moved = await third.rec.wait("to_user", lambda d: "number 2" in d["message"])
    # One recorded wait is too little history for an estimate (see routing/estimate.py;
    # test_bot_options.py has the estimate from enough of them).
    assert "shortly" in moved["message"]
    assert (await third.rec.wait("queue_position"))["position"] == 2


async def test_auto_assignment_balances_load_and_respects_capacity(server: Server) -> None:
    bot = await server.bot()
    a = await server.agent(bot, capacity=2, name="A")
    b = await server.agent(bot, capacity=2, name="B")
    sock_a = await server.agent_socket(a)
    sock_b = await server.agent_socket(b)
    owners = []
    for _ in range(5):
        cid = (await server.handoff(bot))["ConversationID"]
        await server.widget(cid, bot)
        owners.append(await server.state.assigned_agent(cid))
    assert owners[:4].count(a.id) == 2 and owners[:4].count(b.id) == 2
    assert owners[0] != owners[1]  # the second goes to the idle agent
    assert owners[4] is None  # both full: the fifth waits
    queue = await sock_a.call("queue", {})
    assert queue["ok"] and len(queue["conversations"]) == 1
    first = await sock_a.rec.wait("conversation_assigned")
    await sock_a.call("close", {"conversation_id": first["conversation"]["conversation_id"]})
    fifth = await sock_a.rec.wait("conversation_assigned")
    assert fifth["conversation"]["conversation_id"] not in owners[:4]
    assert sock_b.rec.of("conversation_closed") == []


async def test_manual_mode_first_accept_wins(server: Server) -> None:
    bot = await server.bot(assignment_mode="manual")
    socks = [await server.agent_socket(await server.agent(bot)) for _ in range(3)]
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    for sock in socks:
        update = await sock.rec.wait("queue_updated", lambda d: len(d["conversations"]) == 1)
        assert update["conversations"][0]["conversation_id"] == cid
    acks = await asyncio.gather(*(s.call("accept", {"conversation_id": cid}) for s in socks))
    winners = [ack for ack in acks if ack["ok"]]
    losers = [ack for ack in acks if not ack["ok"]]
    assert len(winners) == 1 and len(losers) == 2
    assert {ack["error"]["code"] for ack in losers} <= {"already_assigned", "not_queued"}
    events = await server.conversations.events(cid)
    assert [e["transition"] for e in events] == ["create", "bind", "assign"]


async def test_agent_chats_with_several_people_at_once(server: Server) -> None:
    bot = await server.bot()
    agent_sock = await server.agent_socket(await server.agent(bot, capacity=3))
    pairs = []
    for i in range(3):
        cid = (await server.handoff(bot))["ConversationID"]
        pairs.append((cid, await server.widget(cid, bot), i))
    for cid, widget, i in pairs:
        await widget.call(
            "from_user", {"message": f"from {i}", "ConversationID": cid, "BotID": bot.id}
        )
        await agent_sock.call("send_message", {"conversation_id": cid, "text": f"to {i}"})
    for cid, widget, i in pairs:
        msg = await agent_sock.rec.wait("user_message", lambda d, c=cid: d["conversation_id"] == c)
        assert msg["text"] == f"from {i}"
        got = await widget.rec.wait("to_user", lambda d: d.get("sender") == "agent")
        assert got["message"] == f"to {i}"
        assert [d["message"] for d in widget.rec.of("to_user") if d.get("sender") == "agent"] == [
            f"to {i}"
        ]


async def test_transfer_to_another_agent_keeps_the_history(server: Server) -> None:
    bot = await server.bot()
    a = await server.agent(bot, name="Anna")
    b = await server.agent(bot, name="Ben")
    sock_a = await server.agent_socket(a)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock_a.rec.wait("conversation_assigned")
    sock_b = await server.agent_socket(b)
    await widget.call("from_user", {"message": "my bill", "ConversationID": cid, "BotID": bot.id})
    await sock_a.call("send_message", {"conversation_id": cid, "text": "let me get Ben"})
    ack = await sock_a.call(
        "transfer", {"conversation_id": cid, "to_agent_id": b.id, "note": "billing question"}
    )
    assert ack["ok"], ack
    moved = await sock_b.rec.wait("conversation_assigned")
    assert moved["note"] == "billing question" and moved["from_agent_id"] == a.id
    assert [m["text"] for m in moved["messages"]] == ["my bill", "let me get Ben"]
    assert (await sock_a.rec.wait("conversation_transferred"))["to_agent_id"] == b.id
    await widget.rec.wait("to_user", lambda d: "transferred to Ben" in d["message"])
    refused = await sock_a.call("send_message", {"conversation_id": cid, "text": "still here?"})
    assert refused["error"]["code"] == "not_your_conversation"
    assert (await sock_b.call("send_message", {"conversation_id": cid, "text": "Ben here"}))["ok"]
    await widget.rec.wait("to_user", lambda d: d["message"] == "Ben here")
    view = await server.service.conversation(cid)
    assert view.agent_id == b.id and view.state == "assigned"


async def test_transfer_to_a_team_requeues_at_the_head(server: Server) -> None:
    bot = await server.bot()
    a = await server.agent(bot, teams=["support"])
    sock_a = await server.agent_socket(a)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock_a.rec.wait("conversation_assigned")
    bad = await sock_a.call("transfer", {"conversation_id": cid, "to_team": "nope"})
    assert bad["error"]["code"] == "unknown_team" and bad["error"]["field"] == "to_team"
    billing = await server.agent(bot, teams=["billing"])
    ack = await sock_a.call("transfer", {"conversation_id": cid, "to_team": "billing"})
    assert ack["ok"], ack
    await widget.rec.wait("to_user", lambda d: "transferred" in d["message"])
    support_only = await server.agent_socket(await server.agent(bot, teams=["support"]))
    refused = await support_only.call("accept", {"conversation_id": cid})
    assert refused["error"]["code"] == "wrong_team"
    sock_billing = await server.agent_socket(billing)
    got = await sock_billing.rec.wait("conversation_assigned")
    assert got["conversation"]["team"] == "billing"


async def test_close_records_every_move_and_ends_the_widget(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, name="Anna")
    sock = await server.agent_socket(agent)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    ack = await sock.call("close", {"conversation_id": cid, "outcome": "refund issued"})
    assert ack["ok"] and ack["conversation"]["state"] == "closed"
    bye = await widget.rec.wait("to_user", lambda d: "ended the chat" in d["message"])
    assert bye["message"].startswith("Anna")
    await widget.rec.wait("disconnect_socket")
    closed = await sock.rec.wait("conversation_closed")
    assert closed == {"conversation_id": cid, "reason": "resolved"}
    view = await server.service.conversation(cid)
    assert (view.state, view.close_reason) == ("closed", "resolved")
    assert view.outcome is not None
    assert (view.outcome.status, view.outcome.note) == ("resolved", "refund issued")
    events = await server.conversations.events(cid)
    assert [(e["from"], e["to"]) for e in events] == [
        (None, "pending"),
        ("pending", "queued"),
        ("queued", "assigned"),
        ("assigned", "closed"),
    ]
    assert [e["actor"] for e in events] == [
        f"bot:{bot.id}",
        "widget",
        "system",
        f"agent:{agent.id}",
    ]
    late = await widget.call(
        "from_user", {"message": "hello?", "ConversationID": cid, "BotID": bot.id}
    )
    assert late["error"]["code"] == "conversation_closed"
    again = await server.widget()
    refused = await again.call("username", {"ConversationID": cid, "BotID": bot.id})
    assert refused["error"]["code"] == "conversation_closed"
    twice = await sock.call("close", {"conversation_id": cid})
    assert not twice["ok"]


async def test_the_bot_can_hand_off_the_same_conversation_again(server: Server) -> None:
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot))
    body = await server.handoff(bot, ConversationID="bot-conv-0001")
    assert body["ConversationID"] == "bot-conv-0001"
    assert (await server.handoff(bot, ConversationID="bot-conv-0001"))["state"] == "pending"
    widget = await server.widget("bot-conv-0001", bot)
    await widget.call(
        "from_user", {"message": "first time", "ConversationID": "bot-conv-0001", "BotID": bot.id}
    )
    await sock.rec.wait("conversation_assigned")
    await sock.call("send_message", {"conversation_id": "bot-conv-0001", "text": "bye"})
    await sock.call("close", {"conversation_id": "bot-conv-0001"})
    again = await server.handoff(bot, ConversationID="bot-conv-0001")
    assert again["state"] == "pending"
    widget2 = await server.widget("bot-conv-0001", bot)
    # The earlier handoff's agent messages are not replayed to the new widget.
    assert [d for d in widget2.rec.of("to_user") if d.get("sender") == "agent"] == []
    ack = await widget2.call(
        "from_user", {"message": "second time", "ConversationID": "bot-conv-0001", "BotID": bot.id}
    )
    assert ack["seq"] == 3  # sequence numbers continue across handoffs
    second = await sock.rec.wait("conversation_assigned")
    assert second["messages"] == []  # the new handoff starts clean; history has the old one
    msg = await sock.rec.wait("user_message", lambda d: d["seq"] == 3)
    assert msg["text"] == "second time"
    history = await sock.call("history", {"conversation_id": "bot-conv-0001"})
    assert [m["text"] for m in history["messages"]] == ["first time", "bye", "second time"]


async def test_no_agent_within_the_wait_limit_closes_as_no_agent(server: Server) -> None:
    bot = await server.bot(wait_limit_seconds=30)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await widget.call("from_user", {"message": "anyone?", "ConversationID": cid, "BotID": bot.id})
    assert await server.service.sweep(time.time() + 10) == 0
    await server.service.sweep(time.time() + 31)
    told = await widget.rec.wait("to_user", lambda d: "no agent is available" in d["message"])
    assert "messages have been kept" in told["message"]
    await widget.rec.wait("disconnect_socket")
    view = await server.service.conversation(cid)
    assert (view.state, view.close_reason) == ("closed", "no_agent")
    assert [m.text for m in await server.messages.history(cid)] == ["anyone?"]
