"""The path and query parameters of each operation, as the handlers check them."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from pydantic import BaseModel

from handoff.api.admin_agents import AGENT_ID_PATTERN
from handoff.api.openapi_ops import B
from handoff.protocol import actions as act
from handoff.protocol import admin as adm
from handoff.protocol import oversight
from handoff.protocol.common import MAX_INT

__all__ = ["parameters"]


# Path parameters by (the segment before, name): the rules the handlers apply. A
# conversation id is any string here: an unknown one is a 404, and its ":" and "."
# may reach the path percent-encoded.
_PATH_PARAMS: dict[tuple[str, str], dict[str, Any]] = {
    ("actions", "name"): {"type": "string", "pattern": act.ACTION_NAME_PATTERN},
    ("env", "name"): {"type": "string", "pattern": act.ENV_NAME_PATTERN},
    ("canned-responses", "id"): {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    ("teams", "team"): {"type": "string", "pattern": adm.TEAM_PATTERN},
    ("agents", "agent_id"): {"type": "string", "pattern": f"^{AGENT_ID_PATTERN}$"},
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """A query model's fields as query parameters (an optional one: its non-null type)."""
    schema = model.model_json_schema()
    params = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])
        if prop.get("default", 0) is None:
            del prop["default"]
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", ()),
                "schema": prop,
            }
        )
    return params


_TIME = {"type": "string", "format": "date-time"}
_STATS_QUERY = [
    _query(
        "bot_id",
        {"type": "string", "minLength": 1, "maxLength": 64},
        "one bot (default: every bot the caller may read)",
    ),
]
# Query parameters by path, as the handlers read them (an unknown one is a 400).
_QUERY_PARAMS: dict[str, list[dict[str, Any]]] = {
    "/api/v1/stats": [
        *_STATS_QUERY,
        _query("team", {"type": "string", "minLength": 1, "maxLength": 100}, "one team"),
        _query(
            "agent_id",
            {"type": "string", "minLength": 1, "maxLength": 64},
            "the conversations this agent took part in",
        ),
        _query("from", _TIME, "ISO 8601 with an offset (default: today's 00:00 UTC)"),
        _query("to", _TIME, "exclusive; ISO 8601 with an offset (default: now)"),
        _query(
            "bucket",
            {"type": "string", "enum": ["hour", "day"]},
            "series step (default: hour up to 2 days, else day)",
        ),
        _query("format", {"type": "string", "enum": ["json", "csv"]}, "csv: the series as CSV"),
    ],
    "/api/v1/stats/live": _STATS_QUERY,
    B + "/conversations": _query_params(oversight.InProgressQuery),
    B + "/actions/{name}/logs": [
        _query("limit", {"type": "integer"}, "1-500; others are clamped"),
        _query("ok", {"type": "string", "enum": ["true", "false"]}, "only successes or failures"),
        _query("stage", {"type": "string", "enum": ["staging", "production"]}, "one stage"),
        _query("since", _TIME, "entries from this ISO time with a zone on (default: a day ago)"),
    ],
}


def parameters(path: str) -> list[dict[str, Any]]:
    return _path_params(path) + _QUERY_PARAMS.get(path, [])


def _path_params(path: str) -> list[dict[str, Any]]:
    parts = path.split("/")
    return [
        {
            "name": part[1:-1],
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMS.get((before, part[1:-1]), {"type": "string"}),
        }
        for before, part in pairwise(parts)
        if part.startswith("{")
    ]
