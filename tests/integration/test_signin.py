"""Sign-in throttle: failures only, per account and address, and known devices never locked out.

Attempts "from another address" really come from one: each client binds its own
loopback address (127.0.0.N), which the server sees as ``request.remote``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, TCPConnector

from tests.conftest import Server, make_settings, start_server, stop_server

LOGIN = "/api/v1/auth/login"


class From:
    """HTTP clients, each from its own loopback address."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._sessions: dict[int, ClientSession] = {}

    async def login(self, n: int, email: str, password: str, **extra: Any) -> tuple[int, Any, Any]:
        """Sign in from 127.0.0.``n``: (status, body, headers)."""
        session = self._sessions.get(n)
        if session is None:
            session = ClientSession(connector=TCPConnector(local_addr=(f"127.0.0.{n}", 0)))
            self._sessions[n] = session
        headers = extra.pop("headers", None)
        body = {"email": email, "password": password, **extra}
        async with session.post(self._server.url + LOGIN, json=body, headers=headers) as resp:
            return resp.status, await resp.json(), resp.headers

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()


@pytest.fixture
async def clients(server: Server) -> AsyncIterator[From]:
    made = From(server)
    try:
        yield made
    finally:
        await made.close()


async def throttled_server(tmp_path: Path, **limits: str) -> tuple[Any, Server, From]:
    runner, server = await start_server(make_settings(tmp_path, **limits))
    return runner, server, From(server)


async def test_successful_sign_ins_from_one_address_are_not_throttled(
    server: Server, clients: From
) -> None:
    # An office behind one NAT: before, the 11th success from one address got 429.
    bot = await server.bot()
    agents = await asyncio.gather(
        *(server.agent(bot, email=f"a{i}@office.example") for i in range(3))
    )
    results = await asyncio.gather(
        *(clients.login(2, a.email, "s3cret-pass") for a in agents for _ in range(4))
    )
    assert [status for status, _, _ in results] == [200] * 12


async def test_failed_sign_ins_are_answered_429_with_retry_after_and_say_so(
    server: Server, clients: From
) -> None:
    agent = await server.agent(await server.bot())
    for _ in range(10):  # HANDOFF_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS, 10/15 minutes
        status, body, _ = await clients.login(2, agent.email, "wrong")
        assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    status, body, headers = await clients.login(2, agent.email, "wrong")
    assert status == 429
    error = body["error"]
    assert (error["code"], error["field"]) == ("rate_limited", "email")
    assert "failed sign-ins" in error["message"]
    assert 0 < int(headers["Retry-After"]) <= 15 * 60
    # Even the right password waits now (from this address, on an unknown device) ...
    assert (await clients.login(2, agent.email, "s3cret-pass"))[0] == 429
    # ... but not from elsewhere: the lockout is per account and address.
    assert (await clients.login(3, agent.email, "s3cret-pass"))[0] == 200


async def test_wrong_passwords_from_many_addresses_do_not_lock_the_owner_out(
    server: Server, clients: From
) -> None:
    # Before, 10 wrong passwords from 10 addresses used up the per-email bucket everywhere.
    agent = await server.agent(await server.bot())
    for n in range(10, 21):
        assert (await clients.login(n, agent.email, "guess"))[0] == 401
    status, body, _ = await clients.login(2, agent.email, "s3cret-pass")
    assert status == 200, body


async def test_a_known_device_signs_in_while_the_account_is_locked_for_others(
    tmp_path: Path,
) -> None:
    runner, server, clients = await throttled_server(tmp_path, login_failures_per_account="3/hour")
    try:
        agent = await server.agent(await server.bot())
        status, body, headers = await clients.login(2, agent.email, "s3cret-pass")
        assert status == 200
        device = body["device_token"]
        assert "handoff_device=" in headers["Set-Cookie"]
        assert "HttpOnly" in headers["Set-Cookie"]
        for n in (10, 11, 12):  # an attacker, from three addresses
            assert (await clients.login(n, agent.email, "guess"))[0] == 401
        # Locked for every device that never signed in, the owner's new one too ...
        status, body, headers = await clients.login(3, agent.email, "s3cret-pass")
        assert (status, body["error"]["field"]) == (429, "email")
        assert int(headers["Retry-After"]) > 0
        # ... but the owner's known device gets in, by body or by cookie.
        status, body, _ = await clients.login(4, agent.email, "s3cret-pass", device_token=device)
        assert status == 200, body
        cookie = {"Cookie": f"handoff_device={body['device_token']}"}
        assert (await clients.login(5, agent.email, "s3cret-pass", headers=cookie))[0] == 200
        # A device token proves the device, not the account: another email's is ignored,
        # and a forged one is no token at all.
        other = await server.agent(await server.bot())
        _, theirs, _ = await clients.login(2, other.email, "s3cret-pass")
        stolen = await clients.login(
            6, agent.email, "s3cret-pass", device_token=theirs["device_token"]
        )
        assert stolen[0] == 429
        forged = await clients.login(6, agent.email, "s3cret-pass", device_token=device + "x")
        assert forged[0] == 429
    finally:
        await clients.close()
        await stop_server(runner, server)


async def test_failures_from_one_address_across_accounts_are_limited(tmp_path: Path) -> None:
    runner, server, clients = await throttled_server(tmp_path, login_failures_per_address="4/hour")
    try:
        agent = await server.agent(await server.bot())
        _, known, _ = await clients.login(2, agent.email, "s3cret-pass")
        for i in range(4):  # password spraying: one guess each at many emails
            assert (await clients.login(2, f"user{i}@example.com", "guess"))[0] == 401
        status, body, _ = await clients.login(2, "someone@example.com", "guess")
        assert (status, body["error"]["field"]) == (429, "address")
        assert "from this address" in body["error"]["message"]
        # A device that signed in before is counted on its own.
        status, _, _ = await clients.login(
            2, agent.email, "s3cret-pass", device_token=known["device_token"]
        )
        assert status == 200
    finally:
        await clients.close()
        await stop_server(runner, server)


async def test_parallel_guesses_do_not_slip_past_the_limit(server: Server, clients: From) -> None:
    agent = await server.agent(await server.bot())
    results = await asyncio.gather(*(clients.login(2, agent.email, f"g{i}") for i in range(16)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(401) <= 10 and statuses.count(429) >= 6, statuses


async def test_a_success_clears_only_its_own_failures(tmp_path: Path) -> None:
    runner, server, clients = await throttled_server(
        tmp_path, login_failures_per_account_address="3/hour"
    )
    try:
        agent = await server.agent(await server.bot())
        for _ in range(2):
            assert (await clients.login(2, agent.email, "typo"))[0] == 401
        assert (await clients.login(2, agent.email, "s3cret-pass"))[0] == 200
        for _ in range(3):  # a fresh allowance after the owner got in
            assert (await clients.login(2, agent.email, "typo"))[0] == 401
        assert (await clients.login(2, agent.email, "typo"))[0] == 429
    finally:
        await clients.close()
        await stop_server(runner, server)


def test_login_limits_are_settings_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from handoff.config import Settings

    monkeypatch.setenv("HANDOFF_LOGIN_FAILURES_PER_ACCOUNT", "5/10 minutes")
    assert Settings().login_failures_per_account == "5/10 minutes"
    for bad in ("lots", "0/minute"):
        monkeypatch.setenv("HANDOFF_LOGIN_FAILURES_PER_ADDRESS", bad)
        with pytest.raises(ValidationError, match="COUNT/PERIOD"):
            Settings()
