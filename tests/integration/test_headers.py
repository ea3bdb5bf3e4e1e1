"""Security headers on every kind of response, and the seed widget page under its policy.

The last test opens the seed widget demo page in headless Chromium against the
real server: its inline seed snippet must still run under the page's strict
Content-Security-Policy (allowed by hash), connect over Socket.IO to this
server (``connect-src 'self'``) and bind the conversation, with no CSP
violation in the browser's console.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TIMEOUT, Server

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "handoff" / "console" / "demo" / "seed_widget.html"
PAGE_URL = "/console/demo/seed_widget.html"

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} given twice in {policy!r}"
        parsed[name] = values
    return parsed


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def _fetch(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with server.http.request(method, server.url + path, **kwargs) as resp:
        await resp.read()
        return resp.status, resp.headers


async def test_every_kind_of_response_carries_the_security_headers(server: Server) -> None:
    bot = await server.bot()
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    kinds: list[tuple[str, str, str, dict[str, Any], int, str]] = [
        ("REST JSON", "GET", "/healthz", {}, 200, "application/json"),
        ("REST JSON, authenticated", "GET", f"/api/v1/bots/{bot.id}",
         {"headers": {"Authorization": f"Bearer {bot.api_key}"}}, 200, "application/json"),
        ("REST error", "POST", f"/api/v1/bots/{bot.id}/handoff", {"json": {}}, 401,
         "application/json"),
        ("unknown path", "GET", "/api/v1/nothing-here", {}, 404, "application/json"),
        ("unknown method", "TRACE", "/healthz", {}, 405, "application/json"),
        ("CORS preflight", "OPTIONS", "/api/v1/auth/login", {"headers": preflight}, 204, ""),
        ("OpenAPI document", "GET", "/api/v1/openapi.json", {}, 200, "application/json"),
        ("metrics", "GET", "/metrics", {}, 200, "text/plain"),
        ("static script", "GET", "/console/vendor/socket.io.min.js", {}, 200,
         "application/javascript"),
        # aiohttp answers a missing static file itself, with an empty body.
        ("missing static file", "GET", "/console/nothing.js", {}, 404, ""),
        ("Socket.IO polling", "GET", "/socket.io/?EIO=4&transport=polling", {}, 200,
         "text/plain"),
        ("HTML page", "GET", PAGE_URL, {}, 200, "text/html"),
    ]
    for kind, method, path, kwargs, want, content_type in kinds:
        status, headers = await _fetch(server, method, path, **kwargs)
        assert status == want, (kind, status)
        assert headers.get("Content-Type", "").startswith(content_type), (kind, headers)
        for name, value in COMMON.items():
            assert headers.get(name) == value, (kind, name, headers)
        policy = directives(headers["Content-Security-Policy"])
        assert policy["frame-ancestors"] == ["'none'"], kind
        if content_type == "text/html":
            assert policy["default-src"] == ["'self'"]
            assert policy["connect-src"] == ["'self'"]
            assert policy["object-src"] == policy["base-uri"] == ["'none'"]
            assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
            assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
        else:
            assert policy["default-src"] == ["'none'"], kind


async def test_the_seed_page_allows_its_own_inline_code_and_nothing_else(server: Server) -> None:
    html = PAGE.read_text()
    # The page as the seed snippet tests cut it: one inline script, one inline style.
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    async with server.http.get(server.url + PAGE_URL) as resp:
        assert await resp.read() == PAGE.read_bytes()  # served unchanged
        policy = directives(resp.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", sha256_source(scripts[0])]
    assert policy["style-src"] == ["'self'", sha256_source(styles[0])]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium from the system (.ci/run installs it); a clear failure, never a skip."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("`chromium` is not on PATH: the page tests need it (apt-get install chromium)")
    return exe


async def test_the_seed_page_runs_in_chromium_under_its_policy(
    server: Server, chromium: str, tmp_path: Path
) -> None:
    bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    url = f"{server.url}{PAGE_URL}?ConversationID={cid}&BotID={bot.id}"
    log = tmp_path / "chromium.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", url,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )
        try:
            # The seed snippet's startConversation handler sends username: the inline
            # script ran and its socket reached this server.
            deadline = time.monotonic() + 6 * TIMEOUT
            while (await server.service.conversation(cid)).state != "queued":
                text = log.read_text(errors="replace")
                assert "Content Security Policy" not in text, text
                assert proc.returncode is None and time.monotonic() < deadline, text
                await asyncio.sleep(0.05)
        finally:
            proc.terminate()
            await proc.wait()
    # Chromium logs the page's console there, a refused inline script or style included.
    text = log.read_text(errors="replace")
    assert "Content Security Policy" not in text, text
