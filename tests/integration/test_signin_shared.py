"""The sign-in throttle shared through Redis: failures on one process count on another.

Two servers share one PostgreSQL database (as a deployment does) and a redis-server of
this test's own, which it can kill without touching the machine's Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.conftest import Server, make_settings, start_server
from tests.integration.services import (
    OwnRedis,
    own_redis_fixture,  # noqa: F401
)
from tests.integration.test_redis_pubsub_health import stop

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def pair(
    tmp_path: Path,
    postgres_url: str,
    own_redis: OwnRedis,
) -> AsyncIterator[tuple[Server, Server, str]]:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    started: list[tuple[Any, Server]] = []
    try:
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path / name,
                database_url=postgres_url,
                redis_url=own_redis.url,
                redis_prefix=prefix,
                redis_probe_interval_seconds=3600,
                redis_probe_timeout_seconds=1.0,
                login_failures_per_account_address="3/15 minutes",
            )
            started.append(await start_server(settings))
        yield started[0][1], started[1][1], prefix
    finally:
        for runner, server in reversed(started):
            await stop(runner, server)


async def login(server: Server, email: str, password: str) -> tuple[int, Any, Any]:
    body = {"email": email, "password": password}
    async with server.http.post(server.url + LOGIN, json=body) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_failures_on_one_process_refuse_the_next_attempt_on_another(
    pair: tuple[Server, Server, str],
    own_redis: OwnRedis,
) -> None:
    a, b, prefix = pair
    bot = await a.bot()
    agent = await a.agent(bot)
    for _ in range(3):
        status, body, _ = await login(a, agent.email, "wrong")
        assert status == 401 and body["error"]["code"] == "invalid_credentials"
    # The right password, on the other process: refused there too, counted in Redis.
    status, body, headers = await login(b, agent.email, "s3cret-pass")
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited" and body["error"]["field"] == "email"
    assert int(headers["Retry-After"]) >= 1
    # The counters are under this deployment's prefix, with a TTL (the window).
    client = Redis.from_url(own_redis.url, decode_responses=True)
    try:
        keys = [k async for k in client.scan_iter(f"{prefix}limits:*")]
        assert keys, "no sign-in counter under the prefix"
        for key in keys:
            assert await client.ttl(key) > 0, key
    finally:
        await client.aclose()
    # Another account is not affected, on either process.
    other = await a.agent(bot)
    status, _, _ = await login(b, other.email, "s3cret-pass")
    assert status == 200


async def test_sign_in_is_refused_while_redis_is_down(
    pair: tuple[Server, Server, str],
    own_redis: OwnRedis,
) -> None:
    a, b, _ = pair
    bot = await a.bot()
    agent = await a.agent(bot)
    assert (await login(a, agent.email, "s3cret-pass"))[0] == 200
    await own_redis.kill()
    for server in (a, b):
        status, body, headers = await login(server, agent.email, "s3cret-pass")
        assert status == 503, body
        assert body["error"]["code"] == "signin_unavailable"
        assert body["error"]["field"] == "redis"
        assert headers["Retry-After"] == "5"
    # A bad body is still a 400 naming the field (checked before the throttle).
    async with a.http.post(a.url + LOGIN, json={"email": agent.email}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "password"
    await own_redis.start()
    # Signed in again once Redis is back. (The routing state may refuse the first request
    # on a connection Redis dropped meanwhile: that is its own to recover from.)
    deadline = time.monotonic() + 10
    while (status := (await login(a, agent.email, "s3cret-pass"))[0]) != 200:
        assert status in (500, 503) and time.monotonic() < deadline, status
        await asyncio.sleep(0.1)
