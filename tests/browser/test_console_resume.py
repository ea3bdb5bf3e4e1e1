"""Coming back: a reload mid-conversation, the server going away and coming back, two
conversations at once, and auto-away. Nothing is lost, nothing is shown twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import ConsolePage, OpenConsole, StartWidget, agent, launch_widget
from tests.conftest import Server, make_settings, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def bubbles(c: ConsolePage) -> list[str]:
    return [t.strip() for t in await c.log().locator(".bubble").all_inner_texts()]


async def test_reload_mid_conversation_loses_nothing_and_repeats_nothing(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email)
    cid = (
        await server.handoff(
            bot,
            user={"name": "Naledi"},
            transcript=[{"sender": "bot", "message": "Connecting you"}],
        )
    )["ConversationID"]
    w = await widget(cid, bot)
    await w.send("one")
    await expect(c.log()).to_contain_text("one")
    await c.send("two")
    await w.told("two")
    await w.send("three")
    await expect(c.log()).to_contain_text("three")
    said = ["one", "two", "three"]
    assert await bubbles(c) == said

    await c.page.reload()
    # Still signed in (the token is kept for the tab), still online, same conversation.
    await expect(c.page.get_by_text("Connected")).to_be_visible()
    await expect(c.page.get_by_label("Status")).to_have_value("online")
    await expect(c.log().locator(".bubble")).to_have_count(3)
    assert await bubbles(c) == said
    await expect(c.page.get_by_label("Bot transcript").locator(".bubble")).to_have_count(1)
    # And it goes on, both ways.
    await w.send("four")
    await expect(c.log().locator(".bubble")).to_have_count(4)
    await c.send("five")
    await w.told("five")
    await expect(c.log().locator(".bubble")).to_have_count(5)
    assert await bubbles(c) == [*said, "four", "five"]
    assert [m.text for m in await server.messages.history(cid)] == [*said, "four", "five"]


async def test_two_conversations_keep_their_messages_apart(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email)
    first = (await server.handoff(bot, user={"name": "Ama"}))["ConversationID"]
    w1 = await widget(first, bot)
    await expect(c.page.get_by_role("heading", name="Ama", exact=True)).to_be_visible()
    second = (await server.handoff(bot, user={"name": "Bongani"}))["ConversationID"]
    w2 = await widget(second, bot)
    items = c.page.locator(".conv-item")
    await expect(items).to_have_count(2)

    await w1.send("from Ama")
    await w2.send("from Bongani")
    # Ama's is open; Bongani's shows one unread message and how long he has waited.
    await expect(c.log()).to_contain_text("from Ama")
    bongani = c.page.get_by_role("button", name="Bongani, 1 unread")
    await expect(bongani).to_be_visible()
    await expect(bongani).to_contain_text("waiting")
    await c.send("to Ama")
    await w1.told("to Ama")
    assert await bubbles(c) == ["from Ama", "to Ama"]

    # The keyboard moves to the other conversation (Alt+ArrowDown), unread is cleared.
    await c.page.get_by_label("Message").press("Alt+ArrowDown")
    await expect(c.page.get_by_role("heading", name="Bongani", exact=True)).to_be_visible()
    await expect(c.page.get_by_role("button", name="Bongani", exact=True)).to_be_visible()
    assert await bubbles(c) == ["from Bongani"]
    await c.send("to Bongani")
    await w2.told("to Bongani")
    assert await bubbles(c) == ["from Bongani", "to Bongani"]
    await c.page.keyboard.press("Control+BracketLeft")
    await expect(c.page.get_by_role("heading", name="Ama", exact=True)).to_be_visible()
    assert await bubbles(c) == ["from Ama", "to Ama"]
    assert [m.text for m in await server.messages.history(first)] == ["from Ama", "to Ama"]
    assert [m.text for m in await server.messages.history(second)] == ["from Bongani", "to Bongani"]


class _GoneServer:
    """A server the test stops and starts again on the same port and database, with an
    agent's console and a seed widget in one conversation."""

    def __init__(self, browser: Browser, tmp_path: Path) -> None:
        self.browser, self.settings = browser, make_settings(tmp_path)
        self.widgets: list[Any] = []

    async def __aenter__(self) -> _GoneServer:
        self.runner, self.server = await start_server(self.settings, shutdown_timeout=0.5)
        self.ctx = await self.browser.new_context(viewport={"width": 1280, "height": 800})
        return self

    async def chat(self, person: str) -> tuple[ConsolePage, str, Any]:
        server = self.server
        bot = await server.bot(assignment_mode="auto")
        anna = await agent(server, bot, name="Anna")
        c = ConsolePage(await self.ctx.new_page(), server)
        await c.signed_in(anna.email)
        cid = (await server.handoff(bot, user={"name": person}))["ConversationID"]
        w = await launch_widget(server.url, cid, bot)
        self.widgets.append(w)
        return c, cid, w

    async def stop(self) -> None:
        await stop_server(self.runner, self.server)

    async def start(self, c: ConsolePage) -> Server:
        self.runner, self.server = await start_server(self.settings, shutdown_timeout=0.5)
        c.server = self.server
        return self.server

    async def __aexit__(self, *exc: object) -> None:
        for w in self.widgets:
            await w.close()
        await self.ctx.close()
        await stop_server(self.runner, self.server)


async def test_server_gone_shows_reconnecting_then_resumes(
    browser: Browser, tmp_path: Path
) -> None:
    async with _GoneServer(browser, tmp_path) as gone:
        c, cid, w = await gone.chat("Kagiso")
        await w.send("before")
        await expect(c.log()).to_contain_text("before")
        await c.send("answer")
        await w.told("answer")

        await gone.stop()
        banner = c.page.locator(".banner[role=status]", has_text="Reconnecting…")
        await expect(banner).to_be_visible()
        await expect(c.page.get_by_label("Status")).to_be_disabled()
        # Written while the server is gone: kept, and sent when it is back.
        await c.send("while away")
        await c.shot("reconnecting")

        server = await gone.start(c)  # same port, same database
        await expect(banner).to_be_hidden(timeout=15_000)
        await expect(c.page.get_by_text("Connected")).to_be_visible()
        await w.told("while away")
        await w.wait("connect")  # the widget came back too
        await w.send("after")
        await expect(c.log()).to_contain_text("after")
        await expect(c.log().locator(".bubble")).to_have_count(4)
        assert await bubbles(c) == ["before", "answer", "while away", "after"]
        assert [m.text for m in await server.messages.history(cid)] == [
            "before",
            "answer",
            "while away",
            "after",
        ]
        # The socket's own reconnect attempts log errors while the server is gone; no
        # script error otherwise.
        assert not [
            e
            for e in c.errors
            if "WebSocket" not in e
            and "Failed to load" not in e
            and "ERR_CONNECTION_REFUSED" not in e
        ], c.errors


async def test_auto_away_after_idle_and_back_on_activity(browser: Browser, tmp_path: Path) -> None:
    runner, server = await start_server(make_settings(tmp_path, agent_away_seconds=1))
    ctx = await browser.new_context()
    try:
        bot = await server.bot()
        anna = await agent(server, bot, name="Anna")
        c = ConsolePage(await ctx.new_page(), server)
        await c.signed_in(anna.email)
        # Nothing moves: the console sets Anna away by itself, and says so.
        await expect(c.page.get_by_label("Status")).to_have_value("away", timeout=10_000)
        await expect(c.page.get_by_text("no activity for a while")).to_be_visible()
        await c.page.mouse.move(200, 200)
        await c.page.mouse.move(220, 240)
        await expect(c.page.get_by_label("Status")).to_have_value("online")
        # An away the agent chose stays: idle or not, the console leaves it.
        await c.page.get_by_label("Status").select_option("away")
        await c.page.wait_for_timeout(1500)
        await c.page.mouse.move(10, 10)
        await c.page.wait_for_timeout(500)
        await expect(c.page.get_by_label("Status")).to_have_value("away")
    finally:
        await ctx.close()
        await stop_server(runner, server)


async def test_narrow_window_shows_one_column_at_a_time(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console(viewport={"width": 400, "height": 760})
    await c.shot("narrow-signin")
    await c.signed_in(anna.email)
    cid = (await server.handoff(bot, user={"name": "Thabo"}, reason="refund"))["ConversationID"]
    w = await widget(cid, bot)
    await w.send("hello from a phone")
    await expect(c.log()).to_contain_text("hello from a phone")
    await expect(c.page.get_by_role("complementary", name="Queue and conversations")).to_be_hidden()
    await c.shot("narrow-conversation")
    await c.page.get_by_role("button", name="Details").click()
    await expect(c.page.get_by_role("complementary", name="Conversation details")).to_be_visible()
    await c.shot("narrow-details")
    await c.page.get_by_role("button", name="Hide details").click()
    await c.page.get_by_role("button", name="Back to the list").click()
    await expect(c.page.get_by_role("button", name="Thabo")).to_be_visible()
    await c.shot("narrow-list")
    assert await c.axe() == [], "narrow list"


async def test_a_message_waiting_for_the_server_survives_a_reload_and_is_stored_once(
    browser: Browser, tmp_path: Path
) -> None:
    async with _GoneServer(browser, tmp_path) as gone:
        c, cid, w = await gone.chat("Lerato")
        await w.send("hello?")
        await expect(c.log()).to_contain_text("hello?")

        await gone.stop()
        await expect(c.page.locator(".banner[role=status]")).to_contain_text("Reconnecting…")
        await c.send("typed while the server was gone")
        await expect(c.page.get_by_label("Waiting for the connection")).to_have_count(1)
        # The agent leaves the page while the server is still gone and comes back to it
        # in the same tab later: the tab kept the message.
        await c.page.goto("about:blank")

        server = await gone.start(c)
        await c.page.goto(f"{server.url}/console/")
        await w.told("typed while the server was gone")
        await expect(c.log()).to_contain_text("typed while the server was gone")
        await expect(c.page.get_by_label("Waiting for the connection")).to_have_count(0)
        assert await bubbles(c) == ["hello?", "typed while the server was gone"]
        assert [m.text for m in await server.messages.history(cid)] == [
            "hello?",
            "typed while the server was gone",
        ]
