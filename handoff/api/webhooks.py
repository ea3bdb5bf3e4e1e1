"""REST handlers of webhook deliveries and of "leave a message"."""

from __future__ import annotations

import json

from aiohttp import web

from handoff.api.auth import bot_from_request
from handoff.api.keys import SERVICE, WEBHOOKS
from handoff.api.middleware import json_body, json_response
from handoff.errors import BadRequest, Conflict, NotFound
from handoff.protocol.offline import LeaveMessageRequest
from handoff.protocol.webhooks import DeliveryList, DeliveryStatus, DeliveryView, EventType
from handoff.storage.db import utcnow
from handoff.storage.outbox import Row

__all__ = ["setup_webhook_routes"]

_PREFIX = "/api/v1/bots/{bot_id}"
MAX_LIMIT = 500


def _view(row: Row) -> DeliveryView:
    return DeliveryView(
        id=row.event_id,
        type=EventType(row.type),
        conversation_id=row.conversation_id,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
        next_attempt_at=row.next_attempt_at if row.status is DeliveryStatus.PENDING else None,
        delivered_at=row.delivered_at,
        event=json.loads(row.body),
    )


async def list_deliveries(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    raw_status = request.query.get("status")
    status: DeliveryStatus | None = None
    if raw_status is not None:
        try:
            status = DeliveryStatus(raw_status)
        except ValueError:
            raise BadRequest(
                "status must be pending, delivered or failed", field="status"
            ) from None
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1 to {MAX_LIMIT}", field="limit")
    rows = await request.app[WEBHOOKS].outbox.list(bot.id, status=status, limit=limit)
    return json_response(DeliveryList(deliveries=[_view(r) for r in rows]))


async def retry_delivery(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    sender = request.app[WEBHOOKS]
    event_id = request.match_info["delivery_id"]
    if not await sender.outbox.retry(bot.id, event_id, utcnow()):
        row = await sender.outbox.get(bot.id, event_id)
        if row is None:  # also another bot's: not told apart, so ids do not leak
            raise NotFound("no such delivery", field="delivery_id", code="unknown_delivery")
        raise Conflict(
            "this event was delivered already", field="delivery_id", code="already_delivered"
        )
    sender.wake()
    row = await sender.outbox.get(bot.id, event_id)
    assert row is not None
    return json_response(_view(row))


async def leave_message(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    body = await json_body(request, LeaveMessageRequest)
    stored = await request.app[SERVICE].leave_message(
        bot,
        conversation_id=body.ConversationID,
        user=body.user,
        contact=body.contact,
        message=body.message,
    )
    return json_response(stored, status=201)


def setup_webhook_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(_PREFIX + "/webhooks/deliveries", list_deliveries)
    r.add_post(_PREFIX + "/webhooks/deliveries/{delivery_id}/retry", retry_delivery)
    r.add_post(_PREFIX + "/handoff/messages", leave_message)
