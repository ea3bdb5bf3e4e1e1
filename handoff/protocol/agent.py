"""Payloads of namespace ``/agent``. Requests are answered through acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from handoff.protocol.common import Outcome, OutcomeStatus, Seq

__all__ = [
    "Accept",
    "Close",
    "History",
    "QueueRequest",
    "SendMessage",
    "SetStatus",
    "TakeOver",
    "Transfer",
    "Typing",
    "UnwatchConversation",
    "WatchConversation",
    "error_ack",
    "ok_ack",
]

_ID = Field(min_length=1, max_length=128)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class SetStatus(_In):
    status: Literal["online", "away", "offline"]
    capacity: int | None = Field(default=None, ge=0, le=100)


class QueueRequest(_In):
    bot_id: str | None = None


class Accept(_In):
    conversation_id: str = _ID


class SendMessage(_In):
    conversation_id: str = _ID
    text: str = Field(min_length=1)
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=128)


class Typing(_In):
    conversation_id: str = _ID
    typing: bool


class Transfer(_In):
    conversation_id: str = _ID
    to_agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    # Checked even when absent: the one-target rule below is its validator.
    to_team: str | None = Field(default=None, min_length=1, max_length=100, validate_default=True)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("to_team")
    @classmethod
    def _one_target(cls, to_team: str | None, info: ValidationInfo) -> str | None:
        # A field validator, not a model one, so the error names a field.
        if "to_agent_id" not in info.data:  # to_agent_id itself was refused
            return to_team
        to_agent_id = info.data["to_agent_id"]
        if to_agent_id is not None and to_team is not None:
            raise PydanticCustomError("one_target", "give to_agent_id or to_team, not both")
        if to_agent_id is None and to_team is None:
            raise PydanticCustomError(
                "one_target",
                "give to_agent_id (a colleague) or to_team (a team's queue)",
            )
        return to_team


def _plain_note(value: object) -> object:
    """A plain-string outcome (the first protocol) is a resolved one with that note."""
    if isinstance(value, str):
        note = value.strip()
        return {"status": OutcomeStatus.RESOLVED.value, "note": note or None}
    return value


class Close(_In):
    conversation_id: str = _ID
    outcome: Annotated[Outcome | None, BeforeValidator(_plain_note)] = None
    """``{status, note?, variables?}``, or a string: the note of a resolved one."""


class History(_In):
    conversation_id: str = _ID
    after_seq: Seq = 0
    limit: int = Field(default=200, ge=1, le=1000)


class WatchConversation(_In):
    """A supervisor follows a conversation read-only."""

    conversation_id: str = _ID
    after_seq: Seq | None = None
    """Messages after this one in the ack; left out: those of the current handoff."""


class UnwatchConversation(_In):
    conversation_id: str = _ID


class TakeOver(_In):
    """A supervisor takes a conversation themselves: a queued one, or another agent's."""

    conversation_id: str = _ID


def ok_ack(**fields: Any) -> dict[str, Any]:
    """A successful acknowledgement."""
    return {"ok": True, **fields}


def error_ack(error: dict[str, Any]) -> dict[str, Any]:
    """A failed acknowledgement."""
    return {"ok": False, "error": error}
