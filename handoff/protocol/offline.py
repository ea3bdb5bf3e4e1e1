"""Leave a message: what a person leaves when nobody can take the conversation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from handoff.protocol.rest import CONVERSATION_ID_PATTERN, RestBody

__all__ = [
    "MAX_OFFLINE_MESSAGES_SHOWN",
    "MAX_USER_BYTES",
    "LeaveMessageRequest",
    "OfflineMessageView",
]

MAX_USER_BYTES = 4096
"""The ``user`` object, as JSON, at most."""
MAX_OFFLINE_MESSAGES_SHOWN = 50
"""Offline messages an agent's ``queue`` answer carries at most (the newest)."""


class LeaveMessageRequest(RestBody):
    """``POST /api/v1/bots/{bot_id}/handoff/messages``."""

    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=CONVERSATION_ID_PATTERN
    )
    user: dict[str, Any] = Field(default_factory=dict)
    contact: str = Field(min_length=1, max_length=320)
    """How to reach the person: an email address, a phone number, ... (not checked)."""
    message: str = Field(min_length=1, max_length=4000)

    @field_validator("user")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MAX_USER_BYTES:
            raise ValueError(f"is over {MAX_USER_BYTES} bytes as JSON")
        return value


class OfflineMessageView(BaseModel):
    """A stored message; agents see it in their ``queue`` answer as ``offline_messages``
    until one of them marks it handled."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["offline_message"] = "offline_message"
    bot_id: str
    conversation_id: str | None
    user: dict[str, Any]
    contact: str
    message: str
    created_at: datetime
    handled_at: datetime | None = None
    """When an agent marked it handled (the ``queue`` answer then leaves it out)."""
    handled_by: str | None = None
    """The id of that agent."""
