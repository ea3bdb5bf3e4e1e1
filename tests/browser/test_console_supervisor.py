"""The supervisor's conversations in progress, in Debian's Chromium: the table of a bot's
queued and assigned conversations, watching one live and read-only, taking it over and
answering from the Inbox, transferring another agent's conversation with a note. The
person is the seed widget (Node, socket.io-client 3.1.3); the other agents are
python-socketio clients. axe-core on each screen, and screenshots."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import OpenConsole, StartWidget, agent
from tests.conftest import Server

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_supervisor_watches_takes_over_and_transfers(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot()
    anna = await agent(server, bot, name="Anna", capacity=1)
    ben = await agent(server, bot, name="Ben", capacity=2)
    sam = await agent(server, bot, name="Sam", role="supervisor")
    a = await console()
    await a.signed_in(anna.email)

    s = await console()
    await s.signed_in(sam.email, online=False)
    await s.page.get_by_role("link", name="Dashboard").click()
    await expect(s.page.get_by_text("No conversations in progress right now.")).to_be_visible()
    assert await s.axe() == [], "no conversations in progress"
    await s.shot("supervisor-empty")

    thandi = (await server.handoff(bot, user={"name": "Thandi"}, reason="parcel is late",
                                   transcript=[{"sender": "user", "message": "Where is it?"},
                                               {"sender": "bot", "message": "Getting a person."}]))
    cid = thandi["ConversationID"]
    w = await widget(cid, bot)
    await w.told("Anna")
    await expect(a.log()).to_be_visible()
    lebo = (await server.handoff(bot, user={"name": "Lebo"}, priority="high"))["ConversationID"]
    await server.widget(lebo, bot)  # Anna is full: Lebo waits

    await s.page.get_by_role("button", name="Refresh").click()
    table = s.page.get_by_role("table")
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Lebo")
    await expect(rows.nth(0)).to_contain_text("Waiting")
    await expect(rows.nth(1)).to_contain_text("Thandi")
    await expect(rows.nth(1)).to_contain_text("Anna")
    await expect(rows.nth(0)).to_contain_text("high")
    assert await s.axe() == [], "conversations in progress"
    await s.shot("supervisor-live")

    # Watch: the person's and Anna's lines arrive live; nothing to write with.
    await s.page.get_by_role("button", name="Watch the conversation with Thandi").click()
    panel = s.page.get_by_role("complementary", name="Thandi")
    watch_log = panel.get_by_role("log")
    await expect(panel.get_by_text("Read-only")).to_be_visible()
    await expect(panel.get_by_label("Bot transcript")).to_contain_text("Getting a person.")
    await w.send("Is anyone there?")
    await expect(watch_log).to_contain_text("Is anyone there?")
    await a.send("Anna here, checking.")
    await expect(watch_log).to_contain_text("Anna here, checking.")
    await expect(s.page.get_by_label("Message")).to_have_count(0)
    assert await s.axe() == [], "watching a conversation"
    await s.shot("supervisor-watch")

    # Take over: it opens in the Inbox with everything so far, and Sam answers there.
    await panel.get_by_role("button", name="Take over").click()
    await expect(s.page).to_have_url(f"{server.url}/console/#/inbox")
    log = s.log()
    await expect(log).to_contain_text("Is anyone there?")
    await expect(log).to_contain_text("Anna here, checking.")
    await w.told("You're being transferred to Sam.")
    # Anna's console says who took it, and she can no longer write in it. (She was freed,
    # so Lebo came to her and opened; Thandi's chat is still in her list, ended.)
    await a.page.get_by_role("button", name="Thandi, ended").click()
    await expect(a.page.get_by_text("Sam took this conversation over.")).to_be_visible()
    await expect(a.page.get_by_label("Message")).to_have_count(0)
    await a.shot("supervisor-agent-taken-over")
    await s.send("Sam here, I will sort it out.")
    await w.told("Sam here, I will sort it out.")
    await w.send("Thank you")
    await expect(log).to_contain_text("Thank you")
    stored = [(m.seq, m.sender) for m in await server.messages.history(cid)]
    assert stored == [(1, "user"), (2, "agent"), (3, "agent"), (4, "user")]
    assert await s.axe() == [], "a conversation taken over"
    await s.shot("supervisor-took-over")

    # Sam transfers Lebo, now Anna's, to Ben with a note.
    await expect(a.page.locator(".conv-item", has_text="Lebo")).to_be_visible()
    ben_sock = await server.agent_socket(ben)
    await s.page.get_by_role("link", name="Dashboard").click()
    await s.page.get_by_role("button", name="Refresh").click()
    lebo_row = table.locator("tbody tr", has_text="Lebo")
    await expect(lebo_row).to_contain_text("Anna")
    await expect(table.locator("tbody tr", has_text="Thandi")).to_contain_text("You")
    await lebo_row.get_by_role("button", name="Transfer the conversation with Lebo").click()
    dialog = s.page.get_by_role("dialog", name="Transfer conversation")
    target = dialog.get_by_label("Transfer to")
    option = target.locator("option", has_text="Ben")
    await expect(option).to_be_enabled()
    await expect(target.locator("option", has_text="Anna")).to_have_count(0)  # she has it
    await target.select_option(label=(await option.inner_text()).strip())
    await dialog.get_by_label("Note for the next agent").fill("High priority, be quick")
    assert await s.axe() == [], "transfer dialog"
    await s.shot("supervisor-transfer")
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(dialog).to_be_hidden()
    got = await ben_sock.rec.wait("conversation_assigned", lambda d: d["note"] is not None)
    assert got["note"] == "High priority, be quick"
    await expect(lebo_row).to_contain_text("Ben")

    # Watching Lebo's chat while Ben ends it: the panel says so at once, read-only to the end.
    await lebo_row.get_by_role("button", name="Watch the conversation with Lebo").click()
    panel = s.page.get_by_role("complementary", name="Lebo")
    await expect(panel.get_by_text("Read-only")).to_be_visible()
    assert (await ben_sock.call("close", {"conversation_id": lebo}))["ok"]
    await expect(panel.get_by_text("This conversation has ended.")).to_be_visible()
    await expect(panel).to_contain_text("Ended (resolved)")
    await expect(panel.get_by_role("button", name="Take over")).to_have_count(0)
    await s.shot("supervisor-watch-ended")
