"""REST: private notes and tags on a conversation, for the agents of its bot."""

from __future__ import annotations

from aiohttp import web

from handoff.api.auth import agent_from_request
from handoff.api.keys import SERVICE
from handoff.api.middleware import json_body, json_response
from handoff.protocol.console import NoteList, NoteRequest, TagsRequest

__all__ = ["setup_note_routes"]

_PATH = "/api/v1/conversations/{conversation_id}"


async def list_notes(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    notes = await request.app[SERVICE].notes(record, request.match_info["conversation_id"])
    return json_response(NoteList(notes=notes))


async def add_note(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    body = await json_body(request, NoteRequest)
    note = await request.app[SERVICE].add_note(
        record, request.match_info["conversation_id"], body.text
    )
    return json_response(note, status=201)


async def put_tags(request: web.Request) -> web.Response:
    record = await agent_from_request(request)
    body = await json_body(request, TagsRequest)
    tags = await request.app[SERVICE].set_tags(
        record, request.match_info["conversation_id"], body.tags
    )
    return json_response(tags)


def setup_note_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(_PATH + "/notes", list_notes)
    r.add_post(_PATH + "/notes", add_note)
    r.add_put(_PATH + "/tags", put_tags)
