"""What the frames between the server and a worker hold: a call, its result, their errors.

The one definition both sides use: the pool fills a ``Call``, the process
sends it (``encode_call``) and the worker reads it back (``decode_call``); the
worker answers with a result (``encode_result``), which the process reads back
(``decode_result``); a failed call's result carries an ``ErrorRecord`` of one
of the ``ErrorKind``s. Both frames are JSON arrays, not objects: an object's
keys are most of the cost of encoding and decoding a small one. Standard
library only, like the rest of the worker (see ``__init__``). ``wire`` is how
a frame is laid out; this module is what is in it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict

from . import wire

__all__ = [
    "CACHED_VERSIONS",
    "Call",
    "ErrorKind",
    "ErrorRecord",
    "decode_call",
    "decode_result",
    "encode_call",
    "encode_result",
    "error_record",
]

# How many versions a worker keeps compiled, least recently used out first;
# the server keeps the same list for each worker to know which it holds.
CACHED_VERSIONS = 8

# The first item of each frame.
_CALL = "call"
_RESULT = "result"


class ErrorKind(StrEnum):
    """Why a call did not produce output; each kind has one fix in docs/custom-actions.md."""

    SYNTAX_ERROR = "syntax_error"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    BAD_RETURN = "bad_return"
    LIMIT_EXCEEDED = "limit_exceeded"
    # Only the server decides these two; a worker that reports one is not believed.
    BUSY = "busy"
    SANDBOX_UNAVAILABLE = "sandbox_unavailable"


class Call(TypedDict):
    """One call of a bot's action, as the server asks a worker to run it.

    The frame (``encode_call``) is ``"call"``, the id the process pairs the
    result with, then these fields in this order, the last two as raw text. A
    TypedDict, not a NamedTuple: building a NamedTuple with keywords costs more
    than twice what a dict literal does, on every warm call.
    """

    timeout_ms: int
    version: str
    action: str
    bot_id: str
    request_id: str
    # False when the worker already holds ``version`` (it says so in each
    # result, "cached"); ``code`` is empty then.
    with_code: bool
    code: str
    body: str  # event['body'], a JSON text


def encode_call(call_id: int, call: Call) -> bytes:
    """The frame asking a worker to run ``call``; its answer carries ``call_id``."""
    return wire.encode_list(
        [
            _CALL,
            call_id,
            call["timeout_ms"],
            call["version"],
            call["action"],
            call["bot_id"],
            call["request_id"],
            call["with_code"],
        ],
        (call["code"], call["body"]),
    )


def decode_call(frame: dict[str, Any] | list[Any]) -> tuple[int, Call]:
    """The id and the call in a decoded frame; FrameError if it is not a call frame."""
    op = None
    if isinstance(frame, list):  # a dict would unpack into its keys
        try:
            op, call_id, timeout_ms, version, action, bot_id, request_id, with_code, code, body = (
                frame
            )
        except ValueError:
            pass  # not the ten items of a call frame
    if op != _CALL:
        raise wire.FrameError("expected a call frame")
    call: Call = {
        "timeout_ms": timeout_ms,
        "version": version,
        "action": action,
        "bot_id": bot_id,
        "request_id": request_id,
        "with_code": with_code,
        "code": code,
        "body": body,
    }
    return call_id, call


def encode_result(result: dict[str, Any]) -> bytes:
    """The frame answering a call, from the result ``Runtime.call`` made.

    Its fields, in this order: ``id`` (the call's), ``ok``; ``ret``, what main
    returned, and ``ret_type``, its type's name (JSON turns a tuple into a list),
    when ok; ``error``, an ErrorRecord, when not; ``recycle`` (retire the
    worker), ``duration_ms``, ``cpu_s`` (the worker's CPU time so far),
    ``cached`` (the worker holds this version now) and ``logs``. Raises what
    JSON encoding raises for a return value it cannot hold.
    """
    return wire.encode_list(
        [
            _RESULT,
            result["id"],
            result["ok"],
            result.get("ret"),
            result.get("ret_type"),
            result.get("error"),
            result["recycle"],
            result["duration_ms"],
            result["cpu_s"],
            result["cached"],
            result["logs"],
        ]
    )


def decode_result(frame: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """The result in a decoded frame, by name; FrameError if it is not a result frame.

    The worker runs bot code, so each field is only its word: results.py checks them.
    """
    op = None
    if isinstance(frame, list):  # a dict would unpack into its keys
        try:
            op, call_id, ok, ret, ret_type, error, recycle, duration_ms, cpu_s, cached, logs = frame
        except ValueError:
            pass  # not the eleven items of a result frame
    if op != _RESULT:
        raise wire.FrameError("expected a result frame")
    return {
        "id": call_id,
        "ok": ok,
        "ret": ret,
        "ret_type": ret_type,
        "error": error,
        "recycle": recycle,
        "duration_ms": duration_ms,
        "cpu_s": cpu_s,
        "cached": cached,
        "logs": logs,
    }


class ErrorRecord(TypedDict):
    """A failed call's ``error`` in its result; the server reads it as an ActionError."""

    kind: ErrorKind
    message: str
    line: int | None
    column: int | None
    traceback: str | None


def error_record(
    kind: ErrorKind,
    message: str,
    *,
    line: int | None = None,
    column: int | None = None,
    traceback: str | None = None,
) -> ErrorRecord:
    """The error of a failed call: its kind, what to tell the bot's author, and where."""
    return {
        "kind": kind,
        "message": message,
        "line": line,
        "column": column,
        "traceback": traceback,
    }
