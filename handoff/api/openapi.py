"""The OpenAPI 3.1 document of the REST API, built from the same pydantic models it serves."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from handoff import __version__
from handoff.api.keys import SETTINGS
from handoff.api.middleware import json_response
from handoff.api.openapi_ops import AGENT, BOT, OPS, ErrorResponse
from handoff.api.openapi_params import parameters

__all__ = ["openapi_document", "setup_openapi"]


def _env_value_limits(schema: dict[str, Any], max_chars: int) -> None:
    """EnvRequest's values as the action service checks them: a length set by
    ``HANDOFF_ENV_VALUE_MAX_CHARS``, and no NUL."""
    for field in ("staging", "production"):
        for branch in schema["properties"][field]["anyOf"]:
            if branch.get("type") == "string":
                branch["maxLength"] = max_chars
                branch["pattern"] = r"^[^\u0000]*$"


@functools.lru_cache(maxsize=4)
def openapi_document(*, env_value_max_chars: int = 50) -> dict[str, Any]:
    """The document; limits that are settings come in as arguments.

    Built once per process and setting (pydantic's schema generation costs about 0.1 s,
    which every app start would pay); treat the answer as read-only.
    """
    models = {m for op in OPS for m in (op.request, op.response) if m is not None}
    models.add(ErrorResponse)
    keys, schemas = models_json_schema(
        [
            (m, "validation" if any(op.request is m for op in OPS) else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    ref = {m: keys[(m, mode)] for (m, mode) in keys}
    _env_value_limits(schemas["$defs"]["EnvRequest"], env_value_max_chars)
    error = {
        "description": "error",
        "content": {"application/json": {"schema": ref[ErrorResponse]}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        item: dict[str, Any] = {"summary": op.summary, "parameters": parameters(op.path)}
        if op.auth:
            item["security"] = [{op.auth: []}]
        if op.request is not None:
            # A body with nothing required may be left out: the server reads it as {}.
            body = schemas["$defs"][ref[op.request]["$ref"].rsplit("/", 1)[1]]
            required = bool(body.get("required")) or body.get("minProperties", 0) > 0
            item["requestBody"] = {
                "required": required,
                "content": {"application/json": {"schema": ref[op.request]}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": ref[op.response]}}
        item["responses"] = {str(op.status): ok, "4XX": error}
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "handoff",
            "version": __version__,
            "description": "Live-agent handoff server: the bot-side REST API.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                BOT: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the bot's API key from `handoff create-bot`",
                },
                AGENT: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an agent token from POST /api/v1/auth/login",
                },
            },
        },
    }


def setup_openapi(app: web.Application) -> None:
    document = openapi_document(env_value_max_chars=app[SETTINGS].env_value_max_chars)

    async def serve(request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/v1/openapi.json", serve)
