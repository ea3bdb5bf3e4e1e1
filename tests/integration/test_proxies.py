"""``HANDOFF_TRUSTED_PROXIES``: the sign-in throttle counts the client's address from a
trusted proxy's ``X-Forwarded-For``, and the peer's own address from anyone else."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Server, make_settings, start_server, stop_server


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[Server]:
    settings = make_settings(
        tmp_path, trusted_proxies=["127.0.0.1"], login_failures_per_address="3/15 minutes"
    )
    runner, server = await start_server(settings)
    try:
        yield server
    finally:
        await stop_server(runner, server)


async def _sign_in(server: Server, source: str, forwarded: str | None, email: str) -> int:
    """A sign-in from local address ``source``, as a proxy forwarding ``forwarded``."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            f"{server.url}/api/v1/auth/login",
            json={"email": email, "password": "s3cret-pass"},
            headers=headers,
        ) as resp,
    ):
        return resp.status


async def test_a_trusted_proxy_names_the_client(behind_proxy: Server) -> None:
    server = behind_proxy
    agent = await server.agent(await server.bot())
    for _ in range(3):  # 127.0.0.1 is the proxy: the failures are 203.0.113.1's
        wrong = f"nobody-{secrets.token_hex(3)}@example.com"
        assert await _sign_in(server, "127.0.0.1", "203.0.113.1", wrong) == 401
    assert await _sign_in(server, "127.0.0.1", "203.0.113.1", agent.email) == 429
    # Another client behind the same proxy is not held back, nor is the proxy itself.
    assert await _sign_in(server, "127.0.0.1", "203.0.113.2", agent.email) == 200
    assert await _sign_in(server, "127.0.0.1", None, agent.email) == 200


async def test_a_client_that_is_no_trusted_proxy_cannot_choose_its_address(
    behind_proxy: Server,
) -> None:
    server = behind_proxy
    agent = await server.agent(await server.bot())
    for n in range(3):  # a new made-up address each time: all counted as 127.0.3.1's
        wrong = f"nobody-{secrets.token_hex(3)}@example.com"
        assert await _sign_in(server, "127.0.3.1", f"198.51.100.{n}", wrong) == 401
    assert await _sign_in(server, "127.0.3.1", "198.51.100.99", agent.email) == 429
    assert await _sign_in(server, "127.0.3.2", None, agent.email) == 200
