"""Namespace ``/agent``: authenticated agents; every request is answered by acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from pydantic import BaseModel

from handoff.config import Settings
from handoff.errors import HandoffError, Unauthorized
from handoff.metrics import CONNECTIONS
from handoff.protocol import agent as proto
from handoff.protocol import events as ev
from handoff.routing.model import AgentStatus
from handoff.routing.service import HandoffService
from handoff.security import TokenSigner
from handoff.sockets.guard import Bucket, handle, parse
from handoff.storage import keys
from handoff.storage.agents import AgentRecord

__all__ = ["AgentNamespace"]

log = logging.getLogger("handoff.sockets.agent")


class _Refused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused connection whose error packet carries ``code: unauthorized``.

    The code sits both at the top (python-socketio clients see the packet as
    is) and under ``data`` (JavaScript clients read ``err.data``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        error = {"code": "unauthorized", "message": message}
        self.error_args = {**error, "data": error}


class AgentNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, service: HandoffService, settings: Settings, signer: TokenSigner) -> None:
        super().__init__(ev.AGENT_NAMESPACE)
        self._service = service
        self._settings = settings
        self._signer = signer
        self._agents: dict[str, AgentRecord] = {}
        self._buckets: dict[str, Bucket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            agent_id = self._signer.verify(token)
            record = await self._service.find_agent(agent_id)
            if record is None:
                raise Unauthorized("this agent no longer exists", field="token")
        except HandoffError as exc:
            log.info("agent connection %s refused: %s", sid, exc.message)
            raise _Refused(exc.message) from None
        self._agents[sid] = record
        CONNECTIONS.labels("agent").inc()
        self._buckets[sid] = Bucket(
            self._settings.rate_limit_per_second * 5, self._settings.rate_limit_burst * 5
        )
        await self.enter_room(sid, keys.agent_room(record.id))
        for bot_id in record.bots:
            await self.enter_room(sid, keys.bot_room(bot_id))
        # After the handshake: restore what the agent still holds.
        task = asyncio.create_task(self._connected(sid, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connected(self, sid: str, record: AgentRecord) -> None:
        await handle("connect", sid, lambda: self._service.agent_connected(record))

    async def on_disconnect(self, sid: str, *args: Any) -> None:
        self._buckets.pop(sid, None)
        record = self._agents.pop(sid, None)
        if record is not None:
            CONNECTIONS.labels("agent").dec()
            await handle("disconnect", sid, lambda: self._service.agent_disconnected(record.id))

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        request = _REQUESTS.get(event)
        record = self._agents.get(sid)

        async def step() -> dict[str, Any]:
            if request is None:
                raise HandoffError(f"unknown event {event!r}", code="unknown_event")
            if record is None:
                raise Unauthorized("not signed in")
            bucket = self._buckets.get(sid)
            if bucket is not None:
                bucket.take()
            model, method = request
            result: dict[str, Any] = await getattr(self, method)(record, parse(model, data))
            return result

        result, error = await handle(event, sid, step)
        return proto.error_ack(error) if error is not None else result

    async def req_set_status(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        agent = await self._service.set_status(record, AgentStatus(req.status), req.capacity)
        return proto.ok_ack(agent=agent.model_dump(mode="json"))

    async def req_queue(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        entries = await self._service.queue_for(record, req.bot_id)
        return proto.ok_ack(conversations=[e.model_dump(mode="json") for e in entries])

    async def req_accept(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        view = await self._service.accept(record, req.conversation_id)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_send_message(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        message = await self._service.agent_message(
            record, req.conversation_id, req.text, req.client_msg_id
        )
        return proto.ok_ack(message=message.model_dump(mode="json"))

    async def req_typing(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        await self._service.agent_typing(record, req.conversation_id, req.typing)
        return proto.ok_ack()

    async def req_transfer(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        view = await self._service.transfer(
            record,
            req.conversation_id,
            to_agent_id=req.to_agent_id,
            to_team=req.to_team,
            note=req.note,
        )
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_close(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        view = await self._service.close(record, req.conversation_id, req.outcome)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_history(self, record: AgentRecord, req: Any) -> dict[str, Any]:
        messages = await self._service.history(
            record, req.conversation_id, req.after_seq, req.limit
        )
        return proto.ok_ack(messages=[m.model_dump(mode="json") for m in messages])


_REQUESTS: dict[str, tuple[type[BaseModel], str]] = {
    "set_status": (proto.SetStatus, "req_set_status"),
    "queue": (proto.QueueRequest, "req_queue"),
    "accept": (proto.Accept, "req_accept"),
    "send_message": (proto.SendMessage, "req_send_message"),
    "typing": (proto.Typing, "req_typing"),
    "transfer": (proto.Transfer, "req_transfer"),
    "close": (proto.Close, "req_close"),
    "history": (proto.History, "req_history"),
}
