"""The Socket.IO channel through Redis: a process that cannot hear it says so, and recovers.

Two servers (apps in this test process, on one PostgreSQL database) share a
redis-server that the test starts on a free port, so it can kill, restart and cut it
without touching the machine's Redis. "Crossing processes" is an emit by server B into
a room that only a widget connected to server A is in: it reaches the widget only
through Redis. A process that was deaf lets its sockets go once it hears again: what
it missed is unknown, and a client that reconnects and binds is served from the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.web_app import CleanupError
from prometheus_client import REGISTRY
from redis.exceptions import RedisError

from handoff.api.keys import PUBSUB_HEALTH
from handoff.app import SIO
from handoff.protocol import events as ev
from handoff.sockets import rooms
from handoff.sockets.pubsub_health import PubSubHealth
from tests.conftest import Bot, Client, Server, make_settings, start_server, stop_server
from tests.integration.proxy import FreezingProxy
from tests.integration.services import (
    OwnRedis,
    own_redis_fixture,  # noqa: F401
)

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
async def servers(tmp_path: Path, migrated_postgres_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start a server on ``redis_url`` under this test's prefix, on one PostgreSQL database
    for all (as a deployment: the one that rebuilds a lost routing state reads every
    conversation); all stop at the end."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    started: list[tuple[Any, Server]] = []

    async def start(redis_url: str, **overrides: Any) -> Server:
        settings = make_settings(
            tmp_path / f"server{len(started)}",
            redis_url=redis_url,
            redis_prefix=prefix,
            database_url=migrated_postgres_url,
            # 3600: the test runs the round trips; 0.2: sockets are let go soon after a
            # deaf spell, at the next heartbeat.
            **{"redis_probe_interval_seconds": 3600, "heartbeat_seconds": 0.2, **overrides},
        )
        runner, server = await start_server(settings)
        started.append((runner, server))
        return server

    try:
        yield start
    finally:
        for runner, server in reversed(started):
            await stop(runner, server)


async def stop(runner: Any, server: Server) -> None:
    """Stop a server; a Redis this test restarted or cut may fail the routing state's close
    (it is reported, and everything else is closed: aiohttp runs every cleanup step)."""
    try:
        await stop_server(runner, server)
    except (RedisError, CleanupError) as exc:
        logging.getLogger(__name__).warning("stopping %s: %r", server.url, exc)


def health(server: Server) -> PubSubHealth:
    return server.app[PUBSUB_HEALTH]


async def bound_widget(server: Server) -> tuple[str, Bot, Client]:
    bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    return cid, bot, await server.widget(cid, bot)


async def let_go(server: Server, cid: str, bot: Bot, widget: Client) -> Client:
    """After a deaf spell ``server`` let the widget's socket go (it may have missed emits);
    the widget comes back, as a real one reconnects, and binds again (once the routing
    state is rebuilt, if Redis lost it)."""
    deadline = time.monotonic() + 20
    while widget.sio.connected:
        assert time.monotonic() < deadline, "the widget of a deaf process was not let go"
        await asyncio.sleep(0.05)
    widget = await server.widget()
    while True:
        ack = await widget.call("username", {"ConversationID": cid, "BotID": bot.id})
        if ack["ok"]:
            return widget
        assert ack["error"]["code"] == "state_unavailable", ack
        assert time.monotonic() < deadline, ack
        await asyncio.sleep(0.2)


async def crosses(sender: Server, cid: str, widget: Client, text: str) -> None:
    """``sender`` emits into the widget's room; the widget (on another server) gets it."""
    await sender.app[SIO].emit(
        ev.TO_USER,
        {"message": text, "sender": "system"},
        room=rooms.widget_room(cid),
        namespace=ev.WIDGET_NAMESPACE,
    )
    await widget.rec.wait(ev.TO_USER, lambda d: d["message"] == text)


async def healthz(server: Server) -> tuple[int, dict[str, Any], str | None]:
    async with server.http.get(f"{server.url}/healthz") as resp:
        return resp.status, await resp.json(), resp.headers.get("Retry-After")


async def until_healthy(*servers: Server, within: float = 20.0) -> None:
    """Run round trips (each failed one restarts its listener) until every server hears."""
    deadline = time.monotonic() + within
    for server in servers:
        while True:
            await health(server).run_once()
            if health(server).ok:
                break
            assert time.monotonic() < deadline, health(server).describe()
            await asyncio.sleep(0.1)


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_room_emit_crosses_processes_and_after_redis_kills_the_pubsub_clients(
    own_redis: OwnRedis, servers: Callable[..., Any]
) -> None:
    a = await servers(own_redis.url)
    b = await servers(own_redis.url)
    status, body, _ = await healthz(a)
    assert status == 200 and body == {"status": "ok", "redis": "ok"}
    cid, bot, widget = await bound_widget(a)
    await crosses(b, cid, widget, "before")

    killed = await own_redis.command("CLIENT", "KILL", "TYPE", "pubsub")
    assert isinstance(killed, int) and killed >= 2  # both servers' listeners
    await until_healthy(a, b)
    widget = await let_go(a, cid, bot, widget)
    await crosses(b, cid, widget, "after the kill")
    await crosses(a, cid, widget, "from its own server")  # and no duplicate of the last one
    texts = [d["message"] for d in widget.rec.of(ev.TO_USER)]
    assert texts.count("after the kill") == 1 and texts.count("from its own server") == 1


async def test_redis_restart_is_degraded_then_heard_again(
    own_redis: OwnRedis, servers: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    # This one runs the periodic round trip itself, as a deployment does.
    a = await servers(own_redis.url, redis_probe_interval_seconds=0.2)
    b = await servers(own_redis.url, redis_probe_interval_seconds=0.2)
    cid, bot, widget = await bound_widget(a)
    await crosses(b, cid, widget, "before")
    failed_publishes = metric("handoff_redis_publish_failures_total")

    caplog.set_level(logging.INFO, logger="handoff.sockets.pubsub")
    caplog.set_level(logging.INFO, logger="handoff.routing.liveness")
    await own_redis.kill()
    deadline = time.monotonic() + 20
    while (await healthz(a))[0] == 200:
        assert time.monotonic() < deadline, "/healthz never said degraded"
        await asyncio.sleep(0.1)
    status, body, retry_after = await healthz(a)
    assert status == 503 and retry_after == "5"
    assert body["status"] == "degraded" and "redis" in body and "database" not in body
    assert body["redis"] != "ok" and "since" in body["redis"], body
    assert metric("handoff_redis_up") == 0

    # An emit while Redis is away reaches this server's own sockets; the publish to the
    # others fails, and is counted (not silently dropped).
    await b.app[SIO].emit(
        ev.TO_USER, {"message": "lost"}, room="nobody", namespace=ev.WIDGET_NAMESPACE
    )
    assert metric("handoff_redis_publish_failures_total") == failed_publishes + 1

    await asyncio.sleep(1.0)  # several failed round trips: still one error per server
    errors = [
        r
        for r in caplog.records
        if r.name == "handoff.sockets.pubsub" and r.levelno == logging.ERROR
    ]
    assert len(errors) == 2, [r.getMessage() for r in errors]  # one per server

    await own_redis.start()  # same port, empty: as a restarted Redis without persistence
    deadline = time.monotonic() + 30
    while (await healthz(a))[0] != 200 or (await healthz(b))[0] != 200:
        assert time.monotonic() < deadline, (await healthz(a), await healthz(b))
        await asyncio.sleep(0.1)
    recovered = [r for r in caplog.records if "works again" in r.getMessage()]
    assert len(recovered) == 2
    widget = await let_go(a, cid, bot, widget)
    # Redis came back empty: besides the deaf spell, the routing state was lost (one of
    # them rebuilt it): each lets its sockets go once for both.
    let_go_for = [r.getMessage() for r in caplog.records if "bind again" in r.getMessage()]
    assert len(let_go_for) == 2 and all("routing state" in m for m in let_go_for), let_go_for
    await crosses(b, cid, widget, "after the restart")
    await crosses(a, cid, widget, "and the other way")
    assert metric("handoff_redis_up") == 1
    assert metric("handoff_redis_round_trip_seconds") > 0


@pytest.fixture
async def proxy(own_redis: OwnRedis) -> AsyncIterator[FreezingProxy]:
    """A proxy in front of the test's Redis; requested before ``servers``, it outlives them."""
    made = FreezingProxy(own_redis.port)
    await made.start()
    try:
        yield made
    finally:
        await made.close()


async def test_a_listener_on_a_link_gone_silent_is_restarted(
    own_redis: OwnRedis, proxy: FreezingProxy, servers: Callable[..., Any]
) -> None:
    # Server A reaches Redis through a proxy that can swallow everything without closing:
    # a connection dropped by a middlebox. python-socketio's listener would wait on it
    # forever (its issue #281), deaf and saying nothing.
    a = await servers(f"redis://127.0.0.1:{proxy.port}/0", redis_probe_timeout_seconds=1.0)
    b = await servers(own_redis.url)
    cid, bot, widget = await bound_widget(a)
    await crosses(b, cid, widget, "before")

    proxy.freeze()  # every connection open now: A's listener's and its publisher's
    await health(a).run_once()
    assert not health(a).ok
    assert "did not come back" in (health(a).reason or "") or "publish" in (health(a).reason or "")
    status, body, _ = await healthz(a)
    assert status == 503 and body["status"] == "degraded"

    await until_healthy(a)  # the restarted listener subscribed on a new connection
    widget = await let_go(a, cid, bot, widget)
    await crosses(b, cid, widget, "after the link went silent")
    status, body, _ = await healthz(a)
    assert status == 200 and body["redis"] == "ok"
    proxy.cut()  # the frozen links are dead: let whatever still holds one know


async def test_a_listener_that_is_behind_is_waited_for_not_restarted(
    own_redis: OwnRedis, servers: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process under more load than it can take reads the channel late; restarting its
    # listener then would drop what it had not read yet, and let every socket go.
    a = await servers(own_redis.url, redis_probe_timeout_seconds=0.5)
    b = await servers(own_redis.url)
    cid, _, widget = await bound_widget(a)
    await crosses(b, cid, widget, "before")
    manager = a.app[SIO].manager
    handle_emit = manager._handle_emit

    async def slowly(message: dict[str, Any]) -> None:
        await asyncio.sleep(0.02)
        await handle_emit(message)

    monkeypatch.setattr(manager, "_handle_emit", slowly)
    for i in range(100):  # 2 s of reading ahead of the probe: four of its timeouts
        await b.app[SIO].emit(
            ev.TO_USER,
            {"message": f"queued {i}", "sender": "system"},
            room=rooms.widget_room(cid),
            namespace=ev.WIDGET_NAMESPACE,
        )
    spells = manager.deaf_spells
    await health(a).run_once()
    assert health(a).ok, health(a).describe()
    assert (health(a).round_trip_seconds or 0) > 1.0  # it did wait behind the backlog
    assert manager.deaf_spells == spells and widget.sio.connected
    await widget.rec.wait(ev.TO_USER, lambda d: d["message"] == "queued 99")
    assert sum(1 for d in widget.rec.of(ev.TO_USER) if d["message"].startswith("queued")) == 100

    # A listener that reads nothing is still found out after one timeout.
    async def never(message: dict[str, Any]) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(manager, "_handle_emit", never)
    await b.app[SIO].emit(
        ev.TO_USER,
        {"message": "stuck", "sender": "system"},
        room=rooms.widget_room(cid),
        namespace=ev.WIDGET_NAMESPACE,
    )
    started = time.monotonic()
    await health(a).run_once()
    assert not health(a).ok and "did not come back within 0.5 s" in (health(a).reason or "")
    assert time.monotonic() - started < 5
    monkeypatch.setattr(manager, "_handle_emit", handle_emit)
    await until_healthy(a)
