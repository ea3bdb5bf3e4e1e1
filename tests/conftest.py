"""Fixtures: a real server on a free port, real Socket.IO clients, real databases."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import ClientSession, web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text as sql_text

from handoff.api.keys import SERVICE
from handoff.app import ENGINE, ROUTING_STATE, create_app
from handoff.config import Settings
from handoff.routing.service import HandoffService
from handoff.routing.shared_state import RoutingState
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.conversations import ConversationRepo
from handoff.storage.messages import MessageRepo

POSTGRES_URL = os.environ.get(
    "HANDOFF_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("HANDOFF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TIMEOUT = 5.0

BACKENDS = ("embedded", "pg+redis")
"""What the ``server`` fixture runs on: SQLite and the in-process state, or PostgreSQL
(a fresh database) and the Redis state (a fresh prefix)."""

CORE_MODULES = frozenset(
    {
        "test_routing",
        "test_widget_binding",
        "test_widget_redelivery",
        "test_presence",
        "test_outcomes_and_messages",
        "test_smoke",
        "test_event_shapes",
        "test_console_events",
        "test_supervisor",
        "test_failures",
    }
)
"""The modules whose ``server`` tests run on every backend: they exercise routing. The
others (REST, runner, CLI, browser) run on the embedded one."""


def driver_threads() -> set[int]:
    """The aiosqlite connection threads alive now (each open connection has one)."""
    return {t.ident or 0 for t in threading.enumerate() if "_connection_worker_thread" in t.name}


async def driver_threads_end(before: set[int], within: float = 10.0) -> None:
    """The driver threads started since ``before`` end, a moment after their connection
    closes. Threads an earlier test left behind are not this test's to judge."""
    deadline = time.monotonic() + within
    while started := driver_threads() - before:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(started)} database driver thread(s) left running")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    """Every event a client received, in order, with a way to wait for the next match."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._taken: set[int] = set()
        self._changed = asyncio.Condition()

    async def add(self, event: str, data: Any) -> None:
        async with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def of(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, *, within: float = TIMEOUT
    ) -> Any:
        """The first ``event`` matching ``where`` not yet taken by an earlier wait."""
        deadline = time.monotonic() + within
        async with self._changed:
            while True:
                for i, (e, d) in enumerate(self.events):
                    if e == event and where(d) and i not in self._taken:
                        self._taken.add(i)
                        return d
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {event!r} within {within}s; got {self.events!r}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass


@dataclass
class Client:
    sio: socketio.AsyncClient
    rec: Recorder
    namespace: str

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=TIMEOUT)

    async def close(self) -> None:
        await self.sio.disconnect()


@dataclass
class Bot:
    id: str
    api_key: str


@dataclass
class Server:
    url: str
    app: web.Application
    settings: Settings
    http: ClientSession
    clients: list[Client] = field(default_factory=list)

    @property
    def service(self) -> HandoffService:
        return self.app[SERVICE]

    # What the server stored, read straight from its database and routing state
    # (tests check it; the server's own edge goes through the service).
    @property
    def messages(self) -> MessageRepo:
        return MessageRepo(self.app[ENGINE])

    @property
    def conversations(self) -> ConversationRepo:
        return ConversationRepo(self.app[ENGINE])

    @property
    def state(self) -> RoutingState:
        return self.app[ROUTING_STATE]

    async def bot(self, **kwargs: Any) -> Bot:
        record, key = await BotRepo(self.app[ENGINE]).create("Test bot", **kwargs)
        return Bot(record.id, key)

    async def agent(
        self,
        bot: Bot | list[Bot],
        *,
        capacity: int = 3,
        email: str | None = None,
        teams: list[str] | None = None,
        name: str | None = None,
    ) -> AgentRecord:
        bots = bot if isinstance(bot, list) else [bot]
        email = email or f"agent{len(self.clients)}-{time.monotonic_ns()}@example.com"
        return await AgentRepo(self.app[ENGINE]).create(
            email,
            "s3cret-pass",
            name=name,
            bots=[b.id for b in bots],
            capacity=capacity,
            teams=teams,
        )

    async def handoff(self, bot: Bot, **body: Any) -> dict[str, Any]:
        async with self.http.post(
            f"{self.url}/api/v1/bots/{bot.id}/handoff",
            json=body,
            headers={"Authorization": f"Bearer {bot.api_key}"},
        ) as resp:
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    async def login(self, email: str, password: str = "s3cret-pass") -> str:
        async with self.http.post(
            f"{self.url}/api/v1/auth/login", json={"email": email, "password": password}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])

    async def _connect(self, namespace: str, auth: Any = None) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        rec = Recorder()

        async def catch_all(event: str, *args: Any) -> None:
            await rec.add(event, args[0] if args else None)

        sio.on("*", catch_all, namespace=namespace)
        await sio.connect(
            self.url,
            namespaces=[namespace],
            auth=auth,
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )
        client = Client(sio, rec, namespace)
        self.clients.append(client)
        return client

    async def widget(
        self, conversation_id: str | None = None, bot: Bot | None = None, **extra: Any
    ) -> Client:
        """A widget socket; bound with ``username`` when given a conversation."""
        client = await self._connect("/live_agent")
        await client.rec.wait("startConversation")
        if conversation_id is not None:
            assert bot is not None
            ack = await client.call(
                "username", {"ConversationID": conversation_id, "BotID": bot.id, **extra}
            )
            assert ack["ok"], ack
        return client

    async def live_pair(self, bot: Bot) -> tuple[str, Client, Client]:
        """A new conversation of ``bot`` with its widget bound and an online agent assigned."""
        sock = await self.agent_socket(await self.agent(bot))
        cid = (await self.handoff(bot))["ConversationID"]
        widget = await self.widget(cid, bot)
        await sock.rec.wait("conversation_assigned")
        return cid, widget, sock

    async def refused_agent_connect(self, auth: Any) -> Any:
        """The connect error an ``/agent`` socket with ``auth`` is refused with."""
        sio = socketio.AsyncClient(reconnection=False)
        refusals: list[Any] = []

        async def refused(data: Any) -> None:
            refusals.append(data)

        sio.on("connect_error", refused, namespace="/agent")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                self.url,
                namespaces=["/agent"],
                auth=auth,
                transports=["websocket"],
                wait_timeout=TIMEOUT,
            )
        await sio.disconnect()
        assert refusals, "the connection was refused without a connect_error"
        return refusals[0]

    async def agent_socket(
        self, agent: AgentRecord, *, online: bool = True, capacity: int | None = None
    ) -> Client:
        token = await self.login(agent.email)
        client = await self._connect("/agent", auth={"token": token})
        if online:
            ack = await client.call("set_status", {"status": "online", "capacity": capacity})
            assert ack["ok"], ack
        return client


async def fail_updates_of(server: Server, conversation_id: str) -> None:
    """A real database error (a trigger) whenever the conversation is updated, on SQLite or
    PostgreSQL; :func:`heal_updates` drops it."""
    if server.settings.resolved_database_url().startswith("sqlite"):
        ddl = [
            "CREATE TRIGGER fail_one BEFORE UPDATE ON conversations WHEN old.id = "
            f"'{conversation_id}' BEGIN SELECT RAISE(ABORT, 'disk hiccup'); END"
        ]
    else:
        ddl = [
            "CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF OLD.id = '{conversation_id}' THEN RAISE EXCEPTION 'disk hiccup'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER fail_one BEFORE UPDATE ON conversations "
            "FOR EACH ROW EXECUTE FUNCTION fail_one()",
        ]
    async with server.app[ENGINE].begin() as conn:
        for statement in ddl:
            await conn.execute(sql_text(statement))


async def heal_updates(server: Server) -> None:
    """Drop what :func:`fail_updates_of` made."""
    sqlite = server.settings.resolved_database_url().startswith("sqlite")
    async with server.app[ENGINE].begin() as conn:
        if sqlite:
            await conn.execute(sql_text("DROP TRIGGER fail_one"))
        else:
            await conn.execute(sql_text("DROP TRIGGER fail_one ON conversations"))
            await conn.execute(sql_text("DROP FUNCTION fail_one()"))


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    port = free_port()
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "data_dir": tmp_path,
        "secret_key": "test-secret-key-for-signing-tokens",
        "sweep_interval_seconds": 3600,  # tests drive timers with service.sweep(now)
        **overrides,
    }
    return Settings(**values)


async def start_server(
    settings: Settings, *, shutdown_timeout: float = 60.0
) -> tuple[web.AppRunner, Server]:
    """``shutdown_timeout``: how long stopping waits for open connections (a browser's
    WebSocket stays open until the server goes)."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = Server(f"http://{settings.host}:{settings.port}", app, settings, ClientSession())
    return runner, server


async def stop_server(runner: web.AppRunner, server: Server) -> None:
    for client in server.clients:
        if client.sio.connected:
            await client.close()
    await server.http.close()
    await runner.cleanup()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "backend" in metafunc.fixturenames and module in CORE_MODULES:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


async def redis_or_skip(*, decode: bool = True) -> Redis:
    """A client of the test Redis; skips without one, unless CI=true (then it fails)."""
    client = Redis.from_url(REDIS_URL, decode_responses=decode, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (with CI=true this fails): {exc}")
    return client


async def drop_prefix(client: Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (never a FLUSHDB: others share this Redis)."""
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)


def unique_prefix() -> str:
    return f"handoff-test-{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the test Redis, its keys deleted afterwards."""
    client = await redis_or_skip()
    prefix = unique_prefix()
    try:
        yield prefix
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings of the backend under test (see :data:`BACKENDS`); embedded unless
    the module is one of :data:`CORE_MODULES`."""
    name = getattr(request, "param", "embedded")
    if name == "embedded":
        return {}
    return {
        "database_url": request.getfixturevalue("migrated_postgres_url"),
        "redis_url": REDIS_URL,
        "redis_prefix": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture
async def server(tmp_path: Path, backend: dict[str, Any]) -> AsyncIterator[Server]:
    runner, srv = await start_server(make_settings(tmp_path, **backend))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    base = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        admin = await asyncpg.connect(base, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable at {base} (with CI=true this fails): {exc}")
    name = f"handoff_test_{os.getpid()}_{time.monotonic_ns()}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _admin_connection() -> Any:
    import asyncpg

    base = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        return await asyncpg.connect(base, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable at {base} (with CI=true this fails): {exc}")


def _database_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per test session, copied by
    :func:`migrated_postgres_url` (a copy costs far less than running the migrations)."""
    from handoff.storage.migrate import upgrade

    name = f"handoff_template_{os.getpid()}_{time.monotonic_ns()}"

    async def make() -> None:
        admin = await _admin_connection()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await upgrade(_database_url(name))

    async def drop() -> None:
        admin = await _admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(make())
    try:
        yield name
    finally:
        asyncio.run(drop())


@pytest.fixture
async def migrated_postgres_url(postgres_template: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database with the schema in place, dropped afterwards."""
    admin = await _admin_connection()
    name = f"handoff_test_{os.getpid()}_{time.monotonic_ns()}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
        yield _database_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_server(tmp_path: Path, postgres_url: str) -> AsyncIterator[Server]:
    runner, srv = await start_server(make_settings(tmp_path, database_url=postgres_url))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)
