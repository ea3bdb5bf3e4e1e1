"""The seed widget page (``/console/demo/seed_widget.html``) runs in Chromium under its own
policy: the seed's inline snippet is allowed by its hash, so it connects and binds, and the
browser refuses nothing on the page."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, ConsoleMessage

from tests.conftest import TIMEOUT, Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGE_URL = "/console/demo/seed_widget.html"


async def test_the_seed_page_runs_in_chromium_under_its_policy(
    server: Server, browser: Browser
) -> None:
    bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        said: list[str] = []

        def keep(message: ConsoleMessage) -> None:
            said.append(message.text)

        page.on("console", keep)
        page.on("pageerror", lambda exc: said.append(f"page error: {exc}"))
        await page.goto(f"{server.url}{PAGE_URL}?ConversationID={cid}&BotID={bot.id}")
        # The seed snippet's startConversation handler sends username: the inline script
        # ran and its socket reached this server.
        async with asyncio.timeout(6 * TIMEOUT):
            while (await server.service.conversation(cid)).state != "queued":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        refused = [text for text in said if "Content Security Policy" in text]
        assert not refused, refused
        assert not [text for text in said if text.startswith("page error")], said
    finally:
        await ctx.close()
