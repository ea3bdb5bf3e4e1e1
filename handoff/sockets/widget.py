"""Namespace ``/live_agent``: the seed widget protocol, plus opt-in extras."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handoff.config import Settings
from handoff.errors import Forbidden
from handoff.metrics import CONNECTIONS
from handoff.protocol import events as ev
from handoff.protocol.widget import (
    FromUser,
    MessagesToClient,
    Username,
    WidgetReceived,
    WidgetTyping,
)
from handoff.routing.refusals import BotMismatch
from handoff.routing.service import BindResult, HandoffService
from handoff.sockets import rooms
from handoff.sockets.engine import Namespace, alive_at
from handoff.sockets.guard import (
    Bucket,
    ByteBudget,
    EventLog,
    UnknownEvent,
    handle,
    one_payload,
    parse,
)

__all__ = ["KNOWN_FEATURES", "WidgetNamespace"]

KNOWN_FEATURES = frozenset({"queue", "typing"})
"""Opt-in extras a widget may name in ``username.features``."""

log = logging.getLogger("handoff.sockets.widget")

Ack = dict[str, Any]


@dataclass(slots=True)
class _Binding:
    """The conversation a socket is bound to, and the handoff of it (its generation).

    A binding is good for one handoff: once the conversation closes, it speaks for
    nothing, even after the bot reopens the conversation under the same id.
    """

    conversation_id: str
    bot_id: str
    generation: int
    budget: ByteBudget


class WidgetNamespace(Namespace):
    def __init__(self, service: HandoffService, settings: Settings) -> None:
        super().__init__(ev.WIDGET_NAMESPACE)
        self._service = service
        self._settings = settings
        # Socket-local facts (which conversation this socket is bound to, its
        # rate bucket) live with the socket's process, as the socket does.
        self._bindings: dict[str, _Binding] = {}
        self._buckets: dict[str, Bucket] = {}
        self._budgets: dict[str, ByteBudget] = {}
        self._events = EventLog(log)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[str, Callable[[str, object], Awaitable[Ack]]] = {
            ev.USERNAME: self._username,
            ev.FROM_USER: self._from_user,
            ev.MESSAGES_TO_CLIENT: self._messages_to_client,
            ev.USER_TYPING_IN: self._typing,
            ev.RECEIVED: self._received,
        }

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
        binding = self._unbind(sid)
        if binding is not None:
            # Agent messages sent after this are sent again when a widget binds:
            # a socket that died silently was still counted as there when they went.
            seen = alive_at(self, sid)
            await self._run(
                "disconnect",
                sid,
                lambda: self._service.widget_left(
                    binding.conversation_id, binding.generation, alive_at=seen
                ),
            )

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        # Every other event, known or not and whatever its arguments, is counted
        # against the socket's rate and answered: never a handler called with
        # arguments it cannot take (a traceback per event, and no answer).
        sid: str = args[0]
        route = self._routes.get(event) if isinstance(event, str) else None

        async def step() -> Ack:
            self._limit(sid)
            if route is None:
                raise UnknownEvent(event)
            return await route(sid, one_payload(args[1:]))

        return await self._run(event, sid, step)

    async def _fail(self, event: object, sid: str, error: dict[str, Any]) -> Ack:
        name = event if isinstance(event, str) else repr(event)
        await self.emit(ev.ERROR, {**error, "event": name[:128]}, room=sid)
        return {"ok": False, "error": error}

    async def _run(
        self, event: object, sid: str, step: Callable[[], Awaitable[Ack | None]]
    ) -> Ack | None:
        result, error = await handle(event, sid, step, self._events)
        if error is not None:
            return await self._fail(event, sid, error)
        return result

    def _limit(self, sid: str) -> None:
        bucket = self._buckets.get(sid)
        if bucket is not None:
            bucket.take()

    # bindings ---------------------------------------------------------------
    def _bind(self, sid: str, bot_id: str, result: BindResult) -> None:
        cid = result.conversation.conversation_id
        budget = self._budgets.get(cid)
        if budget is None:
            budget = ByteBudget(
                self._settings.widget_bytes_per_second, self._settings.widget_bytes_burst
            )
            self._budgets[cid] = budget
        budget.refs += 1
        self._bindings[sid] = _Binding(cid, bot_id, result.generation, budget)

    def _unbind(self, sid: str) -> _Binding | None:
        binding = self._bindings.pop(sid, None)
        if binding is not None:
            binding.budget.refs -= 1
            if binding.budget.refs <= 0:
                self._budgets.pop(binding.conversation_id, None)
        return binding

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

    async def _leave(self, sid: str, conversation_id: str) -> None:
        await self.leave_room(sid, rooms.widget_room(conversation_id))
        await self.leave_room(sid, rooms.widget_room(conversation_id, rich=True))

    # events -----------------------------------------------------------------
    async def _username(self, sid: str, data: object) -> Ack:
        req = parse(Username, data, required=True)
        cid = req.ConversationID
        old = self._bindings.get(sid)
        if old is not None and old.conversation_id == cid:
            self._bound(sid, cid, req.BotID)
            if await self._service.widget_generation(cid) == old.generation:
                view = await self._service.conversation(cid)
                return self._bound_ack(view.state, view.agent_id, cid)
            # The handoff this socket was bound to has ended (the conversation was
            # closed, and maybe reopened since): the binding is gone, bind afresh.
            self._unbind(sid)
            old = None
        # Join before binding: binding may announce the queue position or an agent
        # to this room, and the widget must hear it. A bind that fails leaves the
        # socket as it was: in the rooms (and the binding) it had, and no others.
        await self.enter_room(sid, rooms.widget_room(cid))
        if set(req.features) & KNOWN_FEATURES:
            await self.enter_room(sid, rooms.widget_room(cid, rich=True))
        try:
            result = await self._service.bind_widget(
                cid, req.BotID, resume_after_seq=req.resume_after_seq
            )
        except BaseException:
            await self._leave(sid, cid)
            raise
        if old is not None:
            self._unbind(sid)
        self._bind(sid, req.BotID, result)
        if old is not None:
            await self._leave(sid, old.conversation_id)
            # As if it had disconnected from there; it is alive, so it saw all that was
            # sent there. Bound here already, whatever comes of it.
            await handle(
                ev.USERNAME,
                sid,
                lambda: self._service.widget_left(old.conversation_id, old.generation),
                self._events,
            )
        for message in result.backlog:
            agent: dict[str, str | None] = {"id": message.agent_id}
            if message.agent_id is not None:
                agent["name"] = result.agent_names.get(message.agent_id)
            await self.emit(
                ev.TO_USER,
                {"message": message.text, "seq": message.seq, "sender": "agent", "agent": agent},
                room=sid,
            )
        if result.backlog:
            # Sent (in order, before the ack): the agent sees them delivered.
            await handle(
                ev.USERNAME,
                sid,
                lambda: self._service.widget_delivered(
                    cid, result.backlog[-1].seq, generation=result.generation
                ),
                self._events,
            )
        view = result.conversation
        return self._bound_ack(view.state, view.agent_id, cid)

    @staticmethod
    def _bound_ack(state: str, agent_id: str | None, conversation_id: str) -> Ack:
        return {
            "ok": True,
            "conversation_id": conversation_id,
            "state": state,
            "agent_id": agent_id,
        }

    async def _from_user(self, sid: str, data: object) -> Ack:
        req = parse(FromUser, data, required=True)
        binding = self._bound(sid, req.ConversationID, req.BotID)
        binding.budget.take_bytes(len(req.message.encode()), "message")
        stored = await self._service.user_message(
            req.ConversationID, req.message, generation=binding.generation
        )
        return {"ok": True, "seq": stored.seq}

    async def _messages_to_client(self, sid: str, data: object) -> Ack:
        req = parse(MessagesToClient, data, required=True)
        binding = self._binding(sid)
        size = sum(len(item.message.encode()) + len(item.sender) for item in req.messages)
        binding.budget.take_bytes(size, "messages")
        await self._service.store_transcript(
            binding.conversation_id, req.bot_id, req.messages, generation=binding.generation
        )
        return {"ok": True, "stored": len(req.messages)}

    async def _typing(self, sid: str, data: object) -> Ack:
        req = parse(WidgetTyping, data, required=True)
        binding = self._bound(sid, req.ConversationID)
        await self._service.user_typing(
            req.ConversationID, req.typing, generation=binding.generation
        )
        return {"ok": True}

    async def _received(self, sid: str, data: object) -> Ack:
        req = parse(WidgetReceived, data, required=True)
        binding = self._bound(sid, req.ConversationID)
        await self._service.widget_delivered(
            req.ConversationID, req.seq, generation=binding.generation
        )
        return {"ok": True}
