"""The contract: the event main gets, and what main may return (pure, plus a pool run)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handoff.runner import (
    ContractError,
    DetailLimits,
    ErrorKind,
    EventInput,
    RunnerPool,
    build_event,
    parse_response,
)

from .conftest import action


def ok(final: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "body": json.dumps(final),
        "headers": {"Content-Type": "application/json"},
        **extra,
    }


def test_event_body_has_the_seed_keys_and_aliases() -> None:
    data = EventInput.model_validate(
        {
            "entities": {"e": 1},
            "user_data": {"full_name": "Ada"},
            "conversation_data": {"policy": 1},
            "message": "hi",
        }
    )
    event = build_event(data, {"API_KEY": "k"})
    assert list(event) == ["body"]
    body = json.loads(event["body"])
    assert body == {
        "node": {},
        "event": {},
        "user": {"full_name": "Ada"},
        "entities": {"e": 1},
        "user_details": {"language_code": "en", "name": "Guest User"},
        "conversation_details": {"policy": 1},
        "conversation_data": {"policy": 1},
        "env_variables": {"API_KEY": "k"},
        "message": "hi",
    }


def test_valid_response_is_taken_apart() -> None:
    parsed = parse_response(
        ok(
            {
                "status": True,
                "user_details": {"email": "a@b.c"},
                "conversation_data": {"policy_id": 12345},
            }
        )
    )
    assert parsed.status_code == 200
    assert parsed.final_response["status"] is True
    assert parsed.user_details == {"email": "a@b.c"}
    assert parsed.conversation_details == {"policy_id": 12345}
    assert parse_response(ok({"status": True})).conversation_details is None


@pytest.mark.parametrize(
    ("value", "kind", "hint"),
    [
        (None, ErrorKind.BAD_RETURN, "main returned None; it must return {'statusCode'"),
        ([1, 2], ErrorKind.BAD_RETURN, "main returned list"),
        ({"body": "{}"}, ErrorKind.BAD_RETURN, "no 'statusCode'"),
        ({"statusCode": 200}, ErrorKind.BAD_RETURN, "no 'body'"),
        ({"statusCode": "200", "body": "{}"}, ErrorKind.BAD_RETURN, "integer"),
        ({"statusCode": 200, "body": {"a": 1}}, ErrorKind.BAD_RETURN, "json.dumps(final_response)"),
        ({"statusCode": 200, "body": "{'a': 1}"}, ErrorKind.BAD_RETURN, "not valid JSON"),
        ({"statusCode": 200, "body": "NaN"}, ErrorKind.BAD_RETURN, "not valid JSON"),
        ({"statusCode": 200, "body": "[1]"}, ErrorKind.BAD_RETURN, "JSON object"),
        ({"statusCode": 200, "body": "{}", "headers": []}, ErrorKind.BAD_RETURN, "'headers'"),
        (ok({"user_details": {"age": 42}}), ErrorKind.BAD_RETURN, "must be a string"),
        (ok({"user_details": "x"}), ErrorKind.BAD_RETURN, "dict of strings"),
        (ok({"user_details": {"bio": "x" * 201}}), ErrorKind.LIMIT_EXCEEDED, "limit is 200"),
        (
            ok({"conversation_details": {"blob": "x" * 2500}}),
            ErrorKind.LIMIT_EXCEEDED,
            "limit is 2500",
        ),
        (ok({"conversation_data": [1]}), ErrorKind.BAD_RETURN, "must be a dict"),
        (
            ok({"conversation_details": {"a": 1}, "conversation_data": {"a": 2}}),
            ErrorKind.BAD_RETURN,
            "return one of them",
        ),
    ],
)
def test_bad_returns_say_how_to_fix(value: object, kind: ErrorKind, hint: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_response(value)
    assert caught.value.kind == kind
    assert hint in caught.value.message


def test_limits_are_parameters() -> None:
    limits = DetailLimits(user_detail_chars=5, conversation_details_chars=10)
    with pytest.raises(ContractError):
        parse_response(ok({"user_details": {"x": "123456"}}), limits)
    parsed = parse_response(
        ok({"user_details": {"bio": "x" * 300}}), DetailLimits(user_detail_chars=300)
    )
    assert parsed.user_details == {"bio": "x" * 300}


@pytest.mark.parametrize(
    ("body", "result", "kind", "hint"),
    [
        ("r = 1", "None", ErrorKind.BAD_RETURN, None),
        ("r = 1", "(1, 2)", ErrorKind.BAD_RETURN, None),
        ("r = 1", "{1, 2}", ErrorKind.BAD_RETURN, "JSON-compatible"),
        ("r = 1", "float('nan')", ErrorKind.BAD_RETURN, "JSON-compatible"),
    ],
)
async def test_bad_returns_through_the_pool(
    pool: RunnerPool, body: str, result: str, kind: ErrorKind, hint: str | None
) -> None:
    code = action(body).replace("return {'statusCode'", f"return {result}\n    {{'statusCode'")
    out = await pool.run("bot-c", "bad", code, {})
    assert not out.ok and out.error is not None
    assert out.error.kind == kind, out.error
    if hint:
        assert hint in out.error.message
    elif result.startswith("("):
        assert "main returned tuple" in out.error.message


async def test_body_not_json_and_oversize_details_through_the_pool(pool: RunnerPool) -> None:
    code = (
        "def main(event, context):\n"
        "    return {'statusCode': 200, 'body': 'not json', 'headers': {}}\n"
    )
    out = await pool.run("bot-c", "notjson", code, {})
    assert out.error is not None and out.error.kind == ErrorKind.BAD_RETURN
    code = (
        "import json\ndef main(event, context):\n"
        "    final = {'user_details': {'note': 'x' * 500}}\n"
        "    return {'statusCode': 200, 'body': json.dumps(final), 'headers': {}}\n"
    )
    out = await pool.run("bot-c", "big", code, {})
    assert out.error is not None and out.error.kind == ErrorKind.LIMIT_EXCEEDED
    assert out.user_details is None  # nothing to save: what is stored stays
