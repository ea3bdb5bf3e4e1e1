"""The one place REST errors become JSON.

A storage failure that reaches here unconverted (a disk full under any write,
an unreachable database) becomes ``503 storage_unavailable`` with
``Retry-After``, an unreachable Redis ``503 state_unavailable``; any other
unexpected exception is a ``500 internal_error``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from handoff.errors import (
    BadRequest,
    HandoffError,
    StorageUnavailable,
    TooLarge,
    from_validation_error,
)
from handoff.storage.health import unavailable_error

__all__ = ["error_middleware", "json_body", "json_response"]

log = logging.getLogger("handoff.api")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY_BYTES = 256 * 1024
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def json_response(model: BaseModel | dict[str, Any], status: int = 200) -> web.Response:
    body = model.model_dump_json() if isinstance(model, BaseModel) else json.dumps(model)
    return web.Response(text=body, status=status, content_type="application/json")


async def json_body(request: web.Request, model: type[M]) -> M:
    """The request body as ``model``; a clear 400 naming the field otherwise."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge(
            f"the body is over {MAX_BODY_BYTES} bytes", field="body", code="body_too_large"
        )
    raw = await request.read()
    if not raw:
        raw = b"{}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", field="body", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _refusal(exc: HandoffError) -> web.Response:
    response = json_response({"error": exc.to_wire()}, status=exc.status)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except StorageUnavailable as exc:
        # Logged once per episode by the storage's health, not once per request.
        log.debug("%s %s → 503 %s: %s", request.method, request.path, exc.code, exc.message)
        return _refusal(exc)
    except HandoffError as exc:
        log.info(
            "%s %s → %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message
        )
        return _refusal(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        log.info("%s %s → %d %s", request.method, request.path, exc.status, exc.reason)
        response = json_response(
            {"error": {"code": f"http_{exc.status}", "message": exc.reason}}, status=exc.status
        )
        # What the HTTP layer says beside the status stays, e.g. a 405's Allow.
        for name, value in exc.headers.items():
            if name.lower() not in _BODY_HEADERS:
                response.headers.add(name, value)
        return response
    except Exception as exc:
        unavailable = unavailable_error(exc)
        if unavailable is not None:
            log.debug("%s %s → 503 %s: %r", request.method, request.path, unavailable.code, exc)
            return _refusal(unavailable)
        log.exception("%s %s failed", request.method, request.path)
        return json_response(
            {"error": {"code": "internal_error", "message": "the server could not do this"}},
            status=500,
        )
