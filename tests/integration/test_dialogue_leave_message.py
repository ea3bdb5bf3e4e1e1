"""Leaving a message from a dialogue: the demo bot with nobody online, end to end — the
options, the contact and message asks, the message an agent's ``queue`` shows and the
``message.left`` webhook — and the failures that must be the fallback, never a 500."""

from __future__ import annotations

import sqlalchemy as sa

from handoff.app import ENGINE
from handoff.storage.tables import offline_messages
from tests.conftest import Server
from tests.integration.test_dialogues import call, demo_bot, say, texts
from tests.integration.webhook_receiver import Receiver, verify

SECRET = "whsec-leave-0123456789abcdef"
FALLBACK = "Sorry, something went wrong on my side."


async def stored_count(server: Server) -> int:
    """Messages left, read straight from the store (as conftest reads what was stored)."""
    async with server.app[ENGINE].connect() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(offline_messages))
            ).scalar_one()
        )


async def test_the_demo_bot_leaves_a_message_when_nobody_is_online(server: Server) -> None:
    receiver = await Receiver().start()
    try:
        bot = await demo_bot(server)
        status, _ = await call(
            server, bot, "PATCH", "", {"webhook_url": receiver.url, "webhook_secret": SECRET}
        )
        assert status == 200
        agent = await server.agent_socket(await server.agent(bot), online=False)
        cid = "leave-conversation-1"
        user = {"user_id": "u-7", "full_name": "Thandi", "language_code": "en"}
        await say(server, bot, cid, user=user)

        offer = await say(server, bot, cid, message="agent")
        assert offer["session"]["node"] == "offer_human"
        shown = " ".join(m.get("text", "") for m in offer["messages"])
        assert "No agent is online right now" in shown
        payloads = [
            item["payload"]["message"]  # the seeds' HSL shape: {message, gogo_message}
            for m in offer["messages"]
            for item in m.get("data", {}).get("items", [])
        ]
        assert "/leave_message" in payloads and "/handoff" not in payloads

        ask = await say(server, bot, cid, payload="/leave_message")
        assert texts(ask) == ["How can we reach you? Type your email address or phone number."]
        bad = await say(server, bot, cid, message="call me maybe")
        assert "doesn't look like an email address or a phone number" in texts(bad)[0]
        assert bad["session"]["node"] == "ask_contact" and bad["session"]["retries"] == 1
        good = await say(server, bot, cid, message="thandi@example.com")
        assert texts(good) == ["What would you like to tell us?"]
        # Free text: words the triggers know ("opening hours") are the message here.
        message = "Please call me about the opening hours on public holidays."
        done = await say(server, bot, cid, message=message)
        assert texts(done)[0] == "Thanks, we'll get back to you at thandi@example.com."
        assert done["messages"][1]["type"] == "BUTTON"  # back at the menu
        assert done["session"]["node"] == "menu" and done["state"] == "bot"
        assert done["session"]["entities"]["message"] == message

        ack = await agent.call("queue", {})
        assert ack["ok"], ack
        [left] = ack["offline_messages"]
        assert left["bot_id"] == bot.id and left["conversation_id"] == cid
        assert left["contact"] == "thandi@example.com" and left["message"] == message
        assert left["user"] == user

        await receiver.wait_for(lambda r: len(r.ok()) >= 1)
        [hook] = [r for r in receiver.ok() if r.event["type"] == "message.left"]
        assert verify(SECRET, hook.headers, hook.body)
        assert hook.event["conversation_id"] == cid
        assert hook.event["data"]["message_id"] == left["id"]
        assert hook.event["data"]["contact"] == "thandi@example.com"
    finally:
        await receiver.stop()


async def test_a_refused_message_is_the_fallback_stores_nothing_and_the_session_goes_on(
    server: Server,
) -> None:
    bot = await demo_bot(server)
    agent = await server.agent_socket(await server.agent(bot), online=False)
    cid = "leave-conversation-2"
    # A user object over the store's 4096 bytes: the store refuses it, not the flow.
    big = {"user_id": "u-8", "bio": "x" * 5000}
    await say(server, bot, cid, user=big)
    await say(server, bot, cid, message="agent")
    await say(server, bot, cid, payload="/leave_message")
    # A contact over ask_contact's max_length is re-prompted, not sent to the store.
    long = await say(server, bot, cid, message="a" * 320 + "@example.com")
    assert long["session"]["node"] == "ask_contact"
    await say(server, bot, cid, message="+27 82 555 0123")
    failed = await say(server, bot, cid, message="call me")
    assert texts(failed)[0] == FALLBACK
    assert failed["session"]["node"] == "menu" and failed["state"] == "bot"
    assert (await agent.call("queue", {}))["offline_messages"] == []
    # The session still works: the FAQ answers, and with a plain user the message is left.
    faq = await say(server, bot, cid, payload="/faq_hours", user={"user_id": "u-8"})
    assert "Monday to Friday" in texts(faq)[0]
    await say(server, bot, cid, payload="/leave_message")
    await say(server, bot, cid, message="+27 82 555 0123")
    done = await say(server, bot, cid, message="call me")
    assert texts(done)[0] == "Thanks, we'll get back to you at +27 82 555 0123."
    [left] = (await agent.call("queue", {}))["offline_messages"]
    assert left["contact"] == "+27 82 555 0123" and left["user"] == {"user_id": "u-8"}


FREE_CONTACT = """
start: contact
fallback: "We could not take your message."
nodes:
  - {id: contact, type: ask, entity: email, prompt: ["Contact?"], next: note}
  - {id: note, type: ask, entity: note, prompt: ["Message?"], next: leave}
  - id: leave
    type: handoff
    mode: leave_message
    contact_entity: email
    message_entity: note
    messages: ["Stored, {{ entities.email }}."]
    next: contact
"""


async def test_a_field_the_store_refuses_or_a_failing_store_is_the_fallback(
    server: Server,
) -> None:
    bot = await server.bot()
    status, body = await call(
        server, bot, "PUT", "/dialogue", data=FREE_CONTACT, content_type="application/yaml"
    )
    assert status == 200, body
    cid = "leave-conversation-3"
    await say(server, bot, cid)
    # Free text up to 4000 characters is a contact here; the store takes 320.
    await say(server, bot, cid, message="c" * 321)
    refused = await say(server, bot, cid, message="call me")
    assert texts(refused) == ["We could not take your message."]
    assert refused["state"] == "ended" and await stored_count(server) == 0
    await say(server, bot, cid, message="hello")  # starts again
    await say(server, bot, cid, message="me@example.com")
    ok = await say(server, bot, cid, message="call me")
    assert texts(ok) == ["Stored, me@example.com.", "Contact?"]
    assert await stored_count(server) == 1

    # The store fails (its table is gone): the fallback, a 200, and other bots unharmed.
    async with server.app[ENGINE].begin() as conn:
        await conn.execute(sa.text("DROP TABLE offline_messages"))
    await say(server, bot, cid, message="me@example.com")
    broken = await say(server, bot, cid, message="call me again")
    assert texts(broken) == ["We could not take your message."] and broken["state"] == "ended"
    other = await demo_bot(server)
    hello = await say(server, other, "leave-conversation-4")
    assert hello["state"] == "bot"
