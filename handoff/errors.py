"""One error tree. Each error has a wire code and an HTTP status.

The REST middleware and the socket helpers are the only places that turn these
into the wire; everything else raises.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = [
    "BadRequest",
    "Busy",
    "Conflict",
    "Forbidden",
    "HandoffError",
    "NotFound",
    "RateLimited",
    "StateUnavailable",
    "StorageUnavailable",
    "TooLarge",
    "Unauthorized",
    "from_validation_error",
]


class HandoffError(Exception):
    """Base of every error that reaches a client."""

    code = "internal_error"
    status = 500
    retry_after: int | None = None
    """Seconds a client should wait before trying again (REST: the ``Retry-After`` header)."""

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object sent to clients."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, field={self.field!r}, message={self.message!r})"


class BadRequest(HandoffError):
    code = "invalid_payload"
    status = 400


class TooLarge(HandoffError):
    code = "message_too_large"
    status = 413


class Unauthorized(HandoffError):
    code = "unauthorized"
    status = 401


class Forbidden(HandoffError):
    code = "forbidden"
    status = 403


class NotFound(HandoffError):
    code = "not_found"
    status = 404


class Conflict(HandoffError):
    code = "conflict"
    status = 409


class RateLimited(HandoffError):
    code = "rate_limited"
    status = 429


class Busy(HandoffError):
    code = "busy"
    status = 503


class StorageUnavailable(HandoffError):
    """The database cannot take writes right now (disk full, I/O error, read-only, down).

    What was refused was not acknowledged; a client may send it again later.
    """

    code = "storage_unavailable"
    status = 503
    retry_after = 5


class StateUnavailable(HandoffError):
    """The shared routing state is being rebuilt (Redis lost its data): try again shortly.

    Nothing was stored or acknowledged.
    """

    code = "state_unavailable"
    status = 503
    retry_after = 2

    def __init__(self, message: str = "the routing state is being rebuilt; send it again") -> None:
        super().__init__(message)


def from_validation_error(exc: ValidationError) -> BadRequest:
    """A pydantic error, reduced to the first field that is wrong and why."""
    first = exc.errors()[0]
    # A dict key's own error ends in "[key]": the key already names the field.
    loc = [part for part in first.get("loc", ()) if part != "[key]"]
    field = ".".join(str(part) for part in loc) or None
    message = first.get("msg", "invalid value")
    return BadRequest(f"{field}: {message}" if field else message, field=field)
