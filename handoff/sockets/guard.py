"""What every inbound event goes through: shape, size, rate, validation, and errors to the wire.

Everything here answers what a client sent, and a client can send a lot of it. So
a refusal is logged as one line, and no more than :class:`EventLog` allows; a
fault of ours is logged with its traceback under the same allowance.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from handoff.errors import (
    BadRequest,
    HandoffError,
    RateLimited,
    StorageUnavailable,
    from_validation_error,
)
from handoff.ratelimit import Bucket
from handoff.storage.health import unavailable_error

__all__ = [
    "MISSING",
    "Bucket",
    "ByteBudget",
    "EventLog",
    "UnknownEvent",
    "handle",
    "one_payload",
    "parse",
]

log = logging.getLogger("handoff.sockets")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The payload of an event sent with no argument at all (``socket.emit('username')``)."""


class UnknownEvent(BadRequest):
    """An event name the namespace does not know (bad input, not a server fault)."""

    code = "unknown_event"

    def __init__(self, event: object) -> None:
        super().__init__(f"unknown event {event!r}")


def one_payload(args: tuple[Any, ...]) -> object:
    """The one payload of an event's arguments (:data:`MISSING` when none was sent).

    python-socketio hands a handler every argument the client emitted; the protocol
    has one payload per event, so more is an error that says how many came.
    """
    if not args:
        return MISSING
    if len(args) > 1:
        raise BadRequest(
            f"send one payload (a JSON object); this event came with {len(args)} arguments",
            field="payload",
        )
    return args[0]


def parse(model: type[M], data: Any, *, required: bool = False) -> M:
    """``data`` as ``model``, or a :class:`BadRequest` naming the field.

    ``required``: a missing or ``null`` payload is an error; otherwise it stands for ``{}``.
    """
    if data is MISSING or data is None:
        if required:
            raise BadRequest("the payload is missing: send a JSON object", field="payload")
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("the payload must be a JSON object", field="payload")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


class ByteBudget(Bucket):
    """A token bucket of bytes: ``rate`` a second on average, ``burst`` at once.

    One is shared by every socket bound to a conversation (in this process), so
    opening more sockets buys no more bandwidth toward the agent.
    """

    __slots__ = ("refs",)

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.refs = 0

    def take_bytes(self, size: int, field: str) -> None:
        """Spend ``size`` bytes, or :class:`RateLimited` (naming ``field``) and spend nothing."""
        if not self.spend(size):
            raise RateLimited(
                f"this conversation sends more than {self._rate:g} bytes a second "
                f"(bursts of {self._burst}); slow down",
                field=field,
            )


class EventLog:
    """One line per refused or failed event, at most ``rate`` lines a second (``burst`` at once).

    What is over the allowance is counted and told in one line with the next line
    that is allowed, so a client that sends a thousand bad events a second costs a
    few lines of log, not a thousand (nor a thousand tracebacks).
    """

    def __init__(self, logger: logging.Logger, *, rate: float = 5.0, burst: int = 20) -> None:
        self._log = logger
        self._bucket = Bucket(rate, burst)
        self._dropped = 0

    def _allowed(self) -> bool:
        try:
            self._bucket.take()
        except RateLimited:
            self._dropped += 1
            return False
        if self._dropped:
            self._log.warning(
                "%d more refused or failed events were not logged (too many)", self._dropped
            )
            self._dropped = 0
        return True

    def refused(self, event: object, sid: str, error: HandoffError) -> None:
        if self._allowed():
            self._log.info(
                "%.64r from %s refused: %s %s", event, sid, error.code, error.message[:200]
            )

    def failed(self, event: object, sid: str) -> None:
        """An unexpected error of ours (call from an ``except`` block): with its traceback."""
        if self._allowed():
            self._log.exception("%.64r from %s failed", event, sid)

    def malformed(self, what: str, sid: str, why: object) -> None:
        """Traffic that is not even an event (a broken packet): one line, no traceback.

        ``why``: what is wrong (an exception is shown with its type).
        """
        if self._allowed():
            if isinstance(why, BaseException):
                why = f"{type(why).__name__}: {why}"
            self._log.info("malformed %s from %s dropped: %.200s", what, sid, why)

    @property
    def dropped(self) -> int:
        """Lines not logged since the last one that was."""
        return self._dropped


async def handle(
    event: object, sid: str, step: Callable[[], Awaitable[R]], events: EventLog
) -> tuple[R | None, dict[str, Any] | None]:
    """Run ``step``; turn errors into ``(None, error dict)`` and log them (within ``events``).

    A storage failure (disk full, database down...) is ``storage_unavailable``, and a Redis
    that cannot be reached ``state_unavailable``, not ``internal_error``: the client may
    send it again later.
    """
    try:
        return await step(), None
    except StorageUnavailable as exc:
        # Logged once per episode by the storage's health, not once per event.
        log.debug("%s from %s refused: %s %s", event, sid, exc.code, exc.message)
        return None, exc.to_wire()
    except HandoffError as exc:
        events.refused(event, sid, exc)
        return None, exc.to_wire()
    except Exception as exc:
        unavailable = unavailable_error(exc)
        if unavailable is not None:
            log.debug("%s from %s refused: %s %r", event, sid, unavailable.code, exc)
            return None, unavailable.to_wire()
        events.failed(event, sid)
        return None, {"code": "internal_error", "message": "the server could not do this"}
