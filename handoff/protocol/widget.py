"""Payloads of namespace ``/live_agent`` (the seed widget protocol, plus opt-in extras)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from handoff.protocol.common import Seq, TranscriptItem

__all__ = ["FromUser", "MessagesToClient", "Username", "WidgetReceived", "WidgetTyping"]

_ID = Field(min_length=1, max_length=128)


class _In(BaseModel):
    # Widgets built on other platforms may send numbers for ids and add fields
    # of their own; both are tolerated, nothing else is.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)


class Username(_In):
    """``username``: bind this socket to a conversation ``execute_handoff`` created."""

    ConversationID: str = _ID
    BotID: str = _ID
    resume_after_seq: Seq | None = None
    """Opt-in: deliver every agent message after this sequence number on (re)bind."""
    features: list[str] = Field(default_factory=list, max_length=10)
    """Opt-in extra events: ``queue``, ``typing``."""


class FromUser(_In):
    """``from_user``: a message the person typed."""

    message: str
    ConversationID: str = _ID
    BotID: str = _ID


class MessagesToClient(_In):
    """``messages_to_client``: the user–bot transcript, in answer to ``messages``."""

    messages: list[TranscriptItem]
    bot_id: str = _ID


class WidgetTyping(_In):
    """``typing`` (opt-in): the person is typing."""

    ConversationID: str = _ID
    typing: bool


class WidgetReceived(_In):
    """``received`` (opt-in): the widget has shown every agent message up to ``seq``."""

    ConversationID: str = _ID
    seq: Seq
