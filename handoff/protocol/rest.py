"""Bodies of the REST API under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import AgentView, ConversationView
from handoff.protocol.events import WIDGET_NAMESPACE, WidgetNamespaceName

__all__ = [
    "CONVERSATION_ID_PATTERN",
    "HandoffRequest",
    "HandoffResponse",
    "LoginRequest",
    "LoginResponse",
    "RestBody",
    "SocketInfo",
    "integral",
]

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
"""A bot's own ``ConversationID``: 8-128 of these characters (pydantic's "$" is the very end)."""


def integral(value: object) -> object:
    """JSON Schema's "integer" includes ``5.0``, which strict ``int`` alone refuses.

    For an int field of a :class:`RestBody`: ``Annotated[int, Field(ge=1, le=9),
    BeforeValidator(integral)]`` takes ``5`` and ``5.0``, never ``"5"`` or ``true``. The
    bounds go before the validator, or the document gets no ``minimum``/``maximum``.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RestBody(BaseModel):
    """A REST request body: no unknown fields, and each value of the JSON type the
    OpenAPI document gives it (strict: ``"5"`` is no number, ``0`` no boolean, ``123``
    no string), so the server refuses what the document refuses."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LoginRequest(RestBody):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    device_token: str | None = Field(default=None, max_length=1024)
    """The known-device token from an earlier sign-in on this device (or its cookie)."""


class LoginResponse(BaseModel):
    token: str
    agent: AgentView
    device_token: str
    """Keep it and send it with later sign-ins: failures of others cannot lock this device out."""


class HandoffRequest(RestBody):
    """``execute_handoff``: the bot asks for a human."""

    # A number is refused (strict), not turned into a string.
    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=CONVERSATION_ID_PATTERN
    )
    user: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(default=None, max_length=500)
    entities: dict[str, Any] = Field(default_factory=dict)
    team: str | None = Field(default=None, min_length=1, max_length=100)


class SocketInfo(BaseModel):
    url: str
    namespace: WidgetNamespaceName = WIDGET_NAMESPACE


class HandoffResponse(BaseModel):
    ConversationID: str
    BotID: str
    state: str
    socket: SocketInfo
    conversation: ConversationView
