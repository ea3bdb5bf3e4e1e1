"""CORS for the REST API, from the same Origin allow-list as the sockets."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from handoff.api.middleware import Handler

__all__ = ["cors_middleware"]

_ALLOW_HEADERS = "Authorization, Content-Type"
_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


def cors_middleware(origins: list[str]) -> Middleware:
    """Answer preflights and add CORS headers for allowed origins; others get none."""
    allow_all = "*" in origins
    allowed = set(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not request.path.startswith("/api/") or origin is None:
            return await handler(request)
        ok = allow_all or origin in allowed
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not ok:
                return web.json_response(
                    {
                        "error": {
                            "code": "origin_not_allowed",
                            "field": "Origin",
                            "message": f"origin {origin!r} is not allowed",
                        }
                    },
                    status=403,
                )
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if ok:
            response.headers["Access-Control-Allow-Origin"] = "*" if allow_all else origin
            response.headers["Access-Control-Allow-Headers"] = _ALLOW_HEADERS
            response.headers["Access-Control-Allow-Methods"] = _ALLOW_METHODS
            response.headers["Access-Control-Max-Age"] = "600"
            if not allow_all:
                response.headers["Vary"] = "Origin"
        return response

    return middleware
