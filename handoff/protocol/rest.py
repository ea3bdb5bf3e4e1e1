"""Bodies of the REST API under ``/api/v1``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import AgentView, ConversationView, Count, Priority
from handoff.protocol.events import WIDGET_NAMESPACE, WidgetNamespaceName

__all__ = [
    "CONVERSATION_ID_PATTERN",
    "MAX_PACKET_PART_BYTES",
    "MAX_USER_BYTES",
    "BotTranscriptLine",
    "BoundedDict",
    "HandoffRequest",
    "HandoffResponse",
    "LoginRequest",
    "LoginResponse",
    "RestBody",
    "SocketInfo",
    "UserDict",
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


MAX_USER_BYTES = 4096
"""The person's details as JSON, at most: they travel in every queue entry agents see."""


MAX_PACKET_PART_BYTES = 16 * 1024
"""Entities or an error record as JSON, at most."""

# Sizes in bytes, which JSON Schema cannot say: checked by the handlers (413, naming the field).
UserDict = dict[str, Any]
"""The person's details (name, email, ...): a JSON object of at most 4 KB."""
BoundedDict = dict[str, Any]
"""Entities or an error record: a JSON object of at most 16 KB."""


class BotTranscriptLine(RestBody):
    """One line of the person's conversation with the bot, as the bot has it."""

    sender: Literal["user", "bot"]
    message: str = Field(max_length=4_000)


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
    user: UserDict = Field(default_factory=dict)
    reason: str | None = Field(default=None, max_length=500)
    entities: BoundedDict = Field(default_factory=dict)
    team: str | None = Field(default=None, min_length=1, max_length=100)
    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    """An agent to hand to (see docs/bot-api.md for when it is honoured)."""
    priority: Priority = "normal"
    transcript: list[BotTranscriptLine] | None = Field(default=None, max_length=10_000)
    """The bot's transcript; given, the widget is not asked for one. At most
    ``HANDOFF_MAX_TRANSCRIPT_MESSAGES`` lines (500 by default)."""
    error: BoundedDict | None = None
    """A bot break that made the bot escalate (kind, message, ...), shown to the agent."""
    language_code: str | None = Field(default=None, min_length=2, max_length=35)
    """The language of ``messages`` in the answer (English when it has no texts)."""


class SocketInfo(BaseModel):
    url: str
    namespace: WidgetNamespaceName = WIDGET_NAMESPACE


class HandoffResponse(BaseModel):
    ConversationID: str
    BotID: str
    state: str
    socket: SocketInfo
    conversation: ConversationView
    queue_position: Count
    """Where it stands in the queue (where it will stand when its widget binds, if not yet)."""
    estimated_wait_seconds: float | None
    language: str
    language_fallback: bool
    messages: list[dict[str, Any]]
    """Chat elements (HSL) to show the person, from dialogues/execute_handoff.yaml."""
