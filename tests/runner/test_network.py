"""The blocklist and the egress proxy that applies it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from handoff.runner import ErrorKind, NetworkPolicy, RunnerPool
from handoff.runner.netpolicy import local_addresses

from .conftest import OrderApi, action


def test_localhost_means_every_local_address() -> None:
    policy = NetworkPolicy.from_entries(["localhost:6379"])
    for ip in ("127.0.0.1", "127.3.2.1", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1"):
        assert policy.blocks(ip, 6379), ip
    assert not policy.blocks("127.0.0.1", 6380)
    assert not policy.blocks("93.184.216.34", 6379)
    for net in local_addresses():
        assert policy.blocks(str(net.network_address), 6379)


def test_entries_accept_cidrs_wildcard_ports_and_brackets() -> None:
    policy = NetworkPolicy.from_entries(["10.0.0.0/8:*", "[fd00:ec2::254]:80", "192.0.2.7:5432"])
    assert policy.blocks("10.1.2.3", 1) and policy.blocks("10.1.2.3", 65535)
    assert policy.blocks("fd00:ec2::254", 80) and not policy.blocks("fd00:ec2::254", 81)
    assert policy.blocks("192.0.2.7", 5432) and not policy.blocks("192.0.2.8", 5432)


@pytest.mark.parametrize(
    "entry", ["6379", "localhost", "localhost:http", "1.2.3.4:0", "no-such-host.invalid:1"]
)
def test_bad_entries_are_refused_not_ignored(entry: str) -> None:
    with pytest.raises(ValueError):
        NetworkPolicy.from_entries([entry])


async def test_names_are_resolved_by_the_proxy(pool: RunnerPool, order_api: OrderApi) -> None:
    url = order_api.url.replace("127.0.0.1", "localhost")
    code = action(f"""
        import requests
        r = (requests.post({url!r}, json={{'order_id': 'x1'}}, timeout=5).json(),
             socket.gethostbyname('localhost'))
    """)
    out = await pool.run("bot-n", "names", code, {})
    assert out.ok, out.error
    assert out.output == {
        "r": repr(({"results": {"order_id": "x1", "status": "shipped", "items": 2}}, "127.0.0.1"))
    }


async def test_caller_given_entries_and_metadata_service_are_blocked(
    make_pool: Callable[..., RunnerPool], order_api: OrderApi
) -> None:
    port = urlsplit(order_api.url).port
    async with make_pool(blocked=(f"127.0.0.1:{port}", "169.254.169.254:*")) as pool:
        for target in (order_api.url, "http://169.254.169.254/latest/meta-data/"):
            code = action(f"import requests\nr = requests.get({target!r}, timeout=5)")
            out = await pool.run("bot-n", "blocked", code, {})
            assert out.error is not None and out.error.kind == ErrorKind.EXCEPTION
            assert "are blocked" in out.error.message
        assert order_api.received == []


async def test_connections_per_worker_are_bounded(
    make_pool: Callable[..., RunnerPool], order_api: OrderApi
) -> None:
    port = urlsplit(order_api.url).port
    async with make_pool(max_connections_per_worker=2) as pool:
        code = action(f"""
            held = [socket.create_connection(('127.0.0.1', {port}), timeout=5) for _ in range(2)]
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=5)
                r = 'third connected'
            except OSError as exc:
                r = str(exc)
        """)
        out = await pool.run("bot-n", "many", code, {})
        assert out.ok, out.error
        assert out.output is not None and "at most 2 connections" in out.output["r"]
