"""Browser fixtures: Debian's Chromium driven by Playwright, against the real server.

One browser per test module (launching costs a second); each test opens its own
contexts. Under ``CI=true`` a missing Chromium fails; locally the tests skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.conftest import Bot, Server, make_settings, start_server, stop_server
from tests.integration.test_js_widget import HARNESS, JS_DIR, PACKAGES, JsWidget

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
AXE = JS_DIR / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "s3cret-pass"


def _require_chromium() -> None:
    if CHROMIUM.is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (with CI=true this fails)")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            await b.close()


@pytest_asyncio.fixture(loop_scope="module")
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """A real server per test (the module's event loop, shared with the browser)."""
    runner, srv = await start_server(make_settings(tmp_path))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


class ConsolePage:
    """One agent's console tab, with the steps the tests share."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )

    async def open(self) -> None:
        await self.page.goto(f"{self.server.url}/console/")

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()

    async def signed_in(self, email: str, *, online: bool = True) -> None:
        await self.open()
        await self.sign_in(email)
        await expect(self.page.get_by_text("Connected")).to_be_visible()
        if online:
            await self.page.get_by_label("Status").select_option("online")
            await expect(self.page.locator(".dot-online")).to_be_visible()

    def log(self) -> Any:
        return self.page.get_by_role("log")

    async def send(self, text: str) -> None:
        box = self.page.get_by_label("Message")
        await box.fill(text)
        await box.press("Enter")

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)

    async def axe(self) -> list[str]:
        """axe-core's serious and critical violations on the page as it is now, each as
        its rule and the elements it found."""
        source = AXE.read_text(encoding="utf-8")
        # Evaluated by the driver (not an inline script), so the page's CSP stays as served.
        await self.page.evaluate(f"() => {{ {source}\n window.axe = axe; }}")
        result = await self.page.evaluate("async () => (await window.axe.run(document)).violations")
        return [
            f"{v['id']}: {[n['target'] for n in v['nodes']]} {v['nodes'][0].get('failureSummary')}"
            for v in result
            if v.get("impact") in ("serious", "critical")
        ]


OpenConsole = Callable[..., Awaitable[ConsolePage]]


@pytest_asyncio.fixture(loop_scope="module")
async def console(browser: Browser, server: Server) -> AsyncIterator[OpenConsole]:
    """Opens a console tab in a fresh browser context (its own sessionStorage)."""
    contexts: list[BrowserContext] = []
    pages: list[ConsolePage] = []

    async def open_console(viewport: ViewportSize | None = None) -> ConsolePage:
        ctx = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        contexts.append(ctx)
        page = ConsolePage(await ctx.new_page(), server)
        pages.append(page)
        await page.open()
        return page

    try:
        yield open_console
    finally:
        for ctx in contexts:
            await ctx.close()
    for p in pages:
        # A script error in the page is a failure even when the steps passed.
        real = [e for e in p.errors if "Failed to load resource" not in e]
        assert not real, "\n".join(real)


StartWidget = Callable[..., Awaitable[JsWidget]]


async def launch_widget(
    url: str, conversation_id: str, bot: Bot, *, transcript: list[dict[str, str]] | None = None
) -> JsWidget:
    """The seed snippet under Node (tests/js/seed_widget.js), socket.io-client 3.1.3,
    bound to ``conversation_id`` once it has connected."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "sio3" / "package.json").is_file():
        pytest.fail("node and tests/js/node_modules are needed: run `make js-deps`")
    args = [str(HARNESS), "--url", url, "--conversation", conversation_id, "--bot", bot.id]
    if transcript is not None:
        args += ["--transcript", json.dumps(transcript)]
    env = {**os.environ, "SIO_PKG": "sio3"}
    env.pop("DEBUG", None)
    proc = await asyncio.create_subprocess_exec(
        node,
        *args,
        cwd=JS_DIR,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    w = JsWidget(proc, "sio3")
    try:
        assert await w.wait("ready") == {"pkg": "sio3", "version": PACKAGES["sio3"]}
        await w.wait("connect")
    except BaseException:
        await w.close()
        raise
    return w


@pytest_asyncio.fixture(loop_scope="module")
async def widget(server: Server) -> AsyncIterator[StartWidget]:
    """Starts seed widgets against ``server``; all of them end with the test."""
    started: list[JsWidget] = []

    async def start(conversation_id: str, bot: Bot, **kwargs: Any) -> JsWidget:
        w = await launch_widget(server.url, conversation_id, bot, **kwargs)
        started.append(w)
        return w

    try:
        yield start
    finally:
        for w in started:
            await w.close()


async def agent(
    server: Server,
    bot: Bot | list[Bot],
    *,
    name: str,
    role: str = "agent",
    capacity: int = 3,
    teams: list[str] | None = None,
) -> Any:
    """A stored agent with a readable name (and a role, for admins)."""
    from handoff.app import ENGINE
    from handoff.storage.agents import AgentRepo

    bots = bot if isinstance(bot, list) else [bot]
    email = f"{name.lower().replace(' ', '.')}-{os.urandom(3).hex()}@example.com"
    return await AgentRepo(server.app[ENGINE]).create(
        email,
        PASSWORD,
        name=name,
        bots=[b.id for b in bots],
        capacity=capacity,
        teams=teams,
        role=role,
    )
