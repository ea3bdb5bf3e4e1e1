"""Namespace ``/agent``: authenticated agents; every request is answered by acknowledgement."""

from __future__ import annotations

import asyncio
import logging

import socketio

from handoff.errors import HandoffError, Unauthorized
from handoff.protocol import agent as proto
from handoff.protocol import events as ev
from handoff.routing.model import AgentStatus
from handoff.sockets.guard import Bucket, handle, parse
from handoff.storage import keys

__all__ = ["AgentNamespace"]

log = logging.getLogger("handoff.sockets.agent")


class AgentNamespace(socketio.AsyncNamespace):
    def __init__(self, service, settings, signer):
        super().__init__(ev.AGENT_NAMESPACE)
        self._service = service
        self._settings = settings
        self._signer = signer
        self._agents = {}
        self._buckets: dict[str, Bucket] = {}
        self._tasks: set[asyncio.Task] = set()

    async def on_connect(self, sid, environ, auth=None):
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            agent_id = self._signer.verify(token)
            record = await self._service.agents.get(agent_id)
            if record is None:
                raise Unauthorized("this agent no longer exists", field="token")
        except HandoffError as exc:
            log.info("agent connection %s refused: %s", sid, exc.message)
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": exc.message}
            ) from None
        self._agents[sid] = record
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

    async def _connected(self, sid, record):
        await handle("connect", sid, lambda: self._service.agent_connected(record))

    async def on_disconnect(self, sid, *args):
        self._buckets.pop(sid, None)
        record = self._agents.pop(sid, None)
        if record is not None:
            await handle("disconnect", sid, lambda: self._service.agent_disconnected(record.id))

    async def trigger_event(self, event, *args):
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        request = _REQUESTS.get(event)
        record = self._agents.get(sid)

        async def step():
            if request is None:
                raise HandoffError(f"unknown event {event!r}", code="unknown_event")
            if record is None:
                raise Unauthorized("not signed in")
            bucket = self._buckets.get(sid)
            if bucket is not None:
                bucket.take()
            model, method = request
            return await getattr(self, method)(record, parse(model, data))

        result, error = await handle(event, sid, step)
        return proto.error_ack(error) if error is not None else result

    async def req_set_status(self, record, req):
        agent = await self._service.set_status(record, AgentStatus(req.status), req.capacity)
        return proto.ok_ack(agent=agent.model_dump(mode="json"))

    async def req_queue(self, record, req):
        entries = await self._service.queue_for(record, req.bot_id)
        return proto.ok_ack(conversations=[e.model_dump(mode="json") for e in entries])

    async def req_accept(self, record, req):
        view = await self._service.accept(record, req.conversation_id)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_send_message(self, record, req):
        message = await self._service.agent_message(
            record, req.conversation_id, req.text, req.client_msg_id
        )
        return proto.ok_ack(message=message.model_dump(mode="json"))

    async def req_typing(self, record, req):
        await self._service.agent_typing(record, req.conversation_id, req.typing)
        return proto.ok_ack()

    async def req_transfer(self, record, req):
        view = await self._service.transfer(
            record, req.conversation_id, to_agent_id=req.to_agent_id, to_team=req.to_team,
            note=req.note,
        )
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_close(self, record, req):
        view = await self._service.close(record, req.conversation_id, req.outcome)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def req_history(self, record, req):
        messages = await self._service.history(
            record, req.conversation_id, req.after_seq, req.limit
        )
        return proto.ok_ack(messages=[m.model_dump(mode="json") for m in messages])


_REQUESTS = {
    "set_status": (proto.SetStatus, "req_set_status"),
    "queue": (proto.QueueRequest, "req_queue"),
    "accept": (proto.Accept, "req_accept"),
    "send_message": (proto.SendMessage, "req_send_message"),
    "typing": (proto.Typing, "req_typing"),
    "transfer": (proto.Transfer, "req_transfer"),
    "close": (proto.Close, "req_close"),
    "history": (proto.History, "req_history"),
}
