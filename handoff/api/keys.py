"""Typed application keys for the resources handlers need."""

from __future__ import annotations

from aiohttp import web

from handoff.actions.service import ActionService
from handoff.config import Settings
from handoff.ratelimit import BucketMap
from handoff.routing.service import HandoffService
from handoff.security import TokenSigner

__all__ = ["ACTIONS", "LOGIN_THROTTLE", "SERVICE", "SETTINGS", "SIGNER"]

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", HandoffService)
SIGNER = web.AppKey("signer", TokenSigner)
LOGIN_THROTTLE = web.AppKey("login_throttle", BucketMap)
ACTIONS = web.AppKey("actions", ActionService)
