"""Webhooks to the bot: the events, their bodies, and the delivery records the API shows.

Every body is ``{id, type, created_at, bot_id, conversation_id, data}``; ``data``
depends on ``type``. The body is serialized once, when the event is written to the
outbox, and the same bytes are signed and sent on every attempt.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import CloseReason, Count, Outcome

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AssignedData",
    "ClosedData",
    "DeliveryList",
    "DeliveryStatus",
    "DeliveryView",
    "EventType",
    "MessageLeftData",
    "QueuedData",
    "TransferredData",
    "WebhookEvent",
    "new_event",
]

SIGNATURE_HEADER = "X-Handoff-Signature"
"""``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``; absent without a secret."""
TIMESTAMP_HEADER = "X-Handoff-Timestamp"
"""Unix seconds of this attempt (signed with the body)."""
DELIVERY_HEADER = "X-Handoff-Delivery"
"""The event's id: the same on every attempt, so receivers drop duplicates by it."""


class EventType(StrEnum):
    QUEUED = "conversation.queued"
    ASSIGNED = "conversation.assigned"
    TRANSFERRED = "conversation.transferred"
    CLOSED = "conversation.closed"
    MESSAGE_LEFT = "message.left"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class QueuedData(_Data):
    """A widget bound (``requeued`` false) or the conversation went back to the queue."""

    team: str | None = None
    requeued: bool = False


class AssignedData(_Data):
    agent_id: str
    agent_name: str | None = None
    team: str | None = None


class TransferredData(_Data):
    from_agent_id: str | None
    to_agent_id: str | None = None
    """Set for a transfer to a colleague."""
    to_team: str | None = None
    """Set for a transfer to a team's queue (a ``conversation.queued`` follows the move)."""
    note: str | None = None


class ClosedData(_Data):
    close_reason: CloseReason
    outcome: Outcome | None = None
    """What the agent set when closing; ``null`` for the other ends."""
    agent_id: str | None = None


class MessageLeftData(_Data):
    message_id: str
    user: dict[str, Any] = Field(default_factory=dict)
    contact: str
    message: str


class WebhookEvent(BaseModel):
    """One event as sent: ``X-Handoff-Delivery`` carries its ``id``."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: EventType
    created_at: datetime
    bot_id: str
    conversation_id: str | None
    data: QueuedData | AssignedData | TransferredData | ClosedData | MessageLeftData

    def body(self) -> str:
        """The exact JSON text that is stored, signed and sent."""
        return self.model_dump_json()


def new_event(
    type: EventType,
    bot_id: str,
    conversation_id: str | None,
    data: QueuedData | AssignedData | TransferredData | ClosedData | MessageLeftData,
    created_at: datetime,
) -> WebhookEvent:
    """An event with a fresh unguessable id."""
    return WebhookEvent(
        id="evt_" + secrets.token_urlsafe(16),
        type=type,
        created_at=created_at,
        bot_id=bot_id,
        conversation_id=conversation_id,
        data=data,
    )


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Not delivered yet: waiting for its turn, its next try, or in flight."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    FAILED = "failed"
    """Retried for the whole retry window without a 2xx; can be sent again."""


class DeliveryView(BaseModel):
    """One event's delivery, attempts and all (``GET .../webhooks/deliveries``)."""

    id: str
    """The event id (``X-Handoff-Delivery``)."""
    type: EventType
    conversation_id: str | None
    status: DeliveryStatus
    attempts: Count
    last_status_code: int | None
    """The HTTP status of the last answer; ``null`` when there was none (refused, timed out)."""
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    """When a pending one is tried next."""
    delivered_at: datetime | None
    event: dict[str, Any]
    """The body as sent."""


class DeliveryList(BaseModel):
    deliveries: Annotated[list[DeliveryView], Field(description="newest first")]


DeliveryFilter = Literal["pending", "delivered", "failed"]
