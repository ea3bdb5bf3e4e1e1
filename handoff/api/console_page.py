"""The agent console's static files, at ``/console/``; its page there (``/console`` redirects).

The console is a static page (``handoff/console/``) that speaks only the public REST
API and the ``/agent`` namespace; the server just hands out its files.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["setup_console_page"]


def setup_console_page(app: web.Application, static: Path, prefix: str = "/console/") -> None:
    """Serve ``static`` at ``prefix``, its ``index.html`` at the prefix itself."""
    index = static / "index.html"

    async def page(request: web.Request) -> web.FileResponse:
        # Revalidated on every load: a new server version must not leave an old page in a tab.
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def to_page(request: web.Request) -> web.Response:
        raise web.HTTPFound(prefix)

    if index.is_file():
        # Before the static resource, which would answer the bare prefix with 403.
        app.router.add_get(prefix.rstrip("/"), to_page)
        app.router.add_get(prefix, page)
    app.router.add_static(prefix, static, show_index=False)
