"""REST: a supervisor's list of a bot's conversations in progress.

Watching, taking over and transferring are ``/agent`` events (docs/protocol.md): the
conversation then comes over the socket that asked, in the order of its events.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_response
from handoff.errors import from_validation_error
from handoff.protocol.oversight import InProgressQuery

__all__ = ["setup_oversight_routes"]


async def conversations_in_progress(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    try:
        query = InProgressQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    listed = await request.app[SERVICE].conversations_in_progress(
        record, request.match_info["bot_id"], query
    )
    return json_response(listed)


def setup_oversight_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/bots/{bot_id}/conversations", conversations_in_progress)
