"""What a supervisor reads over REST: the conversations in progress of a bot.

Watching, taking over and transferring are ``/agent`` events (their payloads are in
:mod:`handoff.protocol.agent`); this is the list a dashboard shows beside them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import ConversationState, Priority

__all__ = [
    "DEFAULT_IN_PROGRESS",
    "MAX_IN_PROGRESS",
    "InProgressList",
    "InProgressQuery",
    "LiveAgent",
    "LiveConversation",
]

MAX_IN_PROGRESS: Final = 500
"""The most conversations one answer lists (``limit``); ``truncated`` says there are more."""
DEFAULT_IN_PROGRESS: Final = 100


class InProgressQuery(BaseModel):
    """The query string of ``GET /api/v1/bots/{bot_id}/conversations``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    state: Literal["queued", "assigned"] | None = None
    """Only the conversations in this state; both when left out."""
    limit: int = Field(default=DEFAULT_IN_PROGRESS, ge=1, le=MAX_IN_PROGRESS)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class LiveAgent(_Out):
    id: str
    name: str | None
    """``null`` for an agent deleted since."""


class LiveConversation(_Out):
    """One conversation in progress, as a supervisor's table shows it (untrusted: ``user``,
    ``reason``)."""

    conversation_id: str
    bot_id: str
    state: ConversationState
    """``queued`` or ``assigned``."""
    user: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    team: str | None = None
    priority: Priority = "normal"
    tags: list[str] = Field(default_factory=list)
    agent: LiveAgent | None = None
    """Who has it (``assigned``); ``null`` while it waits."""
    created_at: datetime
    queued_at: datetime | None = None
    assigned_at: datetime | None = None
    wait_seconds: float | None = None
    """How long it waited for an agent: so far, while queued (as of ``as_of``); queued to
    assigned, once assigned."""
    last_message_at: datetime | None = None
    """The last message of either side, ``null`` before the first."""


class InProgressList(_Out):
    bot_id: str
    conversations: list[LiveConversation]
    limit: int
    truncated: bool
    """More conversations are in progress than ``limit``: ask with a higher one (at most 500)."""
    as_of: datetime
    """When the list was read: a queued conversation's wait grows from here."""
