"""What the console does with hostile text and bad input: markup from the person, the
widget and the bot is shown as text and runs nothing; a wrong password, a forged or
expired token, a message over the size limit and a conversation another agent took a
moment earlier are each said plainly where they happened."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from playwright.async_api import Browser, WebSocketRoute, expect

from handoff.app import ENGINE
from handoff.config import load_secret_key
from handoff.storage.agents import AgentRepo
from tests.browser.conftest import ConsolePage, OpenConsole, StartWidget, agent
from tests.conftest import Server, make_settings, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAME = "<img src=x onerror=\"window.__xss='name'\">Mpho"
LINE = "<script>window.__xss='transcript'</script>bot line"
MESSAGES = [
    "<img src=x onerror=\"window.__xss='message'\">",
    "<script>window.__xss='script'</script>",
]
TOKEN_KEY = "handoff.console.token"


async def test_markup_is_shown_as_text_and_runs_nothing(
    server: Server, browser: Browser, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    # Without the page's CSP, so that only the console's own text handling stands
    # between the payloads and the DOM.
    ctx = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    try:
        c = ConsolePage(await ctx.new_page(), server)
        await c.signed_in(anna.email)
        cid = (
            await server.handoff(
                bot,
                user={"name": NAME},
                reason="<b>bold?</b>",
                entities={"x": "<svg onload=alert(1)>"},
                transcript=[{"sender": "bot", "message": LINE}],
            )
        )["ConversationID"]
        w = await widget(cid, bot)
        for text in MESSAGES:
            await w.send(text)
        log = c.log()
        for text in MESSAGES:
            await expect(log.get_by_text(text, exact=True)).to_be_visible()
        await expect(
            c.page.get_by_label("Bot transcript").get_by_text(LINE, exact=True)
        ).to_be_visible()
        await expect(c.page.get_by_role("heading", name=NAME, exact=True)).to_be_visible()
        await expect(c.page.get_by_text("<b>bold?</b>").first).to_be_visible()
        await expect(c.page.get_by_text("<svg onload=alert(1)>").first).to_be_visible()
        # The agent's own markup too, as the widget receives it.
        await c.send("<i>not italic</i>")
        await w.told("<i>not italic</i>")
        await expect(log.get_by_text("<i>not italic</i>", exact=True)).to_be_visible()
        await c.page.wait_for_timeout(300)  # an onerror would have fired by now
        assert await c.page.evaluate("window.__xss") is None
        assert await c.page.locator("#app img, #app script, #app svg, #app b, #app i").count() == 0
        assert not c.errors, c.errors
    finally:
        await ctx.close()


async def test_wrong_password_and_forged_or_expired_token(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.sign_in(anna.email, "not-the-password")
    alert = c.page.get_by_role("alert")
    await expect(alert).to_have_text("Wrong email or password.")
    await expect(c.page.get_by_label("Password")).to_have_attribute(
        "aria-describedby", "signin-error"
    )
    await expect(c.page.get_by_label("Email")).to_have_value(anna.email)

    # A token that is not the server's: back at sign-in, told why.
    await c.page.evaluate(f"sessionStorage.setItem({TOKEN_KEY!r}, 'forged-token')")
    await c.page.reload()
    await expect(c.page.get_by_role("status")).to_contain_text("Sign in again")
    assert await c.page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None

    # A real token signed a day ago: expired (HANDOFF_TOKEN_TTL_SECONDS is 12 h).
    class DayOld(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 86_400

    old = URLSafeTimedSerializer(
        load_secret_key(server.settings), salt="handoff.agent-token", signer=DayOld
    )
    await c.page.evaluate(
        f"sessionStorage.setItem({TOKEN_KEY!r}, {old.dumps({'agent_id': anna.id})!r})"
    )
    await c.page.reload()
    await expect(c.page.get_by_role("status")).to_have_text(
        "Your session has expired. Sign in again."
    )
    await c.sign_in(anna.email)
    await expect(c.page.get_by_text("Connected")).to_be_visible()


async def test_message_over_the_limit_is_refused_by_the_composer_text_kept(
    server: Server, console: OpenConsole, widget: StartWidget
) -> None:
    bot = await server.bot(assignment_mode="auto")
    anna = await agent(server, bot, name="Anna")
    c = await console()
    await c.signed_in(anna.email)
    cid = (await server.handoff(bot, user={"name": "Sipho"}))["ConversationID"]
    w = await widget(cid, bot)
    await expect(c.page.get_by_label("Message")).to_be_visible()
    too_long = "é" * (server.settings.max_message_bytes // 2 + 1)  # two bytes each
    box = c.page.get_by_label("Message")
    await box.fill(too_long)
    await box.press("Enter")
    error = c.page.locator(".composer").get_by_role("alert")
    await expect(error).to_contain_text("Too long to send")
    await expect(box).to_have_value(too_long)
    await expect(box).to_have_attribute("aria-invalid", "true")
    await expect(c.log().locator(".msg-agent")).to_have_count(0)
    # Shortened, it goes, and the error goes away.
    await box.fill("short")
    await box.press("Enter")
    await w.told("short")
    await expect(error).to_have_count(0)
    assert [m.text for m in await server.messages.history(cid)] == ["short"]


async def test_taken_by_another_agent_a_moment_earlier(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot(assignment_mode="manual")
    anna = await agent(server, bot, name="Anna")
    ben = await agent(server, bot, name="Ben")
    c = await console()
    # Anna's socket goes through a relay that can hold back the queue updates, so her
    # console still shows the entry after Ben took it (as on a slow network).
    hold = {"queue": False}

    async def relay(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()

        def down(message: Any) -> None:
            if hold["queue"] and isinstance(message, str) and '"queue_updated"' in message:
                return
            ws.send(message)

        upstream.on_message(down)
        ws.on_message(lambda message: upstream.send(message))

    await c.page.route_web_socket("**/socket.io/**", relay)
    await c.page.reload()
    await c.signed_in(anna.email)
    cid = (await server.handoff(bot, user={"name": "Zanele"}))["ConversationID"]
    await server.widget(cid, bot)
    await expect(c.page.get_by_role("button", name="Take conversation with Zanele")).to_be_visible()
    hold["queue"] = True
    ben_sock = await server.agent_socket(ben)
    ack = await ben_sock.call("accept", {"conversation_id": cid})
    assert ack["ok"], ack
    await c.page.get_by_role("button", name="Take conversation with Zanele").click()
    alert = c.page.locator(".sidebar").get_by_role("alert").first
    await expect(alert).to_contain_text("Zanele")
    await expect(alert).to_contain_text("another agent")
    hold["queue"] = False
    await expect(c.page.get_by_text("Nobody is waiting.")).to_be_visible()
    await expect(c.page.get_by_text("No conversations yet.")).to_be_visible()
    stored = await server.conversations.get(cid)
    assert stored is not None and stored.agent_id == ben.id


async def test_a_disabled_agent_is_sent_back_to_sign_in_with_the_reason(
    browser: Browser, tmp_path: Path
) -> None:
    runner, server = await start_server(make_settings(tmp_path, agent_recheck_seconds=0.2))
    ctx = await browser.new_context()
    try:
        bot = await server.bot()
        anna = await agent(server, bot, name="Anna")
        c = ConsolePage(await ctx.new_page(), server)
        await c.signed_in(anna.email)
        await AgentRepo(server.app[ENGINE]).set_disabled(anna.id, True)
        # The server's recheck sends `unauthorized` and drops the socket.
        notice = c.page.get_by_role("status")
        await expect(notice).to_contain_text("You were signed out", timeout=10_000)
        await expect(notice).to_contain_text("disabled")
        await expect(c.page.get_by_label("Password")).to_be_visible()
        assert await c.page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
        await c.sign_in(anna.email)
        await expect(c.page.get_by_role("alert")).to_contain_text("disabled")
        # The browser logs the refused sign-in (403) itself; nothing else may be logged.
        assert not [e for e in c.errors if "status of 403" not in e], c.errors
    finally:
        await ctx.close()
        await stop_server(runner, server)
