"""Namespace ``/live_agent``: the seed widget protocol, plus opt-in extras."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handoff.config import Settings
from handoff.errors import Forbidden, HandoffError
from handoff.metrics import CONNECTIONS
from handoff.protocol import events as ev
from handoff.protocol.widget import FromUser, MessagesToClient, Username, WidgetTyping
from handoff.routing.refusals import BotMismatch
from handoff.routing.service import HandoffService
from handoff.sockets import rooms
from handoff.sockets.engine import Namespace
from handoff.sockets.guard import Bucket, UnknownEvent, handle, parse

__all__ = ["KNOWN_FEATURES", "WidgetNamespace"]

KNOWN_FEATURES = frozenset({"queue", "typing"})
"""Opt-in extras a widget may name in ``username.features``."""

log = logging.getLogger("handoff.sockets.widget")


@dataclass(slots=True)
class _Binding:
    conversation_id: str
    bot_id: str


class WidgetNamespace(Namespace):
    def __init__(self, service: HandoffService, settings: Settings) -> None:
        super().__init__(ev.WIDGET_NAMESPACE)
        self._service = service
        self._settings = settings
        # Socket-local facts (which conversation this socket is bound to, its
        # rate bucket) live with the socket's process, as the socket does.
        self._bindings: dict[str, _Binding] = {}
        self._buckets: dict[str, Bucket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        CONNECTIONS.labels("widget").inc()
        self._buckets[sid] = Bucket(
            self._settings.rate_limit_per_second, self._settings.rate_limit_burst
        )
        # Sent once the connect handshake is out, so it follows it on the wire.
        task = asyncio.create_task(self.emit(ev.START_CONVERSATION, room=sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_disconnect(self, sid: str, *args: object) -> None:
        CONNECTIONS.labels("widget").dec()
        self._buckets.pop(sid, None)
        binding = self._bindings.pop(sid, None)
        if binding is not None:
            await self._run(
                "disconnect", sid, lambda: self._service.widget_left(binding.conversation_id)
            )

    async def _fail(self, event: str, sid: str, error: dict[str, Any]) -> dict[str, Any]:
        await self.emit(ev.ERROR, {**error, "event": event}, room=sid)
        return {"ok": False, "error": error}

    async def _run(
        self, event: str, sid: str, step: Callable[[], Awaitable[dict[str, Any] | None]]
    ) -> dict[str, Any] | None:
        result, error = await handle(event, sid, step)
        if error is not None:
            return await self._fail(event, sid, error)
        return result

    def _limit(self, sid: str) -> None:
        bucket = self._buckets.get(sid)
        if bucket is not None:
            bucket.take()

    def _binding(self, sid: str) -> _Binding:
        binding = self._bindings.get(sid)
        if binding is None:
            raise Forbidden(
                "emit username with your ConversationID first",
                field="ConversationID",
                code="not_bound",
            )
        return binding

    def _bound(self, sid: str, conversation_id: str, bot_id: str | None = None) -> _Binding:
        """This socket's binding, checked against the ids an event names."""
        binding = self._binding(sid)
        if conversation_id != binding.conversation_id:
            raise Forbidden(
                "this socket is bound to another conversation",
                field="ConversationID",
                code="conversation_mismatch",
            )
        if bot_id is not None and bot_id != binding.bot_id:
            raise BotMismatch()
        return binding

    async def on_username(self, sid: str, data: object) -> dict[str, Any] | None:
        async def step() -> dict[str, Any]:
            self._limit(sid)
            req = parse(Username, data)
            cid = req.ConversationID
            old = self._bindings.get(sid)
            if old is not None and old.conversation_id != cid:
                self._bindings.pop(sid)
                await self._leave(sid, old.conversation_id)
                await self._service.widget_left(old.conversation_id)
            if old is not None and old.conversation_id == cid:
                self._bound(sid, cid, req.BotID)
                view = await self._service.conversation(cid)
                return {
                    "ok": True,
                    "conversation_id": cid,
                    "state": view.state,
                    "agent_id": view.agent_id,
                }
            # Join before binding: binding may announce the queue position or an
            # agent to this room, and the widget must hear it.
            await self.enter_room(sid, rooms.widget_room(cid))
            rich = bool(set(req.features) & KNOWN_FEATURES)
            if rich:
                await self.enter_room(sid, rooms.widget_room(cid, rich=True))
            try:
                result = await self._service.bind_widget(
                    cid, req.BotID, resume_after_seq=req.resume_after_seq
                )
            except HandoffError:
                await self._leave(sid, cid)
                raise
            self._bindings[sid] = _Binding(cid, req.BotID)
            for message in result.backlog:
                await self.emit(
                    ev.TO_USER,
                    {
                        "message": message.text,
                        "seq": message.seq,
                        "sender": "agent",
                        "agent": {"id": message.agent_id},
                    },
                    room=sid,
                )
            view = result.conversation
            return {
                "ok": True,
                "conversation_id": cid,
                "state": view.state,
                "agent_id": view.agent_id,
            }

        return await self._run(ev.USERNAME, sid, step)

    async def _leave(self, sid: str, conversation_id: str) -> None:
        await self.leave_room(sid, rooms.widget_room(conversation_id))
        await self.leave_room(sid, rooms.widget_room(conversation_id, rich=True))

    async def on_from_user(self, sid: str, data: object) -> dict[str, Any] | None:
        async def step() -> dict[str, Any]:
            self._limit(sid)
            req = parse(FromUser, data)
            self._bound(sid, req.ConversationID, req.BotID)
            stored = await self._service.user_message(req.ConversationID, req.message)
            return {"ok": True, "seq": stored.seq}

        return await self._run(ev.FROM_USER, sid, step)

    async def on_messages_to_client(self, sid: str, data: object) -> dict[str, Any] | None:
        async def step() -> dict[str, Any]:
            self._limit(sid)
            req = parse(MessagesToClient, data)
            binding = self._binding(sid)
            await self._service.store_transcript(binding.conversation_id, req.bot_id, req.messages)
            return {"ok": True, "stored": len(req.messages)}

        return await self._run(ev.MESSAGES_TO_CLIENT, sid, step)

    async def on_typing(self, sid: str, data: object) -> dict[str, Any] | None:
        async def step() -> dict[str, Any]:
            self._limit(sid)
            req = parse(WidgetTyping, data)
            self._bound(sid, req.ConversationID)
            await self._service.user_typing(req.ConversationID, req.typing)
            return {"ok": True}

        return await self._run(ev.USER_TYPING_IN, sid, step)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect") or hasattr(self, f"on_{event}"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        log.info("unknown widget event %r from %s", event, sid)
        return await self._fail(event, sid, UnknownEvent(event).to_wire())
