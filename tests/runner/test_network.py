"""The egress policy (public internet open, private space only where listed) and its proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from handoff.actions.runner_config import runner_config
from handoff.config import Settings
from handoff.runner import ErrorKind, NetworkPolicy, RunnerPool
from handoff.runner.netpolicy import local_addresses

from .conftest import OrderApi, action

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
    "::ffff:93.184.216.34",
]
PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%1",
    "fc00::1",
    "fd00:ec2::254",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::a00:1",
    "64:ff9b::a00:1",
    "64:ff9b::7f00:1",
    "64:ff9b:1::1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::1",
]


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_are_open(ip: str) -> None:
    assert NetworkPolicy.from_entries([]).refusal(ip, 443) is None


@pytest.mark.parametrize("ip", PRIVATE)
def test_private_space_is_refused_unless_listed(ip: str) -> None:
    why = NetworkPolicy.from_entries([]).refusal(ip, 3306)
    assert why is not None and "HANDOFF_RUNNER_ALLOWED_PRIVATE" in why


def test_every_address_of_this_machine_is_private() -> None:
    policy = NetworkPolicy.from_entries([])
    for net in local_addresses():
        assert policy.blocks(str(net.network_address), 3306), net


def test_allowed_entries_open_only_what_they_name() -> None:
    policy = NetworkPolicy.from_entries(
        [], ["10.0.0.0/8:5432", "192.168.1.7:*", "[fd00::1]:80", "localhost:8000"]
    )
    assert not policy.blocks("10.1.1.1", 5432) and not policy.blocks("::ffff:10.1.1.1", 5432)
    assert policy.blocks("10.1.1.1", 5433) and policy.blocks("172.16.0.1", 5432)
    assert not policy.blocks("192.168.1.7", 1) and policy.blocks("192.168.1.8", 1)
    assert not policy.blocks("fd00::1", 80) and policy.blocks("fd00::1", 81)
    assert not policy.blocks("127.0.0.1", 8000) and not policy.blocks("::1", 8000)
    assert policy.blocks("127.0.0.1", 8001) and policy.blocks("169.254.169.254", 8000)


def test_blocked_entries_win_over_allowed_ones() -> None:
    # The server's own stores stay closed however broadly the operator opens private space.
    policy = NetworkPolicy.from_entries(
        ["localhost:6379", "10.0.0.5:5432", "169.254.169.254:*"],
        ["localhost:*", "10.0.0.0/8:*", "169.254.0.0/16:*"],
    )
    for ip, port in (
        ("127.0.0.1", 6379),
        ("::ffff:127.0.0.1", 6379),
        ("10.0.0.5", 5432),
        ("169.254.169.254", 80),
    ):
        why = policy.refusal(ip, port)
        assert why is not None and "server's own services" in why, (ip, port)
    assert not policy.blocks("127.0.0.1", 6380) and not policy.blocks("10.0.0.5", 5433)


def test_localhost_means_every_local_address() -> None:
    policy = NetworkPolicy.from_entries(["localhost:6379"], ["localhost:*"])
    for ip in ("127.0.0.1", "127.3.2.1", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1"):
        assert policy.blocks(ip, 6379), ip
    assert not policy.blocks("127.0.0.1", 6380)
    assert not policy.blocks("93.184.216.34", 6379)
    for net in local_addresses():
        assert policy.blocks(str(net.network_address), 6379)


def test_the_operator_setting_reaches_the_runner() -> None:
    settings = Settings(
        runner_allowed_private="10.0.0.5:8080, 192.168.0.0/16:*", database_url=None, port=8080
    )
    config = runner_config(settings)
    assert config.allowed_private == ("10.0.0.5:8080", "192.168.0.0/16:*")
    assert "localhost:8080" in config.blocked
    with pytest.raises(ValueError):
        NetworkPolicy.from_entries(config.blocked, [*config.allowed_private, "10.0.0.1"])


def test_entries_accept_cidrs_wildcard_ports_and_brackets() -> None:
    # Private space opened as a whole, so that only the block entries refuse.
    policy = NetworkPolicy.from_entries(
        ["10.0.0.0/8:*", "[fd00:ec2::254]:80", "192.0.2.7:5432"],
        ["10.0.0.0/8:*", "fd00::/8:*", "192.0.2.0/24:*"],
    )
    assert policy.blocks("10.1.2.3", 1) and policy.blocks("10.1.2.3", 65535)
    assert policy.blocks("fd00:ec2::254", 80) and not policy.blocks("fd00:ec2::254", 81)
    assert policy.blocks("192.0.2.7", 5432) and not policy.blocks("192.0.2.8", 5432)


@pytest.mark.parametrize(
    "entry", ["6379", "localhost", "localhost:http", "1.2.3.4:0", "no-such-host.invalid:1"]
)
def test_bad_entries_are_refused_not_ignored(entry: str) -> None:
    with pytest.raises(ValueError, match="blocked"):
        NetworkPolicy.from_entries([entry])
    with pytest.raises(ValueError, match="allowed"):
        NetworkPolicy.from_entries([], [entry])


async def test_names_are_resolved_by_the_proxy(api_pool: RunnerPool, order_api: OrderApi) -> None:
    url = order_api.url.replace("127.0.0.1", "localhost")
    code = action(f"""
        import requests
        r = (requests.post({url!r}, json={{'order_id': 'x1'}}, timeout=5).json(),
             socket.gethostbyname('localhost'))
    """)
    out = await api_pool.run("bot-n", "names", code, {})
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
    async with make_pool(
        max_connections_per_worker=2, allowed_private=(order_api.address,)
    ) as pool:
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


class Listener:
    """A TCP server on a loopback address that counts the connections it accepts."""

    def __init__(self) -> None:
        self.accepted = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str) -> None:
        self.server = await asyncio.start_server(self._serve, host, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listeners() -> AsyncIterator[tuple[Listener, Listener]]:
    """One listener on 127.0.0.1 (a local MariaDB, say) and one on 127.0.0.2."""
    first, second = Listener(), Listener()
    await first.start("127.0.0.1")
    await second.start("127.0.0.2")
    yield first, second
    for each in (first, second):
        assert each.server is not None
        each.server.close()
        await each.server.wait_closed()


SPELLINGS = [
    "127.0.0.1",
    "localhost",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0x7f.1",
    "127.1",
    "127.0.1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
]


def reach(port: int, hosts: list[str]) -> str:
    """Bot code that connects to ``port`` on each of ``hosts``, both through the resolver
    (create_connection) and handing the spelling itself to connect(); returns what each got."""
    return action(
        f"""
        got = {{}}
        for host in {hosts!r}:
            for how in ('create_connection', 'connect'):
                try:
                    if how == 'connect':
                        family = socket.AF_INET6 if ':' in host else socket.AF_INET
                        s = socket.socket(family, socket.SOCK_STREAM)
                        s.settimeout(5)
                        s.connect((host, {port}))
                    else:
                        s = socket.create_connection((host, {port}), timeout=5)
                    got[host + ' ' + how] = s.recv(6).decode()
                    s.close()
                except OSError as exc:
                    got[host + ' ' + how] = str(exc)
        r = got
    """,
        result="r",
    )


def outcomes(out: object) -> dict[str, str]:
    result = getattr(out, "output", None)
    assert result is not None, getattr(out, "error", None)
    got = eval(result["r"])
    assert isinstance(got, dict)
    return got


async def test_local_services_are_refused_under_every_spelling(
    pool: RunnerPool, listeners: tuple[Listener, Listener]
) -> None:
    first, second = listeners
    for listener, hosts in ((first, SPELLINGS), (second, ["127.0.0.2", "::ffff:127.0.0.2"])):
        got = outcomes(await pool.run("bot-n", "local", reach(listener.port, hosts), {}))
        assert len(got) == 2 * len(hosts)
        for key, what in got.items():
            assert "are blocked" in what and "private address" in what, (key, what)
        assert listener.accepted == 0


async def test_the_operators_entry_opens_exactly_that_destination(
    make_pool: Callable[..., RunnerPool], listeners: tuple[Listener, Listener]
) -> None:
    first, second = listeners
    async with make_pool(allowed_private=(f"127.0.0.1:{first.port}",)) as pool:
        got = outcomes(await pool.run("bot-n", "local", reach(first.port, SPELLINGS), {}))
        assert got == {key: "hello\n" for key in got}
        assert first.accepted == len(got) == 2 * len(SPELLINGS)
        # Another loopback address, and another port of the listed one, stay closed.
        for port, hosts in ((second.port, ["127.0.0.2"]), (second.port, ["127.0.0.1"])):
            got = outcomes(await pool.run("bot-n", "local", reach(port, hosts), {}))
            assert all("are blocked" in what for what in got.values()), got
        assert second.accepted == 0


async def test_a_redirect_into_private_space_is_refused(
    make_pool: Callable[..., RunnerPool], listeners: tuple[Listener, Listener]
) -> None:
    # An allowed service redirects to an unlisted one: the new connection is checked too.
    _, second = listeners
    app = web.Application()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{second.port}/")

    app.router.add_get("/go", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with make_pool(allowed_private=(f"127.0.0.1:{port}",)) as pool:
            code = action(f"""
                import requests
                try:
                    r = requests.get('http://127.0.0.1:{port}/go', timeout=5).status_code
                except requests.ConnectionError as exc:
                    r = str(exc)
            """)
            out = await pool.run("bot-n", "redirect", code, {})
            assert out.ok and out.output is not None, out.error
            assert "127.0.0.2" in out.output["r"] and "are blocked" in out.output["r"]
    finally:
        await runner.cleanup()
    assert second.accepted == 0
