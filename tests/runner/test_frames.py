"""The frames between the server and a worker: a call, its result, their errors (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.runner import ActionError, ErrorKind
from handoff.runner.worker import frames, wire

CALL: frames.Call = {
    "timeout_ms": 1500,
    "version": "v1",
    "action": "act",
    "bot_id": "bot",
    "request_id": "req",
    "with_code": True,
    "code": "def main(e, c): pass\n",
    "body": '{"a": "é"}',
}
RESULT: dict[str, Any] = {
    "id": 3,
    "ok": True,
    "ret": {"statusCode": 200, "body": "{}"},
    "ret_type": "dict",
    "error": None,
    "recycle": False,
    "duration_ms": 0.25,
    "cpu_s": 1.5,
    "cached": True,
    "logs": "hi\n",
}


def payload(frame: bytes) -> dict[str, Any] | list[Any]:
    """What the other side's reader decodes from ``frame``."""
    return wire.decode(memoryview(frame)[wire.HEADER.size :])


def test_a_call_reads_back_as_the_call_it_was() -> None:
    assert frames.decode_call(payload(frames.encode_call(3, CALL))) == (3, CALL)


def test_a_result_reads_back_by_name() -> None:
    assert frames.decode_result(payload(frames.encode_result(RESULT))) == RESULT
    failed = {**RESULT, "ok": False, "error": frames.error_record(ErrorKind.EXCEPTION, "boom")}
    del failed["ret"], failed["ret_type"]  # as Runtime.call leaves a failed call's result
    assert frames.decode_result(payload(frames.encode_result(failed))) == {
        **failed,
        "ret": None,
        "ret_type": None,
    }


def test_the_frames_are_the_arrays_both_sides_expect() -> None:
    # The bytes are the protocol; a change here should be made on purpose.
    assert frames.encode_call(3, CALL) == (
        b'\x00\x00\x00`\x00\x00\x00<["call", 3, 1500, "v1", "act", "bot", "req", true, [21, 11]]'
        b'def main(e, c): pass\n{"a": "\xc3\xa9"}'
    )
    warm = frames.encode_call(4, {**CALL, "with_code": False, "code": "", "body": "{}"})
    assert warm.endswith(b'"v1", "act", "bot", "req", false, [0, 2]]{}')
    assert frames.encode_result(RESULT) == (
        b'\x00\x00\x00l\x00\x00\x00h["result", 3, true, {"statusCode": 200, "body": "{}"}, '
        b'"dict", null, false, 0.25, 1.5, true, "hi\\n", []]'
    )


CALL_ITEMS = ["call", 3, 1500, "v1", "act", "bot", "req", True, "", "{}"]
RESULT_ITEMS = ["result", 3, True, None, "dict", None, False, 0.25, 1.5, True, ""]


@pytest.mark.parametrize(
    "frame",
    [
        ["result", *CALL_ITEMS[1:]],
        CALL_ITEMS[:-1],
        [*CALL_ITEMS, "extra"],
        [],
        dict.fromkeys(["call", *map(str, range(9))]),
    ],
)
def test_anything_else_is_not_a_call(frame: dict[str, Any] | list[Any]) -> None:
    with pytest.raises(wire.FrameError, match="expected a call frame"):
        frames.decode_call(frame)


@pytest.mark.parametrize(
    "frame",
    [
        ["call", *RESULT_ITEMS[1:]],
        RESULT_ITEMS[:-1],
        [*RESULT_ITEMS, "extra"],
        [],
        dict.fromkeys(["result", *map(str, range(10))]),
        {"op": "result", "id": 3, "ok": True},
    ],
)
def test_anything_else_is_not_a_result(frame: dict[str, Any] | list[Any]) -> None:
    with pytest.raises(wire.FrameError, match="expected a result frame"):
        frames.decode_result(frame)


def test_an_error_record_is_what_the_server_reads_as_an_action_error() -> None:
    record = frames.error_record(ErrorKind.TIMEOUT, "too slow", line=3, traceback="...")
    assert set(record) == set(ActionError.model_fields)
    assert ActionError.model_validate(record) == ActionError(
        kind=ErrorKind.TIMEOUT, message="too slow", line=3, traceback="..."
    )
    # On the wire a kind is its plain value.
    items = payload(frames.encode_result({**RESULT, "ok": False, "error": record}))
    assert isinstance(items, list) and items[5] == {
        "kind": "timeout",
        "message": "too slow",
        "line": 3,
        "column": None,
        "traceback": "...",
    }


def test_the_worker_and_the_server_share_one_set_of_kinds() -> None:
    assert ErrorKind is frames.ErrorKind
    assert [kind.value for kind in ErrorKind] == [
        "syntax_error",
        "exception",
        "timeout",
        "bad_return",
        "limit_exceeded",
        "busy",
        "sandbox_unavailable",
    ]
