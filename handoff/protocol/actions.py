"""REST bodies of the custom-action API (``/api/v1/bots/{bot_id}/actions/...``, ``/env/...``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from handoff.protocol.common import Version
from handoff.runner import ActionError, CodeProblem

__all__ = [
    "ACTION_NAME",
    "ENV_NAME",
    "ActionSummary",
    "ActionVersionView",
    "BotSettings",
    "BotSettingsPatch",
    "EnvRequest",
    "EnvVarView",
    "InvocationView",
    "InvokeRequest",
    "InvokeResponse",
    "LogView",
    "PublishRequest",
    "PublishResponse",
    "SaveRequest",
    "SaveResponse",
    "TestRequest",
]

ACTION_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SaveRequest(_In):
    code: str = Field(min_length=1, max_length=200_000)


class SaveResponse(BaseModel):
    ok: bool
    """False when the code has errors; it is saved all the same, but cannot be published."""
    version: Version
    errors: list[CodeProblem]


class TestRequest(_In):
    input: dict[str, Any] = Field(default_factory=dict)
    """The sample input JSON of the seeds: ``entities``, ``user_data`` / ``user``, ..."""
    version: Version | None = None
    """Which saved version to run; the latest by default."""


class InvocationView(BaseModel):
    ok: bool
    output: dict[str, Any] | None
    """The body's ``final_response``: the output variables."""
    logs: str
    duration_ms: float
    error: ActionError | None
    request_id: str
    version: Version | None
    status_code: int | None = None


class PublishRequest(_In):
    version: Version | None = None
    """The version to make the production one (an earlier one rolls back); latest by default."""


class PublishResponse(BaseModel):
    ok: Literal[True] = True
    production_version: Version


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$"
    )
    """The bot's conversation: keys ``conversation_details``, and names an escalated handoff."""
    user: dict[str, Any] = Field(default_factory=dict)
    entities: Any = Field(default_factory=dict)
    node: Any = Field(default_factory=dict)
    event: Any = Field(default_factory=dict)


class InvokeResponse(InvocationView):
    fallback_message: str | None = None
    """On a bot break: what the bot should say instead."""
    escalate: bool = False
    """On a bot break, when the bot escalates to a human: the handoff below was created."""
    handoff: dict[str, Any] | None = None


class ActionVersionView(BaseModel):
    version: Version
    errors: list[CodeProblem]
    created_at: datetime
    published_at: datetime | None
    production: bool
    code: str | None = None


class ActionSummary(BaseModel):
    name: str
    latest_version: Version
    production_version: Version | None
    versions: list[ActionVersionView] = Field(default_factory=list)


class LogView(BaseModel):
    action: str
    version: Version | None
    stage: Literal["staging", "production"]
    request_id: str
    conversation_id: str | None
    ok: bool
    error: dict[str, Any] | None
    logs: str
    duration_ms: float
    created_at: datetime


class EnvRequest(_In):
    """A value left out keeps what is stored; ``null`` clears it."""

    staging: str | None = None
    production: str | None = None


class EnvVarView(BaseModel):
    """A variable as the API shows it: never its values, once set."""

    name: str
    staging: str | None
    production: str | None
    updated_at: datetime


class BotSettings(BaseModel):
    id: str
    name: str
    assignment_mode: Literal["auto", "manual"]
    wait_limit_seconds: float | None
    webhook_url: str | None
    action_timeout_seconds: float | None
    escalate_on_break: bool
    fallback_message: str | None


class BotSettingsPatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    assignment_mode: Literal["auto", "manual"] | None = None
    wait_limit_seconds: float | None = Field(default=None, gt=0, le=86_400)
    webhook_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    action_timeout_seconds: float | None = Field(default=None, gt=0, le=900)
    escalate_on_break: bool | None = None
    fallback_message: str | None = Field(default=None, min_length=1, max_length=1000)

    @field_validator("name", "assignment_mode", "escalate_on_break")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out means "keep"; these have no "unset" state to clear to.
        if value is None:
            raise ValueError("cannot be null")
        return value
