"""Shapes shared by both namespaces and the REST API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_INT",
    "PRIORITIES",
    "VARIABLE_NAME_PATTERN",
    "AgentView",
    "CloseReason",
    "ConversationState",
    "ConversationView",
    "Count",
    "HandoffPacket",
    "MessageView",
    "Outcome",
    "OutcomeStatus",
    "Priority",
    "QueueEntryView",
    "Seq",
    "TranscriptItem",
    "Version",
]

MAX_INT: Final = 2**31 - 1
"""The largest integer any model takes: what a 32-bit database column (PostgreSQL's
``integer``, which holds sequence numbers and versions) can store. Anything larger
is refused as ``invalid_payload`` before it reaches a query."""

Seq = Annotated[int, Field(ge=0, le=MAX_INT)]
"""A message sequence number (0 means "before the first")."""
Version = Annotated[int, Field(ge=1, le=MAX_INT)]
"""A saved custom-action version, from 1."""
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
"""A count or a position."""

Sender = Literal["user", "agent", "system"]

Priority = Literal["low", "normal", "high", "urgent"]
"""How soon a conversation should be taken: a higher one goes ahead in the queue."""
PRIORITIES: Final[dict[str, int]] = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
"""Each priority's rank in the queue (higher first; first come, first served within one)."""


class ConversationState(StrEnum):
    """Where a conversation is in its life; the moves between them are ``routing.lifecycle``'s."""

    PENDING = "pending"
    """``execute_handoff`` created it; no widget has bound yet."""
    QUEUED = "queued"
    """A widget is bound and the conversation waits for an agent."""
    ASSIGNED = "assigned"
    """An agent has it (transfers keep it here)."""
    CLOSED = "closed"


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    ABANDONED = "abandoned"
    NO_AGENT = "no_agent"
    TIMEOUT = "timeout"


class OutcomeStatus(StrEnum):
    """How the agent left it: done, a follow-up is owed, or the bot takes over again."""

    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    BACK_TO_BOT = "back_to_bot"


VARIABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
"""A hand-back variable's name: an identifier, as dialogue templates and branches use it."""

_VariableName = Annotated[str, Field(pattern=VARIABLE_NAME_PATTERN)]
_VariableValue = Annotated[str, Field(max_length=1000)]


class Outcome(BaseModel):
    """The typed end an agent gives a conversation (``close {conversation_id, outcome}``).

    ``status == "back_to_bot"`` with ``variables`` is what a bot's flow resumes with.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: OutcomeStatus
    note: str | None = Field(default=None, max_length=2000)
    variables: dict[_VariableName, _VariableValue] = Field(default_factory=dict, max_length=50)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class TranscriptItem(BaseModel):
    """One line of the user–bot conversation as the widget reports it (untrusted)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    sender: Literal["user", "bot"]
    message: str = Field(max_length=4_000)


class MessageView(_Out):
    conversation_id: str
    seq: Seq
    sender: Sender
    text: str
    sent_at: datetime
    agent_id: str | None = None
    client_msg_id: str | None = None


class HandoffPacket(_Out):
    """Everything the bot sent with ``execute_handoff``: what an agent sees of the handoff."""

    user: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    entities: dict[str, Any] = Field(default_factory=dict)
    team: str | None = None
    agent_id: str | None = None
    """The agent the bot asked for (see docs/bot-api.md, execute_handoff)."""
    priority: Priority = "normal"
    transcript: Count = 0
    """Lines of bot transcript the bot sent; 0: the widget is asked for it on assignment."""
    error: dict[str, Any] | None = None
    """Why the bot gave up, when a bot break escalated (the dialogue runtime fills it)."""


class ConversationView(_Out):
    conversation_id: str
    bot_id: str
    state: ConversationState
    agent_id: str | None = None
    team: str | None = None
    user: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    entities: dict[str, Any] = Field(default_factory=dict)
    close_reason: CloseReason | None = None
    outcome: Outcome | None = None
    """Set when an agent closed it (``close_reason == "resolved"``)."""
    created_at: datetime
    queued_at: datetime | None = None
    assigned_at: datetime | None = None
    closed_at: datetime | None = None
    priority: Priority = "normal"
    handoff_packet: HandoffPacket = Field(default_factory=HandoffPacket)
    tags: list[str] = Field(default_factory=list)
    """The agents' labels (``PUT /api/v1/conversations/{conversation_id}/tags``)."""


class QueueEntryView(_Out):
    conversation_id: str
    bot_id: str
    position: Count
    team: str | None = None
    enqueued_at: float
    user: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    priority: Priority = "normal"
    handoff_packet: HandoffPacket = Field(default_factory=HandoffPacket)


class AgentView(_Out):
    id: str
    email: str
    name: str
    role: str
    capacity: Count
    bots: list[str]
    status: str = "offline"
    load: Count = 0
