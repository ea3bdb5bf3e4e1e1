"""The REST routes an agent console needs beyond sign-in, each from its own module."""

from __future__ import annotations

from aiohttp import web

from handoff.api.canned import setup_canned_routes
from handoff.api.colleagues import setup_colleague_routes
from handoff.api.notes import setup_note_routes
from handoff.api.offline import setup_offline_routes
from handoff.api.oversight import setup_oversight_routes

__all__ = ["setup_console_routes"]


def setup_console_routes(app: web.Application) -> None:
    """Colleagues, canned responses, notes and tags, handled offline messages, and a
    supervisor's conversations in progress."""
    setup_colleague_routes(app)
    setup_canned_routes(app)
    setup_note_routes(app)
    setup_offline_routes(app)
    setup_oversight_routes(app)
