"""What every inbound event goes through: size, rate, validation, and errors to the wire."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from handoff.errors import BadRequest, HandoffError, StorageUnavailable, from_validation_error
from handoff.ratelimit import Bucket
from handoff.storage.health import storage_error

__all__ = ["Bucket", "UnknownEvent", "handle", "parse"]

log = logging.getLogger("handoff.sockets")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


class UnknownEvent(BadRequest):
    """An event name the namespace does not know (bad input, not a server fault)."""

    code = "unknown_event"

    def __init__(self, event: str) -> None:
        super().__init__(f"unknown event {event!r}")


def parse(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or a :class:`BadRequest` naming the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("the payload must be a JSON object", field="payload")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


async def handle(
    event: str, sid: str, step: Callable[[], Awaitable[R]]
) -> tuple[R | None, dict[str, Any] | None]:
    """Run ``step``; turn errors into ``(None, error dict)`` and log them.

    A storage failure (disk full, database down...) is ``storage_unavailable``, not
    ``internal_error``: the client may send it again later.
    """
    try:
        return await step(), None
    except StorageUnavailable as exc:
        # Logged once per episode by the storage's health, not once per event.
        log.debug("%s from %s refused: %s %s", event, sid, exc.code, exc.message)
        return None, exc.to_wire()
    except HandoffError as exc:
        log.info("%s from %s refused: %s %s", event, sid, exc.code, exc.message)
        return None, exc.to_wire()
    except Exception as exc:
        unavailable = storage_error(exc)
        if unavailable is not None:
            log.debug("%s from %s refused: storage_unavailable %r", event, sid, exc)
            return None, unavailable.to_wire()
        log.exception("%s from %s failed", event, sid)
        return None, {"code": "internal_error", "message": "the server could not do this"}
