"""The one place a worker's answer (or death) becomes an InvocationResult.

The worker runs bot code, so its answer is untrusted input: every field is
validated here, and what ``main`` returned goes through the contract checks.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .contract import ContractError, parse_response
from .models import ActionError, DetailLimits, ErrorKind, InvocationResult
from .process import WorkerCrashed

__all__ = [
    "crash_result",
    "mask_known_secrets",
    "mask_secrets",
    "result_from_answer",
    "secret_values",
]

MASK = "****"
# Shorter values ("1", "en") are too common to mask without garbling the logs.
_MIN_SECRET = 4

_LIMIT_SIGNALS = {
    signal.SIGXCPU: "it used up its CPU time limit",
    signal.SIGXFSZ: "it wrote a file past the file size limit",
}


def _signal_of(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    # bubblewrap reports a child killed by signal N as exit status 128 + N.
    return returncode - 128 if returncode > 128 else None


def crash_result(
    exc: WorkerCrashed,
    returncode: int | None,
    *,
    request_id: str,
    version: str,
    duration_ms: float,
) -> InvocationResult:
    """The result of a call whose worker died or broke the protocol."""
    sig = _signal_of(returncode)
    why = _LIMIT_SIGNALS.get(signal.Signals(sig)) if sig in set(signal.Signals) else None
    if exc.limit or why:
        kind = ErrorKind.LIMIT_EXCEEDED
        message = f"the action was stopped: {why or exc}"
    else:
        kind = ErrorKind.EXCEPTION
        detail = f" (signal {signal.Signals(sig).name})" if sig in set(signal.Signals) else ""
        message = f"the action's process ended unexpectedly{detail}: {exc}"
    return InvocationResult.failure(
        kind, message, request_id=request_id, version=version, duration_ms=round(duration_ms, 3)
    )


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values ``mask_known_secrets`` hides for ``env``, longest first."""
    return tuple(sorted((v for v in env.values() if len(v) >= _MIN_SECRET), key=len, reverse=True))


def mask_secrets(result: InvocationResult, env: Mapping[str, str]) -> InvocationResult:
    """Replace the bot's variable values in logs and error text: they are secrets.

    The output is left alone; a dialogue may need a value the code chose to return.
    """
    return mask_known_secrets(result, secret_values(env))


def mask_known_secrets(result: InvocationResult, secrets: tuple[str, ...]) -> InvocationResult:
    """``mask_secrets`` with ``secret_values(env)`` worked out once (per worker)."""
    for secret in secrets:
        result.logs = result.logs.replace(secret, MASK)
        if result.error is not None:
            result.error.message = result.error.message.replace(secret, MASK)
            if result.error.traceback:
                result.error.traceback = result.error.traceback.replace(secret, MASK)
    return result


def result_from_answer(
    answer: dict[str, Any], limits: DetailLimits, *, request_id: str, version: str
) -> InvocationResult:
    """Check a worker's ``result`` frame and the response ``main`` returned in it."""
    logs = answer.get("logs")
    if not isinstance(logs, str):
        logs = ""
    duration = answer.get("duration_ms")
    duration_ms = float(duration) if isinstance(duration, (int, float)) else 0.0
    common: dict[str, Any] = {
        "logs": logs,
        "duration_ms": duration_ms,
        "request_id": request_id,
        "version": version,
    }
    if answer.get("ok") is not True:
        try:
            error = ActionError.model_validate(answer.get("error"))
        except ValidationError:
            error = ActionError(
                kind=ErrorKind.EXCEPTION,
                message="the action failed and its worker sent an unreadable error",
            )
        if error.kind in (ErrorKind.BUSY, ErrorKind.SANDBOX_UNAVAILABLE):
            error.kind = ErrorKind.EXCEPTION  # only the server decides those
        return InvocationResult(ok=False, error=error, **common)
    returned_type = answer.get("ret_type")
    try:
        parsed = parse_response(
            answer.get("ret"),
            limits,
            returned_type=returned_type if isinstance(returned_type, str) else None,
        )
    except ContractError as exc:
        return InvocationResult(
            ok=False, error=ActionError(kind=exc.kind, message=exc.message), **common
        )
    return InvocationResult(
        ok=True,
        output=parsed.final_response,
        status_code=parsed.status_code,
        headers=parsed.headers,
        user_details=parsed.user_details,
        conversation_details=parsed.conversation_details,
        logs=logs,
        duration_ms=duration_ms,
        request_id=request_id,
        version=version,
    )
