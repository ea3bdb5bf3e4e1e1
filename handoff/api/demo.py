"""The demo page and its endpoint, on only when ``HANDOFF_DEMO=true``.

``/demo/widget.html`` (with its ``widget.js`` and ``widget.css``, from
``client_examples/``) is a chat box for the demo bot; ``POST /demo/api/converse`` is
``POST /api/v1/bots/{bot_id}/converse`` for the demo bot without an API key, so the page
needs no secret. With the demo off every ``/demo`` path is a ``404``: the routes stay
registered so the OpenAPI document and the router are the same in both modes.

The endpoint is unauthenticated input: each address may call it
``HANDOFF_DEMO_RATE_LIMIT`` times per window (the ``limits`` library's moving window, as
the sign-in throttle), counted before the body is read, so bad bodies count too.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import limits
from aiohttp import web
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.api.converse import converse_turn
from handoff.api.keys import SETTINGS
from handoff.demo import DEMO_BOT_ID, DemoSetup, ensure_demo
from handoff.errors import NotFound, RateLimited
from handoff.shipped import shipped_dir
from handoff.storage.bots import BotRepo

__all__ = [
    "DEMO",
    "DEMO_CONVERSE_PATH",
    "DEMO_FILES",
    "DEMO_PAGE",
    "DEMO_PAGE_PATH",
    "DemoLimiter",
    "setup_demo",
]

DEMO = web.AppKey("demo", DemoSetup)
"""What the demo bootstrap found or made at start (set only when the demo is on)."""
DEMO_PAGES = shipped_dir("client_examples")
DEMO_FILES = frozenset({"widget.html", "widget.js", "widget.css"})
"""The only files served under ``/demo/`` (client_examples/ also holds Python programs)."""
DEMO_PAGE = DEMO_PAGES / "widget.html"
DEMO_PAGE_PATH = "/demo/widget.html"
DEMO_CONVERSE_PATH = "/demo/api/converse"
_ENGINE = web.AppKey("demo_engine", AsyncEngine)


class DemoLimiter:
    """Calls per address in a moving window; :class:`RateLimited` with ``retry_after`` over it."""

    def __init__(self, rule: str) -> None:
        self._rule = limits.parse(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, address: str) -> None:
        if await self._limiter.hit(self._rule, "demo-converse", address):
            return
        stats = await self._limiter.get_window_stats(self._rule, "demo-converse", address)
        error = RateLimited(
            f"too many demo calls from this address (at most {self._rule.amount} per "
            f"{self._rule.multiples} {self._rule.GRANULARITY.name}); slow down",
            field="address",
        )
        error.retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise error


_LIMITER = web.AppKey("demo_limiter", DemoLimiter)


def _demo_on(request: web.Request) -> None:
    if not request.app[SETTINGS].demo:
        raise NotFound(
            "the demo is off on this server (HANDOFF_DEMO=false)", field="path", code="demo_off"
        )


async def _redirect(request: web.Request) -> web.StreamResponse:
    _demo_on(request)
    raise web.HTTPFound(DEMO_PAGE_PATH)


async def _file(request: web.Request) -> web.StreamResponse:
    _demo_on(request)
    name = request.match_info["name"]
    if name not in DEMO_FILES:
        raise NotFound(f"no demo file {name!r}", field="path")
    return web.FileResponse(DEMO_PAGES / name)


async def _converse(request: web.Request) -> web.Response:
    _demo_on(request)
    await request.app[_LIMITER].hit(request.remote or "unknown")
    bot = await BotRepo(request.app[_ENGINE]).get(DEMO_BOT_ID)
    if bot is None:
        raise NotFound(
            "this database had bots or agents before the demo was turned on, so no demo bot "
            "was made; use POST /api/v1/bots/{bot_id}/converse with a bot's API key",
            field="bot_id",
            code="no_demo_bot",
        )
    return await converse_turn(request, bot)


def setup_demo(app: web.Application, engine_key: web.AppKey[AsyncEngine]) -> None:
    """The routes, and (demo on) the bootstrap, run once the database is open."""
    settings = app[SETTINGS]
    app[_LIMITER] = DemoLimiter(settings.demo_rate_limit)

    async def bootstrap(app: web.Application) -> AsyncIterator[None]:
        app[_ENGINE] = app[engine_key]
        if settings.demo:
            app[DEMO] = await ensure_demo(app[engine_key])
        yield

    app.cleanup_ctx.append(bootstrap)
    app.router.add_get("/demo", _redirect)
    app.router.add_get("/demo/", _redirect)
    app.router.add_post(DEMO_CONVERSE_PATH, _converse)
    app.router.add_get("/demo/{name}", _file)
