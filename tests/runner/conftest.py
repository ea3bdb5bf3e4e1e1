"""Fixtures for the runner: a real sandboxed pool and a real HTTP API on loopback."""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from handoff.runner import RunnerConfig, RunnerPool

# Copies of shared/seeds/000_... and 001_... (the code-node documents), kept with the
# tests so they run from any checkout.
SEEDS = Path(__file__).resolve().parent / "seeds"


def action(body: str, *, result: str = "r", imports: str = "import json, os, sys, socket") -> str:
    """A main() running ``body`` and returning ``{'r': repr(<result>)}`` as its final_response."""
    return (
        f"{imports}\n\ndef main(event, context):\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "    ")
        + f"\n    return {{'statusCode': 200, 'body': json.dumps({{'r': repr({result})}}), "
        "'headers': {'Content-Type': 'application/json'}}\n"
    )


def descendants(pid: int) -> set[int]:
    """Host pids of every live process below ``pid`` (bwrap's sandbox included)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


async def wait_gone(pids: set[int]) -> set[int]:
    """Poll until none of ``pids`` is alive (or give up after a while); the survivors."""
    left = set(pids)
    for _ in range(200):
        left = alive(left)
        if not left:
            break
        await asyncio.sleep(0.025)
    return left


@pytest.fixture
def make_pool() -> Callable[..., RunnerPool]:
    """A factory for sandboxed pools with short limits; bubblewrap must be there."""

    def make(**overrides: Any) -> RunnerPool:
        settings: dict[str, Any] = {"timeout_s": 10.0, "kill_grace_s": 1.0}
        settings.update(overrides)
        return RunnerPool(RunnerConfig(**settings))

    return make


@pytest.fixture
async def pool(make_pool: Callable[..., RunnerPool]) -> AsyncIterator[RunnerPool]:
    async with make_pool() as p:
        # No skip: CI installs bubblewrap; a machine without it must fail loudly here.
        assert p.sandboxed, "bubblewrap (bwrap) is required: apt-get install bubblewrap"
        yield p


class OrderApi:
    """A stand-in for a bot builder's order API, served by aiohttp on 127.0.0.1."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""
        self.address = ""  # host:port, for a pool's allowed_private

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.received.append(payload)
        return web.json_response(
            {"results": {"order_id": payload["order_id"], "status": "shipped", "items": 2}}
        )


@pytest.fixture
async def order_api() -> AsyncIterator[OrderApi]:
    api = OrderApi()
    app = web.Application()
    app.router.add_post("/orders", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api.url = f"http://{host}:{port}/orders"
    api.address = f"{host}:{port}"
    yield api
    await runner.cleanup()


@pytest.fixture
async def api_pool(
    make_pool: Callable[..., RunnerPool], order_api: OrderApi
) -> AsyncIterator[RunnerPool]:
    """A pool whose bots may reach the order API: it is on loopback, so the operator lists it."""
    async with make_pool(allowed_private=(order_api.address,)) as p:
        assert p.sandboxed, "bubblewrap (bwrap) is required: apt-get install bubblewrap"
        yield p
