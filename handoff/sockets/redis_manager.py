"""python-socketio's Redis manager: made for a deployment's prefix, and closed with the app.

With ``HANDOFF_REDIS_URL`` set, every process of a deployment publishes its emits on one
Redis channel, ``<HANDOFF_REDIS_PREFIX>socketio``, and hears the others' there; a second
deployment (or a test) on the same Redis uses another prefix and so another channel.

python-socketio starts the manager's listening task at the first connection and never
stops it nor closes its Redis connections: :func:`close_manager` does, when the app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio

from handoff.sockets.engine import SocketServer
from handoff.storage.redis_keys import RedisKeys

__all__ = ["close_manager", "redis_manager"]


def redis_manager(url: str, keys: RedisKeys) -> object:
    """The client manager sharing rooms and emits through Redis at ``url``."""
    return socketio.AsyncRedisManager(url, channel=keys.socketio_channel)


async def close_manager(sio: SocketServer) -> None:
    """Stop the manager's listening task and close its Redis connections, if it has any."""
    manager: Any = getattr(sio, "manager", None)
    task = getattr(manager, "thread", None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    pubsub = getattr(manager, "pubsub", None)
    if pubsub is not None:
        await pubsub.aclose()
    redis = getattr(manager, "redis", None)
    if redis is not None:
        await redis.aclose()
