"""The runner's public data: what a call asks for and what it gives back."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

# Defined with the frames, since the worker reports them too; public from here.
from .worker.frames import ErrorKind as ErrorKind

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_USER_DETAILS = {"language_code": "en", "name": "Guest User"}


class ActionError(BaseModel):
    """A bot break: what went wrong, where in the bot's code, and the trimmed traceback."""

    kind: ErrorKind
    message: str
    line: int | None = None
    column: int | None = None
    traceback: str | None = None


class CodeProblem(BaseModel):
    """One finding of static validation, positioned for an editor (1-based line/column)."""

    line: int
    column: int
    message: str


class DetailLimits(BaseModel):
    """Limits on the state a call may save; the seeds' numbers are the defaults."""

    model_config = ConfigDict(frozen=True)

    user_detail_chars: int = Field(default=200, gt=0)
    user_details_max_keys: int = Field(default=64, gt=0)
    conversation_details_chars: int = Field(default=2500, gt=0)


class EventInput(BaseModel):
    """The data a call is about; becomes ``json.loads(event['body'])`` in ``main``.

    Accepts the seeds' live-test sample (``user_data``, ``conversation_data``)
    as well as the runtime's names. Unknown keys are passed through.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    node: Any = Field(default_factory=dict)
    event: Any = Field(default_factory=dict)
    user: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("user", "user_data")
    )
    entities: Any = Field(default_factory=dict)
    user_details: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_USER_DETAILS))
    conversation_details: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("conversation_details", "conversation_data"),
    )


def code_version(code: str) -> str:
    """The version id of a piece of code: a content hash, so equal code shares a cache entry."""
    return hashlib.sha256(code.encode()).hexdigest()[:16]


class InvocationRequest(BaseModel):
    """One call of one bot's action. ``env`` is that bot's variables for the stage run."""

    bot_id: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=200)
    code: str
    version: str = ""
    input: EventInput = Field(default_factory=EventInput)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=900)
    limits: DetailLimits | None = None
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)

    def model_post_init(self, context: Any, /) -> None:
        if not self.version:
            self.version = code_version(self.code)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"env variable name {name!r} must match [A-Za-z_][A-Za-z0-9_]*")
            if "\0" in value:
                raise ValueError(f"env variable {name} contains a NUL character")
        return env


class InvocationResult(BaseModel):
    """What a call produced; ``output`` is the body's ``final_response`` (the output variables).

    ``user_details`` and ``conversation_details`` are the values to save, or None
    when the call did not return them (keep what is stored). On error they are
    None: nothing already stored may be lost to a failed call.
    """

    ok: bool
    output: dict[str, Any] | None = None
    logs: str = ""
    duration_ms: float = 0.0
    error: ActionError | None = None
    status_code: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    user_details: dict[str, str] | None = None
    conversation_details: dict[str, Any] | None = None
    request_id: str = ""
    version: str = ""

    @classmethod
    def failure(
        cls,
        kind: ErrorKind,
        message: str,
        *,
        request_id: str = "",
        version: str = "",
        logs: str = "",
        duration_ms: float = 0.0,
    ) -> InvocationResult:
        """A result for an error found outside bot code (busy, sandbox, limits)."""
        return cls(
            ok=False,
            error=ActionError(kind=kind, message=message),
            logs=logs,
            duration_ms=duration_ms,
            request_id=request_id,
            version=version,
        )
