"""Bodies of the REST API under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import AgentView, ConversationView
from handoff.protocol.events import WIDGET_NAMESPACE, WidgetNamespaceName

__all__ = ["HandoffRequest", "HandoffResponse", "LoginRequest", "LoginResponse", "SocketInfo"]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    device_token: str | None = Field(default=None, max_length=1024)
    """The known-device token from an earlier sign-in on this device (or its cookie)."""


class LoginResponse(BaseModel):
    token: str
    agent: AgentView
    device_token: str
    """Keep it and send it with later sign-ins: failures of others cannot lock this device out."""


class HandoffRequest(BaseModel):
    """``execute_handoff``: the bot asks for a human."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$"
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
