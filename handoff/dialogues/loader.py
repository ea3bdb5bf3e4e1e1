"""Load a flow (YAML text, a file, or already-parsed JSON) and refuse it clearly.

Every refusal is one :class:`DialogueError` naming the file, the node (by id)
and the field, e.g. ``demo_bot.yaml: node 'order': field 'regex': the regex does
not compile: ...``. Beyond the models' own checks this finds duplicate ids,
references to unknown nodes, a start that names no node, and nodes nothing
reaches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from handoff.dialogues.flow import (
    ActionNode,
    AnyNode,
    AskNode,
    BranchNode,
    Flow,
    HandoffNode,
    OnReturn,
    SayNode,
)

__all__ = ["DialogueError", "load_file", "load_flow", "load_yaml", "parse_yaml", "references"]


class DialogueError(ValueError):
    """An invalid flow: which file, which node (None: the file itself), which field."""

    def __init__(self, file: str, node: str | None, field: str | None, message: str) -> None:
        self.file = file
        self.node = node
        self.field = field
        self.message = message
        where = [file]
        if node is not None:
            where.append(f"node {node!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, message]))


def load_yaml(text: str, *, file: str) -> Flow:
    """A flow from YAML text."""
    return load_flow(parse_yaml(text, file=file), file=file)


def parse_yaml(text: str, *, file: str) -> Any:
    """YAML text as plain data (PyYAML's ``safe_load``: no tags that build objects)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DialogueError(file, None, None, f"not valid YAML: {where}{problem}") from None
    return data


def load_file(path: Path) -> Flow:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DialogueError(str(path), None, None, f"cannot be read: {exc}") from None
    return load_yaml(text, file=path.name)


def load_flow(data: Any, *, file: str) -> Flow:
    """Validate parsed data as a flow; raises :class:`DialogueError`."""
    if not isinstance(data, dict):
        raise DialogueError(file, None, None, "a flow is a mapping with start and nodes")
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(file, data, exc) from None
    _check_graph(flow, file)
    return flow


def _from_validation(file: str, data: dict[str, Any], exc: ValidationError) -> DialogueError:
    first = exc.errors()[0]
    loc = list(first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    node: str | None = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        raw = data.get("nodes")
        item = raw[loc[1]] if isinstance(raw, list) and loc[1] < len(raw) else None
        node_id = item.get("id") if isinstance(item, dict) else None
        node = node_id if isinstance(node_id, str) else f"#{loc[1] + 1}"
        # loc: nodes, index, <the type tag of the union>, field...
        loc = (
            loc[3:]
            if len(loc) > 2 and isinstance(item, dict) and loc[2] == item.get("type")
            else loc[2:]
        )
    if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("type")
    field = ".".join(str(p) for p in loc) or None
    return DialogueError(file, node, field, message)


def _return_refs(on_return: OnReturn | None) -> list[tuple[str, str]]:
    if on_return is None:
        return []
    return [(f"on_return.{k}", v) for k, v in on_return.model_dump().items() if v is not None]


def references(node: AnyNode) -> list[tuple[str, str]]:
    """(field, node id) of every node this one may go to."""
    refs: list[tuple[str, str]] = []
    if isinstance(node, SayNode | AskNode | ActionNode) and node.next is not None:
        refs.append(("next", node.next))
    if isinstance(node, SayNode | HandoffNode):
        refs += [(f"routes.{key}", target) for key, target in node.routes.items()]
    if isinstance(node, AskNode) and node.on_fail is not None:
        refs.append(("on_fail", node.on_fail))
    if isinstance(node, ActionNode | BranchNode):
        refs += [(f"cases.{i}.goto", c.goto) for i, c in enumerate(node.cases)]
    if isinstance(node, ActionNode) and node.on_break is not None:
        refs.append(("on_break", node.on_break))
    if isinstance(node, BranchNode):
        refs.append(("default", node.default))
    if isinstance(node, HandoffNode):
        for name in ("otherwise", "if_unavailable", "next", "on_fail"):
            target = getattr(node, name)
            if target is not None:
                refs.append((name, target))
        refs += _return_refs(node.on_return)
    return refs


def _check_graph(flow: Flow, file: str) -> None:
    seen: set[str] = set()
    for node in flow.nodes:
        if node.id in seen:
            raise DialogueError(file, node.id, "id", "another node has this id")
        seen.add(node.id)
    if flow.start not in seen:
        raise DialogueError(file, None, "start", f"no node has the id {flow.start!r}")
    for i, trigger in enumerate(flow.triggers):
        if trigger.goto not in seen:
            raise DialogueError(file, None, f"triggers.{i}.goto", f"no node {trigger.goto!r}")
    for field, target in _return_refs(flow.on_return):
        if target not in seen:
            raise DialogueError(file, None, field, f"no node {target!r}")
    for node in flow.nodes:
        for field, target in references(node):
            if target not in seen:
                raise DialogueError(file, node.id, field, f"no node {target!r}")
    # Every node must be reachable: one nothing leads to is almost always a typo.
    reached: set[str] = set()
    frontier = [flow.start, *(t.goto for t in flow.triggers)]
    frontier += [target for _, target in _return_refs(flow.on_return)]
    index = flow.index
    while frontier:
        current = frontier.pop()
        if current in reached:
            continue
        reached.add(current)
        frontier += [target for _, target in references(index[current])]
    for node in flow.nodes:
        if node.id not in reached:
            raise DialogueError(
                file, node.id, "id", "no node, trigger or start leads here (unreachable)"
            )
