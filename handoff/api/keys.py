"""Typed application keys for the resources handlers need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from handoff.actions.service import ActionService
from handoff.config import Settings
from handoff.dialogues.presets import Presets
from handoff.ratelimit import SignInThrottle
from handoff.routing.service import HandoffService
from handoff.security import DeviceTokens, TokenSigner
from handoff.sockets.pubsub_health import PubSubHealth
from handoff.webhooks import WebhookSender

__all__ = [
    "ACTIONS",
    "DEVICES",
    "LOGIN_THROTTLE",
    "PRESETS",
    "PUBSUB_HEALTH",
    "RECHECK_AGENTS",
    "SERVICE",
    "SETTINGS",
    "SIGNER",
    "WEBHOOKS",
]

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", HandoffService)
SIGNER = web.AppKey("signer", TokenSigner)
LOGIN_THROTTLE = web.AppKey[SignInThrottle]("login_throttle")
DEVICES = web.AppKey("devices", DeviceTokens)
ACTIONS = web.AppKey("actions", ActionService)
PRESETS = web.AppKey("presets", Presets)
"""The shipped preset dialogues, loaded once at startup (a broken file fails the start)."""
WEBHOOKS = web.AppKey("webhooks", WebhookSender)
PUBSUB_HEALTH = web.AppKey("pubsub_health", PubSubHealth)
"""With ``HANDOFF_REDIS_URL``: whether this process hears the Socket.IO channel."""
RECHECK_AGENTS = web.AppKey[Callable[[], Awaitable[int]]]("recheck_agents")
"""Checks every agent socket of this process against the stored agents now (ends the
disabled and deleted ones): the admin API runs it after such a change."""
