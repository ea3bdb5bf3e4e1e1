"""REST handlers of the dialogue runtime: a bot's flow, and one turn of a conversation.

``PUT /api/v1/bots/{bot_id}/dialogue`` takes the flow as JSON, or as YAML text
with ``Content-Type: application/yaml`` (or ``text/yaml``); either way it is
validated before it is stored, and refused with the node and field named.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.api.auth import bot_from_request
from handoff.api.keys import ACTIONS, SERVICE, SETTINGS
from handoff.api.middleware import MAX_BODY_BYTES, json_body, json_response
from handoff.dialogues.loader import DialogueError, parse_yaml
from handoff.dialogues.runtime import DialogueRuntime
from handoff.dialogues.turns import UserInput
from handoff.errors import BadRequest, TooLarge
from handoff.protocol.dialogues import (
    ConverseHandoff,
    ConverseRequest,
    ConverseResponse,
    DialogueView,
    SessionView,
)
from handoff.protocol.rest import SocketInfo
from handoff.storage.bots import BotRecord
from handoff.storage.dialogues import DialogueRepo, StoredFlow

__all__ = ["DIALOGUES", "YAML_TYPES", "converse_turn", "invalid_dialogue", "setup_dialogues"]

DIALOGUES = web.AppKey("dialogues", DialogueRuntime)
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_PREFIX = "/api/v1/bots/{bot_id}"


def invalid_dialogue(exc: DialogueError) -> BadRequest:
    """A refused flow as a 400: the field is ``node.<id>.<field>`` (or the file's field)."""
    parts = [p for p in (f"nodes.{exc.node}" if exc.node else None, exc.field) if p]
    return BadRequest(str(exc), field=".".join(parts) or "body", code="invalid_dialogue")


def _view(stored: StoredFlow) -> DialogueView:
    return DialogueView(
        bot_id=stored.bot_id,
        revision=stored.revision,
        updated_at=stored.updated_at,
        flow=stored.flow,
    )


async def put_dialogue(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge(f"the body is over {MAX_BODY_BYTES} bytes", field="body")
    raw = await request.read()
    try:
        if request.content_type in YAML_TYPES:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("the YAML is not UTF-8", field="body") from None
            data: object = parse_yaml(text, file="dialogue")
        else:
            try:
                data = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError):
                raise BadRequest(
                    "the body is not valid JSON", field="body", code="invalid_json"
                ) from None
        stored = await request.app[DIALOGUES].save_flow(bot, data, file="dialogue")
    except DialogueError as exc:
        raise invalid_dialogue(exc) from None
    return json_response(_view(stored))


async def get_dialogue(request: web.Request) -> web.Response:
    bot = await bot_from_request(request)
    return json_response(_view(await request.app[DIALOGUES].stored_flow(bot)))


async def converse(request: web.Request) -> web.Response:
    return await converse_turn(request, await bot_from_request(request))


async def converse_turn(request: web.Request, bot: BotRecord) -> web.Response:
    """One turn for ``bot`` from the request's :class:`ConverseRequest` body: what
    ``POST .../converse`` answers once the bot is known (the demo endpoint's too)."""
    body = await json_body(request, ConverseRequest)
    runtime = request.app[DIALOGUES]
    done = await runtime.converse(
        bot, body.ConversationID, UserInput(text=body.message, payload=body.payload), body.user
    )
    state = done.state
    handoff = None
    if done.handoff is not None:
        handoff = ConverseHandoff(
            ConversationID=done.handoff, BotID=bot.id, socket=SocketInfo(url=runtime.socket_url)
        )
    return json_response(
        ConverseResponse(
            messages=done.messages,
            handoff=handoff,
            state=state.status,
            session=SessionView(
                node=state.node,
                entities=state.entities,
                variables=state.variables,
                retries=state.retries,
            ),
        )
    )


def setup_dialogues(app: web.Application, engine_key: web.AppKey[AsyncEngine]) -> None:
    """The routes, and the runtime (opened after the handoff core and the runner pool)."""

    async def runtime(app: web.Application) -> AsyncIterator[None]:
        app[DIALOGUES] = DialogueRuntime(
            repo=DialogueRepo(app[engine_key]),
            service=app[SERVICE],
            actions=app[ACTIONS],
            socket_url=app[SETTINGS].resolved_public_url,
        )
        yield

    app.cleanup_ctx.append(runtime)
    app.router.add_put(_PREFIX + "/dialogue", put_dialogue)
    app.router.add_get(_PREFIX + "/dialogue", get_dialogue)
    app.router.add_post(_PREFIX + "/converse", converse)
