"""Loading flow files: every refusal names the file, the node and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handoff.dialogues.bundle import read_bundle
from handoff.dialogues.loader import DialogueError, load_file, load_flow, load_yaml

ROOT = Path(__file__).resolve().parents[2]
SAY = {"id": "hi", "type": "say", "messages": ["Hi"]}
LEAVE = {"id": "h", "type": "handoff", "mode": "leave_message", "next": "h"}


def refused(data: Any) -> DialogueError:
    with pytest.raises(DialogueError) as caught:
        load_flow(data, file="bot.yaml")
    return caught.value


def flow(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"start": nodes[0]["id"], "nodes": list(nodes), **extra}


def test_the_shipped_demo_bot_loads_with_its_action() -> None:
    demo = load_file(ROOT / "dialogues" / "demo_bot.yaml")
    assert demo.start == "greet" and "order_status" in demo.actions
    bundle = read_bundle(ROOT / "dialogues" / "demo_bot.yaml")
    assert "def main(event, context)" in bundle.actions["order_status"]


@pytest.mark.parametrize(
    ("data", "node", "field", "says"),
    [
        (flow({**SAY, "next": "gone"}), "hi", "next", "no node 'gone'"),
        (flow(SAY, {**SAY}), "hi", "id", "another node has this id"),
        ({"start": "nowhere", "nodes": [SAY]}, None, "start", "no node has the id 'nowhere'"),
        (flow(SAY, {"id": "lost", "type": "end"}), "lost", "id", "unreachable"),
        (
            flow(
                {
                    "id": "ask",
                    "type": "ask",
                    "entity": "e",
                    "prompt": ["?"],
                    "regex": "[a-",
                    "next": "ask",
                }
            ),
            "ask",
            "regex",
            "does not compile",
        ),
        (
            flow(
                {
                    "id": "ask",
                    "type": "ask",
                    "entity": "e",
                    "prompt": ["?"],
                    "regex": "x",
                    "choices": ["x"],
                    "next": "ask",
                }
            ),
            "ask",
            None,
            "regex or choices, not both",
        ),
        (
            flow(
                {
                    "id": "ask",
                    "type": "ask",
                    "entity": "e",
                    "prompt": ["?"],
                    "next": "ask",
                    "max_length": 0,
                }
            ),
            "ask",
            "max_length",
            "greater than or equal to 1",
        ),
        (flow({**LEAVE, "next": None}), "h", None, "a leave_message node needs next"),
        (flow({**LEAVE, "next": "gone"}), "h", "next", "no node 'gone'"),
        (flow({**LEAVE, "on_fail": "gone"}), "h", "on_fail", "no node 'gone'"),
        (flow({**LEAVE, "contact_entity": "1bad"}), "h", "contact_entity", "should match"),
        (flow({**LEAVE, "email_entity": "e"}), "h", "email_entity", "Extra inputs"),
        (
            flow({**LEAVE, "routes": {"/x": "h"}}),
            "h",
            "routes",
            "is for mode provide_handoff_options, not leave_message",
        ),
        (
            flow({**LEAVE, "reason": "why"}),
            "h",
            "reason",
            "is for mode execute_handoff, not leave_message",
        ),
        (
            flow({"id": "h", "type": "handoff", "mode": "execute_handoff", "next": "h"}),
            "h",
            "next",
            "is for mode leave_message, not execute_handoff",
        ),
        (
            flow(
                {
                    "id": "h",
                    "type": "handoff",
                    "mode": "provide_handoff_options",
                    "message_entity": "note",
                }
            ),
            "h",
            "message_entity",
            "is for mode leave_message, not provide_handoff_options",
        ),
        (flow({**SAY, "messages": ["{{ oops"]}), "hi", "messages", "template syntax error"),
        (flow({**SAY, "colour": "red"}), "hi", "colour", "Extra inputs are not permitted"),
        (flow({**SAY, "messages": "Hi"}), "hi", "messages", "valid list"),
        (flow({**SAY, "type": "sing"}), "hi", "type", "does not match any of the expected tags"),
        (flow({**SAY, "routes": {"/x": "nowhere"}}), "hi", "routes./x", "no node 'nowhere'"),
        (
            flow(
                {
                    "id": "b",
                    "type": "branch",
                    "cases": [{"when": {"entity": "e"}, "goto": "b"}],
                    "default": "b",
                }
            ),
            "b",
            "cases.0.when",
            "exactly one of equals, in, exists or regex",
        ),
        (
            flow(
                {
                    "id": "b",
                    "type": "branch",
                    "cases": [{"when": {"expr": "a ==="}, "goto": "b"}],
                    "default": "b",
                }
            ),
            "b",
            "cases.0.when.expr",
            "expression syntax error",
        ),
        (
            flow(
                {
                    "id": "h",
                    "type": "handoff",
                    "mode": "execute_handoff",
                    "on_return": {"back_to_bot": "away"},
                }
            ),
            "h",
            "on_return.back_to_bot",
            "no node 'away'",
        ),
        (
            flow({"id": "h", "type": "handoff", "mode": "transfer"}),
            "h",
            "mode",
            "provide_handoff_options",
        ),
        (
            flow({"id": "a", "type": "action", "action": "x", "next": "a", "save_as": "1bad"}),
            "a",
            "save_as",
            "should match pattern",
        ),
        (flow(SAY, triggers=[{"goto": "hi"}]), None, "triggers.0", "payloads, keywords or a regex"),
        (
            flow(SAY, triggers=[{"goto": "ghost", "keywords": ["x"]}]),
            None,
            "triggers.0.goto",
            "no node 'ghost'",
        ),
        (
            flow(SAY, triggers=[{"goto": "hi", "regex": "("}]),
            None,
            "triggers.0.regex",
            "does not compile",
        ),
        (flow(SAY, version=2), None, "version", "Input should be 1"),
        ({"nodes": [SAY]}, None, "start", "Field required"),
        ([SAY], None, None, "a flow is a mapping"),
    ],
)
def test_an_invalid_flow_is_refused_naming_file_node_and_field(
    data: Any, node: str | None, field: str | None, says: str
) -> None:
    error = refused(data)
    assert error.file == "bot.yaml"
    assert error.node == node, error
    assert error.field == field, error
    assert says in error.message, error
    assert str(error).startswith("bot.yaml: ")


def test_a_node_without_an_id_is_named_by_its_position() -> None:
    error = refused(flow(SAY, {"type": "end", "messages": [5]}))
    assert error.node == "#2"


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(DialogueError) as caught:
        load_yaml("start: hi\nnodes:\n  - id: [\n", file="bad.yaml")
    assert caught.value.file == "bad.yaml" and "line 4" in caught.value.message
    # safe_load: no tag that builds Python objects.
    with pytest.raises(DialogueError):
        load_yaml("start: !!python/object/apply:os.system ['true']\nnodes: []\n", file="x.yaml")


def test_a_bundle_refuses_a_missing_or_broken_action_file(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "broken.py").write_text("def main(event, context):\n    return {\n")
    base = "start: hi\nnodes:\n  - {id: hi, type: say, messages: [Hi]}\nactions:\n  order: TARGET\n"
    for target, says in (("missing.py", "cannot read"), ("broken.py", "broken.py: line 2")):
        path = tmp_path / "bot.yaml"
        path.write_text(base.replace("TARGET", target))
        with pytest.raises(DialogueError) as caught:
            read_bundle(path)
        assert caught.value.field == "actions.order" and says in caught.value.message
    (tmp_path / "bot.yaml").write_text(base.replace("TARGET", "ok.py"))
    assert set(read_bundle(tmp_path / "bot.yaml").actions) == {"order"}
