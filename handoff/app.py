"""``create_app(settings)``: the aiohttp app, the Socket.IO server and their resources.

Nothing runs at import. Every resource is opened before ``yield`` and closed
after it in its own ``app.cleanup_ctx`` entry, in the order listed in
:func:`create_app`: database, message writer, webhook sender, pub/sub (with Redis),
routing, runner pool, housekeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.actions.runner_config import runner_config
from handoff.actions.service import ActionService, ActionSettings
from handoff.api.actions import setup_action_routes
from handoff.api.admin import setup_admin_routes
from handoff.api.console import setup_console_routes
from handoff.api.console_page import setup_console_page
from handoff.api.converse import setup_dialogues
from handoff.api.cors import cors_middleware
from handoff.api.demo import DEMO_PAGE, DEMO_PAGE_PATH, setup_demo
from handoff.api.health import process_info
from handoff.api.keys import (
    ACTIONS,
    DEVICES,
    LOGIN_THROTTLE,
    PRESETS,
    PUBSUB_HEALTH,
    RECHECK_AGENTS,
    SERVICE,
    SETTINGS,
    SIGNER,
    WEBHOOKS,
)
from handoff.api.middleware import error_middleware
from handoff.api.openapi import setup_openapi
from handoff.api.proxies import parse_networks, trusted_proxy_middleware
from handoff.api.routes import setup_routes
from handoff.api.security_headers import setup_security_headers
from handoff.api.stats import setup_stats_routes
from handoff.api.webhooks import setup_webhook_routes
from handoff.config import Settings, load_secret_key
from handoff.dialogues.presets import PRESETS_DIR, Presets
from handoff.ratelimit import LimitsSignInThrottle, SignInRules
from handoff.routing.memory_state import MemoryState
from handoff.routing.redis_state import RedisRoutingState
from handoff.routing.service import HandoffService, Stores
from handoff.routing.shared_state import RoutingState
from handoff.runner import RunnerPool
from handoff.security import DeviceTokens, TokenSigner
from handoff.sockets.agent import AgentNamespace
from handoff.sockets.engine import SocketServer, drop_transports
from handoff.sockets.notifier import SocketNotifier
from handoff.sockets.pubsub import RedisManager
from handoff.sockets.pubsub_health import PubSubHealth
from handoff.sockets.widget import WidgetNamespace
from handoff.storage.actions import ActionRepo, EnvRepo
from handoff.storage.agents import AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.canned import CannedRepo
from handoff.storage.conversations import ConversationRepo
from handoff.storage.db import checkpoint, close_engine, make_engine
from handoff.storage.details import DetailsRepo
from handoff.storage.messages import MessageRepo
from handoff.storage.migrate import upgrade
from handoff.storage.notes import NoteRepo
from handoff.storage.offline import OfflineMessageRepo
from handoff.storage.outbox import OutboxRepo, OutboxSignal
from handoff.storage.redis_keys import RedisKeys
from handoff.storage.stats import StatsRepo
from handoff.storage.teams import TeamRepo
from handoff.storage.writer import MessageWriter
from handoff.webhooks import WebhookSender

__all__ = [
    "AGENT_SOCKETS",
    "ENGINE",
    "ROUTING_STATE",
    "SIO",
    "WRITER",
    "RedisUnreachable",
    "create_app",
]

log = logging.getLogger("handoff")


class RedisUnreachable(RuntimeError):
    """The server cannot start: ``HANDOFF_REDIS_URL`` is set and Redis does not answer."""


SIO = web.AppKey("sio", SocketServer)
ENGINE = web.AppKey("engine", AsyncEngine)
WRITER = web.AppKey("writer", MessageWriter)
ROUTING_STATE = web.AppKey("routing_state", RoutingState)
AGENT_SOCKETS = web.AppKey("agent_sockets", AgentNamespace)
_STATIC = Path(__file__).parent / "console"


def _socket_server(settings: Settings) -> SocketServer:
    manager = None
    if settings.redis_url:
        manager = RedisManager(
            settings.redis_url,
            channel=RedisKeys(settings.redis_prefix).socketio_channel,
            timeout=settings.redis_probe_timeout_seconds,
        )
    origins = "*" if "*" in settings.cors_origins else settings.cors_origins
    return SocketServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=origins,
        # One event at a time per connection: a person's messages keep their order.
        async_handlers=False,
        max_http_buffer_size=settings.max_packet_bytes,
        http_compression=False,
        logger=False,
        engineio_logger=False,
    )


def create_app(
    settings: Settings, *, migrate: bool = True, presets_dir: Path = PRESETS_DIR
) -> web.Application:
    """The whole server for ``settings``; resources open when the app starts.

    ``presets_dir``: where the preset dialogues are read from (the shipped ones).

    Each resource has its own cleanup context, so a start that fails half way
    closes, in reverse, exactly what was opened before it.
    """
    app = web.Application(
        middlewares=[
            trusted_proxy_middleware(parse_networks(settings.trusted_proxies)),
            cors_middleware(settings.cors_origins),
            error_middleware,
        ],
        client_max_size=1024 * 1024,
    )
    # A signal, not a middleware: it also reaches responses prepared inside a handler
    # (static files, with their final content type; the WebSocket upgrade).
    setup_security_headers(app, _STATIC, "/console/", {DEMO_PAGE_PATH: DEMO_PAGE})
    app[SETTINGS] = settings
    secret_key = load_secret_key(settings)
    app[SIGNER] = TokenSigner(secret_key, max_age_seconds=settings.token_ttl_seconds)
    app[DEVICES] = DeviceTokens(secret_key, max_age_seconds=settings.login_device_ttl_seconds)
    rules = SignInRules.parse(
        settings.login_failures_per_account_address,
        settings.login_failures_per_address,
        settings.login_failures_per_account,
    )
    throttle = LimitsSignInThrottle(rules)
    if settings.redis_url:  # failed sign-ins count on every process
        throttle = LimitsSignInThrottle.on_redis(
            rules,
            settings.redis_url,
            key_prefix=RedisKeys(settings.redis_prefix).limits,
            timeout=settings.redis_probe_timeout_seconds,
        )
    app[LOGIN_THROTTLE] = throttle
    # Read and checked here, before anything opens: a bad file stops the start with
    # the file and the field (PresetError).
    app[PRESETS] = Presets.load(presets_dir)
    sio = _socket_server(settings)
    app[SIO] = sio
    sio.attach(app)

    async def let_sockets_go(app: web.Application) -> None:
        # On SIGTERM, once the server stopped accepting and before it waits for the
        # requests in progress: cut every Engine.IO connection, so that clients reconnect
        # (to another process, behind a load balancer) now, and the WebSockets and
        # long-polls end. Otherwise the stop waits until Engine.IO's ping timeout ends
        # them (24 s with a long-poll pending, 44 s with a WebSocket, measured).
        closed = await drop_transports(sio)
        if closed:
            log.info("stopping: %d sockets let go, to reconnect elsewhere", closed)

    app.on_shutdown.append(let_sockets_go)

    async def database(app: web.Application) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        if migrate:
            await upgrade(url)
        engine = make_engine(url)
        app[ENGINE] = engine
        try:
            yield
        finally:
            await close_engine(engine)

    async def message_writer(app: web.Application) -> AsyncIterator[None]:
        engine = app[ENGINE]
        writer = MessageWriter(engine, MessageRepo(engine))
        writer.start()
        app[WRITER] = writer
        try:
            yield
        finally:
            await writer.close()

    # Repositories that write webhook events set it after their commit; the sender waits on it.
    outbox_signal = OutboxSignal()

    async def webhooks(app: web.Application) -> AsyncIterator[None]:
        sender = WebhookSender(OutboxRepo(app[ENGINE]), outbox_signal, settings)
        await sender.start()
        app[WEBHOOKS] = sender
        try:
            yield
        finally:
            await sender.aclose()

    async def pubsub(app: web.Application) -> AsyncIterator[None]:
        # With Redis: the Socket.IO channel's listener, watched by a round trip to itself.
        manager = sio.manager
        process_info(getattr(manager, "host_id", None))
        if not isinstance(manager, RedisManager):
            yield
            return
        health = PubSubHealth(manager)
        app[PUBSUB_HEALTH] = health
        try:
            await health.start(within=settings.redis_probe_timeout_seconds)
            yield
        finally:
            await manager.aclose()
            await throttle.aclose()

    async def routing(app: web.Application) -> AsyncIterator[None]:
        engine = app[ENGINE]
        state: RoutingState = MemoryState()
        if settings.redis_url:
            state = RedisRoutingState.from_url(settings.redis_url, prefix=settings.redis_prefix)
        app[ROUTING_STATE] = state
        try:
            service = HandoffService(
                settings,
                bots=BotRepo(engine),
                stores=Stores(
                    agents=AgentRepo(engine),
                    conversations=ConversationRepo(engine, outbox=outbox_signal),
                    messages=MessageRepo(engine),
                    writer=app[WRITER],
                    offline=OfflineMessageRepo(engine, outbox=outbox_signal),
                    notes=NoteRepo(engine),
                    canned=CannedRepo(engine),
                    stats=StatsRepo(engine),
                    teams=TeamRepo(engine),
                ),
                state=state,
                notifier=SocketNotifier(sio),
                presets=app[PRESETS],
            )
            app[SERVICE] = service
            sio.register_namespace(WidgetNamespace(service, settings))
            agents = AgentNamespace(service, settings, app[SIGNER])
            app[AGENT_SOCKETS] = agents
            app[RECHECK_AGENTS] = agents.recheck
            sio.register_namespace(agents)
            try:
                await state.heartbeat(service.heartbeat_ttl)
            except RedisError as exc:
                raise RedisUnreachable(f"HANDOFF_REDIS_URL: Redis does not answer: {exc}") from None
            await service.recover()
            yield
        finally:
            await state.close()

    async def runner_pool(app: web.Application) -> AsyncIterator[None]:
        engine = app[ENGINE]
        config = runner_config(settings)
        pool = RunnerPool(config)
        try:
            await pool.start()
            app[ACTIONS] = ActionService(
                actions=ActionRepo(engine),
                env=EnvRepo(engine),
                details=DetailsRepo(engine),
                pool=pool,
                settings=ActionSettings(
                    env_value_max_chars=settings.env_value_max_chars,
                    conversation_details_ttl=timedelta(
                        seconds=settings.conversation_details_ttl_seconds
                    ),
                    log_retention=timedelta(seconds=settings.action_log_retention_seconds),
                    limits=config.detail_limits,
                ),
            )
            yield
        finally:
            await pool.aclose()

    async def housekeeping(app: web.Application) -> AsyncIterator[None]:
        engine = app[ENGINE]
        tasks = [
            asyncio.create_task(_every(settings.sweep_interval_seconds, app[SERVICE].sweep)),
            asyncio.create_task(_every(settings.heartbeat_seconds, app[SERVICE].heartbeat)),
            asyncio.create_task(_every(settings.agent_recheck_seconds, app[AGENT_SOCKETS].recheck)),
            asyncio.create_task(_every(600.0, app[ACTIONS].purge)),
            asyncio.create_task(_every(1.0, lambda: checkpoint(engine))),
        ]
        if PUBSUB_HEALTH in app:
            probe = app[PUBSUB_HEALTH].run_once
            tasks.append(asyncio.create_task(_every(settings.redis_probe_interval_seconds, probe)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.cleanup_ctx.extend(
        [database, message_writer, webhooks, pubsub, routing, runner_pool, housekeeping]
    )
    setup_routes(app)
    setup_action_routes(app)
    setup_webhook_routes(app)
    setup_console_routes(app)
    setup_stats_routes(app)
    setup_admin_routes(app)
    setup_dialogues(app, ENGINE)
    setup_demo(app, ENGINE)
    setup_openapi(app)
    if _STATIC.is_dir():
        setup_console_page(app, _STATIC, "/console/")
    return app


async def _every(interval: float, step: Callable[[], Awaitable[object]]) -> None:
    """Run a housekeeping step forever; one failed pass is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await step()
        except Exception:
            log.exception("%s failed", getattr(step, "__qualname__", step))
