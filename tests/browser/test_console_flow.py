"""The agent console end to end: a seed widget (Node, socket.io-client 3.1.3) handed off,
taken, answered, transferred to a second agent in another browser context with a note,
closed with an outcome; canned responses made by an admin and used by an agent; the
axe-core check and screenshots of the main screens."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import OpenConsole, StartWidget, agent
from tests.conftest import Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRANSCRIPT = [
    {"sender": "user", "message": "Where is my parcel?"},
    {"sender": "bot", "message": "I can get you a person for that."},
]


async def test_handoff_take_talk_transfer_close(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="manual")
    anna = await agent(server, bot, name="Anna")
    ben = await agent(server, bot, name="Ben")

    a = await console()
    assert await a.axe() == [], "sign-in"
    await a.shot("signin")
    await a.signed_in(anna.email)
    await expect(a.page.get_by_text("Nobody is waiting.")).to_be_visible()

    res = await server.handoff(
        bot,
        user={"name": "Thandi"},
        reason="parcel is late",
        entities={"order_id": "abc123"},
        priority="high",
        transcript=TRANSCRIPT,
    )
    cid = res["ConversationID"]
    w = await widget(cid, bot)

    entry = a.page.locator(".queue-item", has_text="Thandi")
    await expect(entry).to_contain_text("parcel is late")
    await expect(entry).to_contain_text("order_id")
    await expect(entry).to_contain_text("abc123")
    await expect(entry).to_contain_text("high")
    assert await a.axe() == [], "workspace with a queue"
    await a.shot("queue")

    await a.page.get_by_role("button", name="Take conversation with Thandi").click()
    log = a.log()
    await expect(a.page.get_by_label("Bot transcript")).to_contain_text(
        "I can get you a person for that."
    )
    await expect(a.page.get_by_label("Bot transcript")).to_contain_text("Bot")
    await w.told("Anna")  # the widget hears that Anna joined

    await w.send("It was due on Monday")
    await expect(log).to_contain_text("It was due on Monday")
    await a.send("Sorry! Let me check.")
    await w.told("Sorry! Let me check.")
    await expect(a.page.get_by_label("Message")).to_have_value("")
    await expect(log.locator(".msg-agent .tick")).to_have_count(1)
    assert await a.axe() == [], "a conversation"
    await a.shot("conversation")

    # Ben opens his console in a second browser context and goes online.
    b = await console()
    await b.signed_in(ben.email)
    await a.page.get_by_role("button", name="Transfer").click()
    dialog = a.page.get_by_role("dialog", name="Transfer conversation")
    await expect(
        dialog.get_by_label("Transfer to").locator("option", has_text="Ben")
    ).to_be_enabled()
    assert await a.axe() == [], "transfer dialog"
    await a.shot("transfer")
    await dialog.get_by_label("Transfer to").select_option(
        label=(await dialog.locator("option", has_text="Ben").inner_text()).strip()
    )
    await dialog.get_by_label("Note for the next agent").fill("Order abc123, courier lost it")
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog).to_be_hidden()
    await expect(a.page.get_by_text("You transferred this conversation")).to_be_visible()

    # Ben sees the note and the whole history: transcript, the person's and Anna's lines.
    await expect(b.page.get_by_role("note")).to_contain_text("Order abc123, courier lost it")
    await expect(b.page.get_by_role("note")).to_contain_text("Anna")
    await expect(b.log()).to_contain_text("It was due on Monday")
    await expect(b.log()).to_contain_text("Sorry! Let me check.")
    await expect(b.page.get_by_label("Bot transcript")).to_contain_text("Where is my parcel?")
    await w.told("Ben")
    await w.send("Thanks Ben")
    await expect(b.log()).to_contain_text("Thanks Ben")
    await b.send("A new parcel is on its way.")
    await w.told("A new parcel is on its way.")

    await b.page.get_by_role("button", name="Close conversation").click()
    close = b.page.get_by_role("dialog", name="Close conversation")
    await close.get_by_label("Follow-up").check()
    await close.get_by_label("Note (for the bot and the record)").fill("courier claim filed")
    await b.shot("close")
    await close.get_by_role("button", name="Close conversation").click()
    await expect(close).to_be_hidden()
    await expect(b.page.get_by_text("This conversation has ended")).to_be_visible()
    await w.wait("disconnect_socket")
    stored = await server.conversations.get(cid)
    assert stored is not None
    assert stored.state == "closed"
    assert stored.outcome is not None
    assert stored.outcome.model_dump() == {
        "status": "follow_up",
        "note": "courier claim filed",
        "variables": {},
    }


async def test_admin_makes_a_canned_response_an_agent_inserts_it(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    boss = await agent(server, bot, name="Boss", role="admin")
    anna = await agent(server, bot, name="Anna")

    admin = await console()
    await admin.signed_in(boss.email, online=False)
    await admin.page.get_by_role("button", name="Canned responses").click()
    dialog = admin.page.get_by_role("dialog", name="Canned responses")
    await dialog.get_by_label("Shortcut").fill("shipping")
    await dialog.get_by_label("Text").fill("Parcels ship within 2 working days.")
    await dialog.get_by_role("button", name="Add canned response").click()
    await expect(dialog.locator(".canned-row")).to_contain_text("/shipping")
    # A bad shortcut: the server's reason, by the form.
    await dialog.get_by_label("Shortcut").fill("no spaces allowed")
    await dialog.get_by_label("Text").fill("x")
    await dialog.get_by_role("button", name="Add canned response").click()
    await expect(dialog.get_by_role("alert")).to_contain_text(
        "a shortcut is 1 to 32 letters, digits, _ or - (no spaces)"
    )
    await admin.shot("canned-admin")

    a = await console()
    await a.signed_in(anna.email)
    # A plain agent cannot manage them.
    await expect(a.page.get_by_role("button", name="Canned responses")).to_have_count(0)
    cid = (await server.handoff(bot, user={"name": "Lebo"}))["ConversationID"]
    w = await widget(cid, bot)
    await expect(a.page.get_by_role("heading", name="Lebo", exact=True)).to_be_visible()
    box = a.page.get_by_label("Message")
    await box.fill("/ship")
    popup = a.page.get_by_role("listbox", name="Canned responses")
    await expect(popup.get_by_role("option")).to_have_count(1)
    await expect(popup).to_contain_text("Parcels ship within 2 working days.")
    await box.press("Enter")  # inserts, does not send
    await expect(box).to_have_value("Parcels ship within 2 working days.")
    await box.press("Enter")
    await w.told("Parcels ship within 2 working days.")
    await expect(box).to_have_value("")


async def test_typing_both_ways_and_delivery_ticks(server: Server, console: OpenConsole) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email)
    cid = (await server.handoff(bot, user={"name": "Refilwe"}))["ConversationID"]
    # A rich widget (python-socketio): it opts in to agent_typing and confirms what it shows.
    w = await server.widget(cid, bot, features=["typing"])
    await expect(c.page.get_by_role("heading", name="Refilwe", exact=True)).to_be_visible()

    assert (await w.call("typing", {"ConversationID": cid, "typing": True}))["ok"]
    await expect(c.page.get_by_text("Refilwe is typing…")).to_be_visible()
    ack = await w.call("from_user", {"ConversationID": cid, "BotID": bot.id, "message": "hi"})
    assert ack["ok"], ack
    await expect(c.log()).to_contain_text("hi")
    await expect(c.page.get_by_text("Refilwe is typing…")).to_be_hidden()

    await c.page.get_by_label("Message").press_sequentially("hello")
    typing = await w.rec.wait("agent_typing")
    assert typing["typing"] is True and typing["agent"]["name"] == "Anna"
    await c.page.get_by_label("Message").press("Enter")
    told = await w.rec.wait("to_user", lambda d: d.get("message") == "hello")
    stopped = await w.rec.wait("agent_typing", lambda d: d["typing"] is False)
    assert stopped["agent"]["name"] == "Anna"
    mine = c.log().locator(".msg-agent")
    # Relayed to a bound widget: the send_message ack says so, the tick is there at once.
    await expect(mine.get_by_label("Delivered")).to_have_count(1)
    assert (await w.call("received", {"ConversationID": cid, "seq": told["seq"]}))["ok"]

    # With the person away it is only stored; their return brings it and the tick.
    await w.close()
    await expect(c.page.get_by_text("left the chat")).to_be_visible()
    await c.page.get_by_label("Message").fill("still there?")
    await c.page.get_by_label("Message").press("Enter")
    await expect(mine.get_by_label("Sent")).to_have_count(1)
    back = await server.widget(cid, bot, features=["typing"])
    await back.rec.wait("to_user", lambda d: d.get("message") == "still there?")
    await expect(mine.get_by_label("Delivered")).to_have_count(2)
    await back.close()


async def test_settings_switch_sound_and_notifications_and_keep_them(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email, online=False)
    await c.page.get_by_role("button", name="Settings").click()
    dialog = c.page.get_by_role("dialog", name="Settings")
    sound = dialog.get_by_label("Sound for new conversations")
    notes = dialog.get_by_label("Browser notifications while this tab is hidden")
    await expect(sound).to_be_checked()
    await sound.uncheck()
    await notes.uncheck()
    assert await c.axe() == [], "settings"
    await dialog.get_by_role("button", name="Close dialog").click()
    await expect(dialog).to_be_hidden()
    await c.page.reload()
    await c.page.get_by_role("button", name="Settings").click()
    await expect(dialog.get_by_label("Sound for new conversations")).not_to_be_checked()
    await expect(
        dialog.get_by_label("Browser notifications while this tab is hidden")
    ).not_to_be_checked()
    await c.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await c.page.get_by_role("button", name="Help").click()
    help_dialog = c.page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(help_dialog).to_contain_text("Alt")
    await expect(help_dialog).to_contain_text("Shift")


async def test_messages_left_show_live_and_are_marked_handled(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    anna = await agent(server, bot, name="Anna")
    ben = await agent(server, bot, name="Ben")

    async def leave(name: str, message: str) -> None:
        async with server.http.post(
            f"{server.url}/api/v1/bots/{bot.id}/handoff/messages",
            json={
                "user": {"name": name},
                "contact": f"{name.lower()}@example.com",
                "message": message,
            },
            headers={"Authorization": f"Bearer {bot.api_key}"},
        ) as resp:
            assert resp.status == 201, await resp.text()

    await leave("Palesa", "Call me back about order 77")  # before anyone signs in
    a = await console()
    await a.signed_in(anna.email, online=False)
    b = await console()
    await b.signed_in(ben.email, online=False)
    left = a.page.get_by_role("region", name="Messages left")
    await expect(left).to_contain_text("Call me back about order 77")
    await expect(left).to_contain_text("palesa@example.com")
    await leave("Themba", "My card was charged twice")  # arrives live
    await expect(left).to_contain_text("My card was charged twice")
    await expect(left.locator(".queue-item")).to_have_count(2)
    item = left.locator(".queue-item", has_text="Themba")
    await item.get_by_role("button", name="Mark handled").click()
    await expect(left.locator(".queue-item")).to_have_count(1)
    # Ben's console drops it too (offline_message_handled).
    ben_left = b.page.get_by_role("region", name="Messages left")
    await expect(ben_left.locator(".queue-item")).to_have_count(1)
    await expect(ben_left).not_to_contain_text("Themba")


async def test_private_notes_and_tags_are_kept_and_never_reach_the_person(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email)
    cid = (await server.handoff(bot, user={"name": "Dineo"}))["ConversationID"]
    w = await server.widget(cid, bot)
    side = c.page.get_by_role("complementary", name="Conversation details")
    await expect(side.get_by_text("No notes yet.")).to_be_visible()
    await side.get_by_role("textbox", name="Note", exact=True).fill("VIP: <b>call</b> before 5pm")
    await side.get_by_role("button", name="Add note").click()
    await expect(side.locator(".note")).to_contain_text("VIP: <b>call</b> before 5pm")
    await side.get_by_label("New tag").fill("refund")
    await side.get_by_role("button", name="Add tag").click()
    await expect(side.get_by_role("button", name="Remove tag refund")).to_be_visible()
    await side.get_by_label("New tag").fill("vip")
    await side.get_by_role("button", name="Add tag").click()
    await expect(side.get_by_role("button", name="Remove tag refund")).to_be_visible()
    await side.get_by_role("button", name="Remove tag refund").click()
    await expect(side.get_by_role("button", name="Remove tag refund")).to_have_count(0)
    # A tag over the server's limit: its reason, by the tags.
    await side.get_by_label("New tag").evaluate("el => el.removeAttribute('maxlength')")
    await side.get_by_label("New tag").fill("x" * 40)
    await side.get_by_role("button", name="Add tag").click()
    await expect(side.get_by_role("alert")).to_contain_text("tags")

    await c.page.reload()
    await expect(side.locator(".note")).to_contain_text("VIP: <b>call</b> before 5pm")
    await expect(side.get_by_role("button", name="Remove tag vip")).to_be_visible()
    stored = await server.conversations.get(cid)
    assert stored is not None and stored.tags == ["vip"]
    assert not [d for d in w.rec.of("to_user") if "VIP" in str(d)]
