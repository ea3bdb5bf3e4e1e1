"""``/healthz`` and ``/metrics``: what an operator's load balancer and scraper read."""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from handoff.api.keys import PUBSUB_HEALTH, SERVICE
from handoff.api.middleware import json_response
from handoff.errors import StorageUnavailable
from handoff.metrics import PROCESS_INFO, QUEUE_LENGTH, QUEUE_LONGEST_WAIT

__all__ = ["healthz", "metrics", "process_info"]

_RETRY_AFTER = 5


async def healthz(request: web.Request) -> web.Response:
    """``200 {"status": "ok"}``; ``503`` with ``Retry-After`` and the reason otherwise.

    ``failing``: the database cannot take writes. ``degraded``: this process cannot
    reach Redis or does not hear its Socket.IO channel (``redis`` names why).
    """
    body: dict[str, Any] = {"status": "ok"}
    retry_after: int | None = None
    try:
        await request.app[SERVICE].health()
    except StorageUnavailable as exc:
        body = {"status": "failing", "database": "failing", "error": exc.to_wire()}
        retry_after = exc.retry_after
    pubsub = request.app.get(PUBSUB_HEALTH)
    if pubsub is not None:
        body["redis"] = pubsub.describe()
        if not pubsub.ok:
            if body["status"] == "ok":
                body["status"] = "degraded"
            retry_after = retry_after or _RETRY_AFTER
    if retry_after is None:
        return json_response(body)
    response = json_response(body, status=503)
    response.headers["Retry-After"] = str(retry_after)
    return response


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; the per-bot queue gauges are read from the routing state now."""
    queues = await request.app[SERVICE].stats.queues()
    QUEUE_LENGTH.clear()  # a deleted bot's series ends
    QUEUE_LONGEST_WAIT.clear()
    for bot_id, length, longest in queues:
        QUEUE_LENGTH.labels(bot_id).set(length)
        QUEUE_LONGEST_WAIT.labels(bot_id).set(longest or 0.0)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def process_info(host_id: str | None) -> None:
    """Set ``handoff_process_info{pid, host_id}`` for this process."""
    PROCESS_INFO.labels(str(os.getpid()), host_id or "").set(1)
