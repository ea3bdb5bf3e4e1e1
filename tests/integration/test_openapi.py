"""The OpenAPI operations table against the routes the app really serves, both ways.

A route added without its ``Op`` (or an ``Op`` left behind by a removed route)
fails here; what is served but deliberately left out of the document is listed
once, in ``NOT_DOCUMENTED``, with the reason.
"""

from pathlib import Path

from aiohttp import web

from handoff.api.openapi_ops import OPS
from handoff.app import create_app
from tests.conftest import Server, make_settings

# (method, path, why); "*" matches any method or any path. Paths are aiohttp's
# canonical ones. /healthz is outside /api/v1 but documented, so it is not here.
NOT_DOCUMENTED: list[tuple[str, str, str]] = [
    ("HEAD", "*", "aiohttp adds HEAD beside every GET; it answers as that GET, without a body"),
    ("*", "/socket.io/", "the Socket.IO transport; its events are documented in docs/protocol.md"),
    ("*", "/console", "static files of the agent console and the seed widget, not an API"),
    ("GET", "/console/", "the agent console's page (index.html), not an API"),
    ("GET", "/demo", "redirects to the demo page (HANDOFF_DEMO=true), not an API"),
    ("GET", "/demo/", "redirects to the demo page (HANDOFF_DEMO=true), not an API"),
    ("GET", "/demo/{name}", "the demo page's static files (HANDOFF_DEMO=true), not an API"),
    ("GET", "/metrics", "Prometheus text format for scrapers, not JSON; see docs/rest.md"),
]


def _matches(rule: tuple[str, str, str], method: str, path: str) -> bool:
    return rule[0] in ("*", method) and rule[1] in ("*", path)


def _excluded(method: str, path: str) -> bool:
    return any(_matches(rule, method, path) for rule in NOT_DOCUMENTED)


def served(app: web.Application) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, exclusions included."""
    return {
        (route.method, resource.canonical)
        for resource in app.router.resources()
        for route in resource
    }


def documented() -> set[tuple[str, str]]:
    return {(op.method.upper(), op.path) for op in OPS}


def test_every_served_route_is_documented_and_every_documented_operation_served(
    tmp_path: Path,
) -> None:
    routes = served(create_app(make_settings(tmp_path)))
    ops = documented()
    assert len(ops) == len(OPS), "an operation is listed twice in OPS"
    undocumented = {r for r in routes if not _excluded(*r)} - ops
    assert not undocumented, f"served but not in OPS (document them or say why not): {undocumented}"
    assert not ops - routes, f"in OPS but not served: {ops - routes}"
    # The exclusions stay honest: each still matches something served, none hides an Op.
    for rule in NOT_DOCUMENTED:
        matched = {r for r in routes if _matches(rule, *r)}
        assert matched, f"nothing served matches the exclusion {rule}"
        assert not matched & ops, f"excluded yet documented: {matched & ops} ({rule})"


async def test_the_served_document_has_every_served_operation(server: Server) -> None:
    async with server.http.get(server.url + "/api/v1/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    in_doc = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert in_doc == documented()
    assert in_doc == {r for r in served(server.app) if not _excluded(*r)}
    # Errors are one 4XX answer per operation with the error body (the codes are in
    # docs/rest.md), so a save's 409 saved_concurrently needs no entry of its own.
    save = doc["paths"]["/api/v1/bots/{bot_id}/actions/{name}"]["put"]["responses"]
    error = save["4XX"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorResponse"}
