"""REST bodies of the custom-action API (``/api/v1/bots/{bot_id}/actions/...``, ``/env/...``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from handoff.protocol.bot import BusinessHours
from handoff.protocol.common import MAX_INT
from handoff.protocol.rest import CONVERSATION_ID_PATTERN, RestBody, integral
from handoff.runner import ActionError, CodeProblem

__all__ = [
    "ACTION_NAME",
    "ACTION_NAME_PATTERN",
    "CODE_MAX_CHARS",
    "ENV_NAME",
    "ENV_NAME_PATTERN",
    "MAX_VERSION",
    "WEBHOOK_URL_PATTERN",
    "ActionLimits",
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
    "Version",
    "check_webhook_url",
]

# The names as the OpenAPI document states them (JSON Schema: "$" is the very end) ...
ACTION_NAME_PATTERN = r"^[A-Za-z0-9_\-]{1,100}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
# ... and as the server checks them: Python's "$" also matches before a final "\n".
ACTION_NAME = re.compile(ACTION_NAME_PATTERN.removesuffix("$") + r"\Z")
ENV_NAME = re.compile(ENV_NAME_PATTERN.removesuffix("$") + r"\Z")

MAX_VERSION = MAX_INT
"""Versions are 32-bit integers in the database; a larger one cannot exist."""

Version = Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(integral)]
"""An action's version number in a request body."""


CODE_MAX_CHARS = 200_000
"""The longest code a save accepts (characters)."""


class SaveRequest(RestBody):
    code: str = Field(min_length=1, max_length=CODE_MAX_CHARS)


class SaveResponse(BaseModel):
    ok: bool
    """False when the code has errors; it is saved all the same, but cannot be published."""
    version: Version
    errors: list[CodeProblem]


class TestRequest(RestBody):
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


class PublishRequest(RestBody):
    version: Version | None = None
    """The version to make the production one (an earlier one rolls back); latest by default."""


class PublishResponse(BaseModel):
    ok: Literal[True] = True
    production_version: Version


class InvokeRequest(RestBody):
    ConversationID: str | None = Field(
        default=None, min_length=8, max_length=128, pattern=CONVERSATION_ID_PATTERN
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


class ActionLimits(BaseModel):
    """The limits a builder's page says before sending (``GET .../actions``)."""

    code_max_chars: int
    env_value_max_chars: int
    """``HANDOFF_ENV_VALUE_MAX_CHARS``: the longest value of an env variable."""


class EnvRequest(RestBody):
    """A value left out keeps what is stored; ``null`` clears it. At least one is given."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    staging: str | None = None
    production: str | None = None


class EnvVarView(BaseModel):
    """A variable as the API shows it: never its values, once set."""

    name: str
    staging: str | None
    production: str | None
    updated_at: datetime


WEBHOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$"
"""An http(s) URL with a host, as the document states it; :func:`check_webhook_url` decides."""


def check_webhook_url(value: str) -> None:
    """Refuse a webhook URL that is not ``http(s)://host...`` (a ValueError saying why)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError as exc:
        raise ValueError(f"is not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")


class BotSettings(BaseModel):
    id: str
    name: str
    assignment_mode: Literal["auto", "manual"]
    wait_limit_seconds: float | None
    webhook_url: str | None
    webhook_secret_set: bool = False
    """Whether webhooks are signed; the secret itself is write-only."""
    action_timeout_seconds: float | None
    escalate_on_break: bool
    fallback_message: str | None
    business_hours: BusinessHours | None = None
    """Null: always open."""
    max_queue_length: int | None = None
    """Null: no limit."""


def _not_nullable(schema: dict[str, Any]) -> None:
    """The document's side of ``_not_null`` below: no ``null`` branch, no ``null`` default."""
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    schema.pop("default", None)


class BotSettingsPatch(RestBody):
    # Left out means "keep". name, assignment_mode and escalate_on_break have no
    # "unset" state to clear to, so null is refused and the document does not offer
    # it; the others' null restores the server's default.
    name: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra=_not_nullable
    )
    assignment_mode: Literal["auto", "manual"] | None = Field(
        default=None, json_schema_extra=_not_nullable
    )
    wait_limit_seconds: float | None = Field(default=None, gt=0, le=86_400)
    webhook_url: str | None = Field(default=None, max_length=2000, pattern=WEBHOOK_URL_PATTERN)
    """Where webhooks go (http or https); null stops them (events are no longer written)."""
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    """Signs webhooks (write-only); null sends them unsigned."""
    action_timeout_seconds: float | None = Field(default=None, gt=0, le=900)
    escalate_on_break: bool | None = Field(default=None, json_schema_extra=_not_nullable)
    fallback_message: str | None = Field(default=None, min_length=1, max_length=1000)
    business_hours: BusinessHours | None = None
    """Null: always open (see docs/bot-api.md, "Business hours and the queue limit")."""
    max_queue_length: (
        Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(integral)] | None
    ) = None
    """``queue_full`` once this many wait; null: no limit."""

    @field_validator("name", "assignment_mode", "escalate_on_break")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_webhook_url(value)
        return value
