"""Namespace ``/agent``: authenticated agents; every request is answered by acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from handoff.config import Settings
from handoff.errors import HandoffError, Unauthorized
from handoff.metrics import CONNECTIONS
from handoff.protocol import agent as proto
from handoff.protocol import events as ev
from handoff.routing.model import AgentStatus
from handoff.routing.service import HandoffService
from handoff.security import TokenSigner
from handoff.sockets import rooms
from handoff.sockets.engine import ConnectionRefused, Namespace
from handoff.sockets.guard import Bucket, EventLog, UnknownEvent, handle, one_payload, parse
from handoff.storage.agents import AgentRecord

__all__ = ["AgentNamespace"]

log = logging.getLogger("handoff.sockets.agent")

M = TypeVar("M", bound=BaseModel)

Ack = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Route(Generic[M]):
    """One agent request: the model its payload must fit, and the handler that takes it."""

    model: type[M]
    handler: Callable[[AgentRecord, M], Awaitable[Ack]]

    def __call__(self, record: AgentRecord, data: object) -> Awaitable[Ack]:
        """Validate ``data`` (a :class:`BadRequest` naming the field) and hand it over."""
        return self.handler(record, parse(self.model, data))


# The table is typed by what a route does, not as ``Route[Any]``: with that as
# the context, mypy infers ``M = Any`` and misses a handler paired with the
# wrong model.
_Request = Callable[[AgentRecord, object], Awaitable[Ack]]


class AgentNamespace(Namespace):
    def __init__(self, service: HandoffService, settings: Settings, signer: TokenSigner) -> None:
        super().__init__(ev.AGENT_NAMESPACE)
        self._service = service
        self._settings = settings
        self._signer = signer
        self._agents: dict[str, AgentRecord] = {}
        self._buckets: dict[str, Bucket] = {}
        self._events = EventLog(log)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[str, _Request] = {
            "set_status": Route(proto.SetStatus, self._set_status),
            "queue": Route(proto.QueueRequest, self._queue),
            "accept": Route(proto.Accept, self._accept),
            "send_message": Route(proto.SendMessage, self._send_message),
            "typing": Route(proto.Typing, self._typing),
            "transfer": Route(proto.Transfer, self._transfer),
            "close": Route(proto.Close, self._close),
            "history": Route(proto.History, self._history),
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            agent_id = self._signer.verify(token)
            record = await self._service.find_agent(agent_id)
            if record is None:
                raise Unauthorized("this agent no longer exists", field="token")
        except HandoffError as exc:
            log.info("agent connection %s refused: %s", sid, exc.message)
            raise ConnectionRefused({"code": "unauthorized", "message": exc.message}) from None
        self._agents[sid] = record
        CONNECTIONS.labels("agent").inc()
        self._buckets[sid] = Bucket(
            self._settings.rate_limit_per_second * 5, self._settings.rate_limit_burst * 5
        )
        await self.enter_room(sid, rooms.agent_room(record.id))
        for bot_id in record.bots:
            await self.enter_room(sid, rooms.bot_room(bot_id))
        # After the handshake: restore what the agent still holds.
        task = asyncio.create_task(self._connected(sid, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connected(self, sid: str, record: AgentRecord) -> None:
        await handle("connect", sid, lambda: self._service.agent_connected(record), self._events)

    async def on_disconnect(self, sid: str, *args: object) -> None:
        self._buckets.pop(sid, None)
        record = self._agents.pop(sid, None)
        if record is not None:
            CONNECTIONS.labels("agent").dec()
            await handle(
                "disconnect", sid, lambda: self._service.agent_disconnected(record.id), self._events
            )

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        # Every other event, known or not and whatever its arguments, is counted
        # against the socket's rate and answered.
        sid: str = args[0]
        route = self._routes.get(event) if isinstance(event, str) else None
        record = self._agents.get(sid)

        async def step() -> Ack:
            bucket = self._buckets.get(sid)
            if bucket is not None:
                bucket.take()
            if route is None:
                raise UnknownEvent(event)
            if record is None:
                raise Unauthorized("not signed in")
            # No payload stands for {} here: `queue` and the like need none.
            return await route(record, one_payload(args[1:]))

        result, error = await handle(event, sid, step, self._events)
        return proto.error_ack(error) if error is not None else result

    async def _set_status(self, record: AgentRecord, req: proto.SetStatus) -> Ack:
        agent = await self._service.set_status(record, AgentStatus(req.status), req.capacity)
        return proto.ok_ack(agent=agent.model_dump(mode="json"))

    async def _queue(self, record: AgentRecord, req: proto.QueueRequest) -> Ack:
        entries = await self._service.queue_for(record, req.bot_id)
        return proto.ok_ack(conversations=[e.model_dump(mode="json") for e in entries])

    async def _accept(self, record: AgentRecord, req: proto.Accept) -> Ack:
        view = await self._service.accept(record, req.conversation_id)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def _send_message(self, record: AgentRecord, req: proto.SendMessage) -> Ack:
        message = await self._service.agent_message(
            record, req.conversation_id, req.text, req.client_msg_id
        )
        return proto.ok_ack(message=message.model_dump(mode="json"))

    async def _typing(self, record: AgentRecord, req: proto.Typing) -> Ack:
        await self._service.agent_typing(record, req.conversation_id, req.typing)
        return proto.ok_ack()

    async def _transfer(self, record: AgentRecord, req: proto.Transfer) -> Ack:
        view = await self._service.transfer(
            record,
            req.conversation_id,
            to_agent_id=req.to_agent_id,
            to_team=req.to_team,
            note=req.note,
        )
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def _close(self, record: AgentRecord, req: proto.Close) -> Ack:
        view = await self._service.close(record, req.conversation_id, req.outcome)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def _history(self, record: AgentRecord, req: proto.History) -> Ack:
        messages = await self._service.history(
            record, req.conversation_id, req.after_seq, req.limit
        )
        return proto.ok_ack(messages=[m.model_dump(mode="json") for m in messages])
