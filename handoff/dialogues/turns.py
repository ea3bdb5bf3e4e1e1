"""What goes into and comes out of one turn of the dialogue engine: the session state, the
inputs (what the person sent, or the result of an effect), the effects the I/O layer carries
out, and the step the engine answers with. Plain frozen data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ActionDone",
    "Effect",
    "ExecuteHandoff",
    "HandoffFailed",
    "Input",
    "LeaveMessage",
    "MessageLeft",
    "OptionsDone",
    "ProvideOptions",
    "Returned",
    "RunAction",
    "SessionState",
    "Status",
    "Step",
    "UserInput",
    "seed_entities",
]

Status = Literal["bot", "with_agent", "ended"]


@dataclass(frozen=True, slots=True)
class SessionState:
    node: str | None = None
    status: Status = "ended"
    entities: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    user: dict[str, Any] = field(default_factory=dict)


# Inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserInput:
    """What the person sent: free text, a button's payload, or neither (start / show again)."""

    text: str | None = None
    payload: str | None = None


@dataclass(frozen=True, slots=True)
class ActionDone:
    ok: bool
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    """On a bot break: ``{kind, message, ...}`` as the runner reports it."""
    escalate: bool = False
    """The bot's ``escalate_on_break``."""


@dataclass(frozen=True, slots=True)
class OptionsDone:
    available: bool | None
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Returned:
    """The handoff ended. ``key`` is the agent's outcome (``back_to_bot``, ``resolved``,
    ``follow_up``) or the close reason (``abandoned``, ``no_agent``, ``timeout``)."""

    key: str
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandoffFailed:
    message: str


@dataclass(frozen=True, slots=True)
class MessageLeft:
    """The result of :class:`LeaveMessage`: stored, or why not (for the log)."""

    ok: bool
    error: str | None = None


Input = UserInput | ActionDone | OptionsDone | Returned | HandoffFailed | MessageLeft


# Effects -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunAction:
    node: str
    action: str
    entities: dict[str, Any]
    """In the seeds' shape: ``{name: [{"entity_value": {"value": ...}, ...}]}``."""
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProvideOptions:
    node: str
    team: str | None


@dataclass(frozen=True, slots=True)
class ExecuteHandoff:
    node: str
    reason: str | None
    team: str | None
    entities: dict[str, str]
    """The collected entities as plain values: the handoff packet the agent reads."""
    error: dict[str, Any] | None = None
    """A bot break that escalated: the runner's error, for the agent to see."""


@dataclass(frozen=True, slots=True)
class LeaveMessage:
    """Store ``message`` and ``contact`` for the bot's agents (``leave_message``)."""

    node: str
    contact: str
    message: str


Effect = RunAction | ProvideOptions | ExecuteHandoff | LeaveMessage


@dataclass(frozen=True, slots=True)
class Step:
    messages: list[dict[str, Any]]
    state: SessionState
    effect: Effect | None = None


def seed_entities(entities: dict[str, str]) -> dict[str, Any]:
    """Entities as the seeds' code nodes read them:
    ``entities.get(name)[0].get("entity_value").get("value")``."""
    return {
        name: [{"entity_name": name, "entity_value": {"value": value}, "original_text": value}]
        for name, value in entities.items()
    }
