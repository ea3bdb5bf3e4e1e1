"""The README's "two tabs": the demo page (client_examples/widget.html, the seed snippet in
a chat box, HANDOFF_DEMO=true) in one browser tab, the console in another, signed in with
the demo agent the server made at its first start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from handoff.api.demo import DEMO
from tests.browser.conftest import ConsolePage
from tests.conftest import Server, make_settings, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def demo_server(tmp_path: Path) -> AsyncIterator[Server]:
    runner, srv = await start_server(make_settings(tmp_path, demo=True))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


async def test_person_in_the_demo_page_agent_in_the_console(
    demo_server: Server, browser: Browser
) -> None:
    created = demo_server.app[DEMO].created
    assert created is not None
    person_ctx = await browser.new_context(viewport={"width": 480, "height": 760})
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        c = ConsolePage(await agent_ctx.new_page(), demo_server)
        await c.open()
        await c.sign_in(created.email, created.password)
        await expect(c.page.get_by_text("Connected")).to_be_visible()
        await c.page.get_by_label("Status").select_option("online")

        person = await person_ctx.new_page()
        await person.goto(f"{demo_server.url}/demo/widget.html")
        chat = person.get_by_role("log", name="Conversation")
        await person.get_by_role("button", name="Talk to a human").first.click()
        await person.get_by_role("button", name="Chat with an agent").first.click()

        # The demo bot assigns manually: the person waits in the console's queue.
        take = c.page.get_by_role("button", name="Take conversation with", exact=False)
        await expect(take).to_have_count(1)
        await take.click()
        await expect(chat).to_contain_text("joined the chat")
        await person.get_by_label("Message").fill("is my parcel lost?")
        await person.get_by_role("button", name="Send").click()
        await expect(c.log()).to_contain_text("is my parcel lost?")
        await c.send("No, it is on its way.")
        await expect(chat).to_contain_text("No, it is on its way.")

        # Back to the bot, with a variable the demo flow reads.
        await c.page.get_by_role("button", name="Close conversation").click()
        dialog = c.page.get_by_role("dialog", name="Close conversation")
        await dialog.get_by_label("Back to the bot").check()
        await dialog.get_by_label("Variable 1 name").fill("refund_id")
        await dialog.get_by_label("Variable 1 value").fill("R42")
        await dialog.get_by_role("button", name="Close conversation").click()
        await expect(c.page.get_by_text("This conversation has ended")).to_be_visible()
        await expect(chat).to_contain_text("R42", timeout=10_000)
        assert not c.errors, c.errors
    finally:
        await person_ctx.close()
        await agent_ctx.close()
