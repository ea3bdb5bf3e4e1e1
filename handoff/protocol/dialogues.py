"""REST bodies of the dialogue runtime: ``/api/v1/bots/{bot_id}/converse`` and ``/dialogue``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handoff.protocol.rest import CONVERSATION_ID_PATTERN, RestBody, SocketInfo

__all__ = [
    "ConverseHandoff",
    "ConverseRequest",
    "ConverseResponse",
    "DialogueView",
    "SessionView",
]


class ConverseRequest(RestBody):
    """One turn: the person's ``message`` (free text) or a button's ``payload``; neither
    starts the flow (or shows the current step again)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"not": {"required": ["message", "payload"]}},
    )

    ConversationID: str = Field(min_length=8, max_length=128, pattern=CONVERSATION_ID_PATTERN)
    message: str | None = Field(default=None, min_length=1, max_length=4000)
    payload: str | None = Field(default=None, min_length=1, max_length=1000)
    user: dict[str, Any] | None = None
    """The person (``user_id``, ``full_name``, ``language_code``, ...); left out: as stored."""

    @model_validator(mode="after")
    def _one_input(self) -> ConverseRequest:
        if self.message is not None and self.payload is not None:
            raise ValueError("send message or payload, not both")
        return self


class ConverseHandoff(BaseModel):
    """Where the widget goes: it binds ``ConversationID`` and ``BotID`` on the socket
    (the seed's ``username``)."""

    ConversationID: str
    BotID: str
    socket: SocketInfo


class SessionView(BaseModel):
    node: str | None
    entities: dict[str, str]
    variables: dict[str, Any]
    retries: int


class ConverseResponse(BaseModel):
    messages: list[dict[str, Any]]
    """What to show, as HSL elements (``TEXT``, ``BUTTON``, ``QUICK_REPLY``, ...)."""
    handoff: ConverseHandoff | None = None
    state: Literal["bot", "with_agent", "ended"]
    """``with_agent``: the widget talks over the socket until the agent ends it."""
    session: SessionView


class DialogueView(BaseModel):
    bot_id: str
    revision: int
    updated_at: datetime
    flow: dict[str, Any]
    """The flow as it was saved (JSON)."""
