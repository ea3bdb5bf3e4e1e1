"""Branch conditions and the data they, and templates, see.

A condition reads one value (an entity, or a dotted path into the variables
such as ``output.status``) and tests it, or is a jinja2 expression evaluated in
the sandbox. A condition that cannot be evaluated (a missing name in ``expr``)
is false, and logged: a branch falls through to its default rather than the
person seeing an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from handoff.dialogues.flow import Case, Condition
from handoff.dialogues.patterns import search
from handoff.dialogues.templates import TemplateFailed, evaluate

__all__ = ["MISSING", "first_match", "lookup", "matches", "template_context"]

log = logging.getLogger(__name__)

MISSING = object()


def template_context(
    entities: Mapping[str, str], variables: Mapping[str, Any], user: Mapping[str, Any]
) -> dict[str, Any]:
    """The names templates and expressions see."""
    output = variables.get("output")
    return {
        "entities": dict(entities),
        "variables": dict(variables),
        "output": output if isinstance(output, dict) else {},
        "user": dict(user),
    }


def lookup(path: str, data: Mapping[str, Any]) -> Any:
    """``a.b.c`` in nested mappings (list items by index), or :data:`MISSING`."""
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _same(a: Any, b: Any) -> bool:
    # Entities are strings and outputs are JSON: "3" from a person equals 3 in a file.
    if isinstance(a, bool) or isinstance(b, bool):
        return (
            a is b
            if isinstance(a, bool) and isinstance(b, bool)
            else str(a).lower() == str(b).lower()
        )
    return a == b or str(a) == str(b)


def matches(
    condition: Condition,
    entities: Mapping[str, str],
    variables: Mapping[str, Any],
    user: Mapping[str, Any],
) -> bool:
    if condition.expr is not None:
        try:
            return bool(evaluate(condition.expr, template_context(entities, variables, user)))
        except TemplateFailed as exc:
            log.info("condition %r could not be evaluated (false): %s", condition.expr, exc)
            return False
    if condition.entity is not None:
        value: Any = entities.get(condition.entity, MISSING)
    else:
        assert condition.variable is not None
        value = lookup(condition.variable, variables)
    if condition.exists is not None:
        present = value is not MISSING and value is not None and value != ""
        return present is condition.exists
    if value is MISSING:
        return False
    if condition.regex is not None:
        return isinstance(value, str | int | float) and search(condition.regex, str(value))
    if condition.in_ is not None:
        return any(_same(value, option) for option in condition.in_)
    return _same(value, condition.equals)


def first_match(
    cases: list[Case],
    entities: Mapping[str, str],
    variables: Mapping[str, Any],
    user: Mapping[str, Any],
) -> str | None:
    """The ``goto`` of the first case whose condition holds."""
    for case in cases:
        if matches(case.when, entities, variables, user):
            return case.goto
    return None
