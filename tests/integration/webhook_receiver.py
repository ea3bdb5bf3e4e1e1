"""A real local HTTP server that receives webhooks, and the verifier docs/bot-api.md shows."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import TIMEOUT, free_port


# The verifier of docs/bot-api.md, "Verifying a webhook", line for line.
def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300) -> bool:
    timestamp = headers.get("X-Handoff-Timestamp", "")
    signature = headers.get("X-Handoff-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False  # missing, or too old: a replay
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


@dataclass
class Received:
    """One request the receiver got, and what it answered."""

    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def delivery(self) -> str:
        return self.headers["X-Handoff-Delivery"]


@dataclass
class Receiver:
    """Answers each webhook with ``answer(n)`` (n counts from 0), or hangs while ``hang``."""

    port: int = field(default_factory=free_port)
    answer: Callable[[int], int] = lambda n: 200
    hang: bool = False
    received: list[Received] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hang:
            async with self._changed:
                self.received.append(Received(dict(request.headers), body, 0))
                self._changed.notify_all()
            await self._release.wait()
            return web.Response(status=200)
        status = self.answer(len(self.received))
        async with self._changed:
            self.received.append(Received(dict(request.headers), body, status))
            self._changed.notify_all()
        return web.json_response({"ok": status < 300}, status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ok(self) -> list[Received]:
        """The deliveries it answered with a 2xx, in the order they came."""
        return [r for r in self.received if 200 <= r.answered < 300]

    async def wait_for(self, where: Callable[[Receiver], bool], *, within: float = TIMEOUT) -> None:
        """Until ``where(self)`` holds (woken by each request; no polling)."""

        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: where(self))

        try:
            await asyncio.wait_for(until(), within)
        except TimeoutError:
            got = [(r.answered, r.event["type"]) for r in self.received]
            message = f"receiver: condition not met within {within}s; got {got}"
            raise AssertionError(message) from None
