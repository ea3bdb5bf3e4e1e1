"""Security headers on every kind of response, and the seed widget page's policy.

That the page's inline seed snippet really runs under its policy (allowed by hash),
connects and binds, with no CSP violation, is checked in a browser:
tests/browser/test_seed_page.py (Playwright, with the browser suite's Chromium flags).
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from tests.conftest import Server

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
        (
            "REST JSON, authenticated",
            "GET",
            f"/api/v1/bots/{bot.id}",
            {"headers": {"Authorization": f"Bearer {bot.api_key}"}},
            200,
            "application/json",
        ),
        (
            "REST error",
            "POST",
            f"/api/v1/bots/{bot.id}/handoff",
            {"json": {}},
            401,
            "application/json",
        ),
        ("unknown path", "GET", "/api/v1/nothing-here", {}, 404, "application/json"),
        ("unknown method", "TRACE", "/healthz", {}, 405, "application/json"),
        ("CORS preflight", "OPTIONS", "/api/v1/auth/login", {"headers": preflight}, 204, ""),
        ("OpenAPI document", "GET", "/api/v1/openapi.json", {}, 200, "application/json"),
        ("metrics", "GET", "/metrics", {}, 200, "text/plain"),
        (
            "static script",
            "GET",
            "/console/vendor/socket.io.min.js",
            {},
            200,
            "application/javascript",
        ),
        # aiohttp answers a missing static file itself, with an empty body.
        ("missing static file", "GET", "/console/nothing.js", {}, 404, ""),
        ("Socket.IO polling", "GET", "/socket.io/?EIO=4&transport=polling", {}, 200, "text/plain"),
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
