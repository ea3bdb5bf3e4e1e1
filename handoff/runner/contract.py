"""The code-node contract from the seeds: the ``event`` in, the response dict out.

``main(event, context)`` gets ``event['body']``, a JSON string holding ``node,
event, user, entities, user_details, conversation_details`` (and its older name
``conversation_data``) and ``env_variables``. It returns ``{'statusCode',
'body': json.dumps(final_response), 'headers'}``. This module builds the former
and checks the latter; every complaint says how to fix the code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import DetailLimits, ErrorKind, EventInput
from .worker.context import LambdaContext
from .worker.wire import Decoder, Encoder

__all__ = [
    "ContractError",
    "LambdaContext",
    "ParsedResponse",
    "build_event",
    "parse_response",
]

FIX = (
    "return {'statusCode': 200, 'body': json.dumps(final_response), "
    "'headers': {'Content-Type': 'application/json'}}"
)


class ContractError(Exception):
    """``main`` returned something the runtime cannot use."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class ParsedResponse:
    """A valid response, taken apart: the output variables and the state to save."""

    status_code: int
    headers: dict[str, str]
    final_response: dict[str, Any]
    user_details: dict[str, str] | None = None
    conversation_details: dict[str, Any] | None = field(default=None)


def build_event(data: EventInput, env: Mapping[str, str]) -> dict[str, str]:
    """The ``event`` argument for ``main``: ``{'body': <JSON string>}``."""
    # Attributes, not model_dump(): this runs on every call and the values are
    # already validated JSON data.
    body: dict[str, Any] = {
        "node": data.node,
        "event": data.event,
        "user": data.user,
        "entities": data.entities,
        "user_details": data.user_details,
        "conversation_details": data.conversation_details,
        # Both names hold one value: older code reads conversation_data.
        "conversation_data": data.conversation_details,
        "env_variables": dict(env),
    }
    for key, value in (data.model_extra or {}).items():
        body.setdefault(key, value)
    return {"body": _EVENT_ENCODER.encode(body)}


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads/dumps with options construct a new codec per call.
_BODY_DECODER = Decoder(json.JSONDecoder(parse_constant=_reject_constant))
_EVENT_ENCODER = Encoder(default=str)


def _parse_body(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            "'body' must be a JSON string, not a dict: use 'body': json.dumps(final_response)",
        )
    if not isinstance(body, str):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"'body' must be a JSON string, got "
            f"{_type_name(body)}: use 'body': json.dumps(final_response)",
        )
    try:
        final = _BODY_DECODER.decode(body)
    except ValueError as exc:
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"'body' is not valid JSON ({exc}): build it with json.dumps(final_response)",
        ) from None
    if not isinstance(final, dict):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"'body' must hold a JSON object (the final_response dict), got {_type_name(final)}",
        )
    return final


def _user_details(value: object, limits: DetailLimits) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ContractError(
            ErrorKind.BAD_RETURN, f"user_details must be a dict of strings, got {_type_name(value)}"
        )
    if len(value) > limits.user_details_max_keys:
        raise ContractError(
            ErrorKind.LIMIT_EXCEEDED,
            f"user_details has {len(value)} keys; the "
            f"limit is {limits.user_details_max_keys}: keep only lasting facts "
            "about the user",
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise ContractError(
                ErrorKind.BAD_RETURN,
                f"user_details[{key!r}] must be a string, "
                f"got {_type_name(item)}: store str(value) or json.dumps(value)",
            )
        if len(item) > limits.user_detail_chars:
            raise ContractError(
                ErrorKind.LIMIT_EXCEEDED,
                f"user_details[{key!r}] is {len(item)} "
                f"characters; the limit is {limits.user_detail_chars}: shorten "
                "it, or keep it in conversation_details",
            )
    return value


def _conversation_details(final: dict[str, Any], limits: DetailLimits) -> dict[str, Any] | None:
    new, old = final.get("conversation_details"), final.get("conversation_data")
    if "conversation_details" in final and "conversation_data" in final and new != old:
        raise ContractError(
            ErrorKind.BAD_RETURN,
            "final_response has both conversation_details "
            "and conversation_data with different values: return one of them",
        )
    value = new if "conversation_details" in final else old
    name = "conversation_details" if "conversation_details" in final else "conversation_data"
    if name not in final:
        return None
    if not isinstance(value, dict):
        raise ContractError(ErrorKind.BAD_RETURN, f"{name} must be a dict, got {_type_name(value)}")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if size > limits.conversation_details_chars:
        raise ContractError(
            ErrorKind.LIMIT_EXCEEDED,
            f"{name} is {size} characters as JSON; the "
            f"limit is {limits.conversation_details_chars}: keep ids and short "
            "values, not whole API responses",
        )
    return value


def parse_response(
    value: object, limits: DetailLimits | None = None, *, returned_type: str | None = None
) -> ParsedResponse:
    """Check what ``main`` returned; raise ContractError saying how to fix it.

    ``returned_type`` is the Python type name the worker saw, since JSON turns a
    tuple into a list and the message should name what the code really returned.
    """
    limits = limits or DetailLimits()
    if not isinstance(value, dict):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"main returned {returned_type or _type_name(value)}; it must {FIX}",
        )
    if "statusCode" not in value or "body" not in value:
        key = "body" if "statusCode" in value else "statusCode"
        raise ContractError(ErrorKind.BAD_RETURN, f"the returned dict has no {key!r}: {FIX}")
    status = value["statusCode"]
    if isinstance(status, float) and math.isfinite(status) and status.is_integer():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"'statusCode' must be an integer such as 200, got {_type_name(status)}",
        )
    headers = value.get("headers")
    headers = {} if headers is None else headers
    if not isinstance(headers, dict):
        raise ContractError(
            ErrorKind.BAD_RETURN,
            f"'headers' must be a dict such as "
            f"{{'Content-Type': 'application/json'}}, got {_type_name(headers)}",
        )
    final = _parse_body(value["body"])
    user_details = None
    if "user_details" in final:
        user_details = _user_details(final["user_details"], limits)
    return ParsedResponse(
        status_code=status,
        headers={str(k): str(v) for k, v in headers.items()} if headers else {},
        final_response=final,
        user_details=user_details,
        conversation_details=_conversation_details(final, limits),
    )
