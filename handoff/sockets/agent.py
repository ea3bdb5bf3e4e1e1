"""Namespace ``/agent``: authenticated agents; every request is answered by acknowledgement."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from handoff.config import Settings
from handoff.errors import BadRequest, HandoffError, StorageUnavailable, Unauthorized
from handoff.metrics import CONNECTIONS
from handoff.protocol import agent as proto
from handoff.protocol import events as ev
from handoff.routing.model import AgentStatus
from handoff.routing.refusals import NotYourConversation, ReadOnly
from handoff.routing.service import HandoffService
from handoff.security import Grant, TokenSigner
from handoff.sockets import rooms
from handoff.sockets.engine import ConnectionRefused, Namespace
from handoff.sockets.guard import Bucket, EventLog, UnknownEvent, handle, one_payload, parse
from handoff.storage.agents import AgentRecord

__all__ = ["AgentNamespace"]

log = logging.getLogger("handoff.sockets.agent")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Ack = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Route(Generic[M]):
    """One agent request: the model its payload must fit, and the handler that takes it."""

    model: type[M]
    handler: Callable[[AgentRecord, M], Awaitable[Ack]]

    def __call__(self, sid: str, record: AgentRecord, data: object) -> Awaitable[Ack]:
        """Validate ``data`` (a :class:`BadRequest` naming the field) and hand it over."""
        return self.handler(record, parse(self.model, data))


@dataclass(frozen=True, slots=True)
class SocketRoute(Generic[M]):
    """A request whose handler needs its socket too (rooms, what the socket watches)."""

    model: type[M]
    handler: Callable[[str, AgentRecord, M], Awaitable[Ack]]

    def __call__(self, sid: str, record: AgentRecord, data: object) -> Awaitable[Ack]:
        return self.handler(sid, record, parse(self.model, data))


# The table is typed by what a route does, not as ``Route[Any]``: with that as
# the context, mypy infers ``M = Any`` and misses a handler paired with the
# wrong model.
_Request = Callable[[str, AgentRecord, object], Awaitable[Ack]]

MAX_WATCHED = 50
"""Conversations one socket may watch at once."""


@dataclass(slots=True)
class _Session:
    """One open agent socket: who, until when, its rate, and why it is being ended."""

    record: AgentRecord
    """Read once at connect; the re-check reads the stored one again."""
    grant: Grant
    bucket: Bucket
    ended: HandoffError | None = None
    watching: set[str] = field(default_factory=set)
    """Conversations this socket watches read-only (their rooms go with the socket)."""


class AgentNamespace(Namespace):
    """The ``/agent`` namespace.

    Each socket is checked again while it is open: its token's expiry on every
    event (no database read), and its agent's stored record (deleted? disabled? the
    password changed since the token was signed?) plus the expiry by :meth:`recheck`,
    which the server runs every ``HANDOFF_AGENT_RECHECK_SECONDS``. A socket that fails
    gets ``unauthorized`` and is disconnected; its conversations follow the agent's grace period.
    """

    def __init__(self, service: HandoffService, settings: Settings, signer: TokenSigner) -> None:
        super().__init__(ev.AGENT_NAMESPACE)
        self._service = service
        self._settings = settings
        self._signer = signer
        self._sessions: dict[str, _Session] = {}
        self._events = EventLog(log)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[str, _Request] = {
            "set_status": Route(proto.SetStatus, self._set_status),
            "queue": Route(proto.QueueRequest, self._queue),
            "accept": Route(proto.Accept, self._accept),
            "send_message": SocketRoute(proto.SendMessage, self._send_message),
            "typing": SocketRoute(proto.Typing, self._typing),
            "transfer": Route(proto.Transfer, self._transfer),
            "close": SocketRoute(proto.Close, self._close),
            "history": Route(proto.History, self._history),
            "watch_conversation": SocketRoute(proto.WatchConversation, self._watch),
            "unwatch_conversation": SocketRoute(proto.UnwatchConversation, self._unwatch),
            "take_over": Route(proto.TakeOver, self._take_over),
        }

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            grant = self._signer.grant(token)
            record = await self._service.signed_in_agent(grant)
        except StorageUnavailable as exc:  # the database, not the token: try again later
            log.debug("agent connection %s refused: %s", sid, exc.message)
            raise ConnectionRefused({"code": exc.code, "message": exc.message}) from None
        except HandoffError as exc:
            log.info("agent connection %s refused: %s", sid, exc.message)
            raise ConnectionRefused({"code": "unauthorized", "message": exc.message}) from None
        bucket = Bucket(
            self._settings.rate_limit_per_second * 5, self._settings.rate_limit_burst * 5
        )
        self._sessions[sid] = _Session(record, grant, bucket)
        CONNECTIONS.labels("agent").inc()
        await self.enter_room(sid, rooms.agent_room(record.id))
        for bot_id in record.bots:
            await self.enter_room(sid, rooms.bot_room(bot_id))
        # After the handshake: restore what the agent still holds.
        self._spawn(self._connected(sid, record))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connected(self, sid: str, record: AgentRecord) -> None:
        await handle("connect", sid, lambda: self._service.agent_connected(record), self._events)

    async def on_disconnect(self, sid: str, *args: object) -> None:
        session = self._sessions.pop(sid, None)
        if session is not None:
            CONNECTIONS.labels("agent").dec()
            for cid in session.watching:  # its rooms went with it
                await handle("disconnect", sid, _unwatched(self._service, cid), self._events)
            agent_id = session.record.id
            await handle(
                "disconnect", sid, lambda: self._service.agent_disconnected(agent_id), self._events
            )

    async def recheck(self, now: float | None = None) -> int:
        """Check every open socket's agent record and token expiry once; returns those ended.

        One database read for all the connected agents. ``now`` (epoch seconds)
        is for tests, which drive this instead of waiting for the loop.
        """
        now = time.time() if now is None else now
        sessions = [(sid, s) for sid, s in self._sessions.items() if s.ended is None]
        if not sessions:
            return 0
        refused = await self._service.grants_refused({s.grant for _, s in sessions})
        ended = 0
        for sid, session in sessions:
            if self._sessions.get(sid) is not session:  # gone while the database answered
                continue
            error = refused.get(session.grant)
            if error is None and session.grant.expired(now):
                error = _expired()
            if error is not None and session.ended is None:
                self._end(sid, session, error)
                ended += 1
        return ended

    def _end(self, sid: str, session: _Session, error: HandoffError) -> None:
        """Refuse the socket's next events, tell it why, and disconnect it."""
        session.ended = error
        log.info("agent socket %s of %s ended: %s", sid, session.record.id, error.message)

        async def end() -> None:
            wire = {"code": "unauthorized", "message": error.message}
            await self.emit(ev.UNAUTHORIZED, wire, room=sid)
            await self.disconnect(sid)

        self._spawn(end())

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        # Every other event, known or not and whatever its arguments, is counted
        # against the socket's rate and answered.
        sid: str = args[0]
        route = self._routes.get(event) if isinstance(event, str) else None
        session = self._sessions.get(sid)

        async def step() -> Ack:
            if session is not None:
                session.bucket.take()
            if route is None:
                raise UnknownEvent(event)
            if session is None:
                raise Unauthorized("not signed in")
            if session.ended is not None:
                raise Unauthorized(session.ended.message)
            if session.grant.expired(time.time()):  # no database read on an event
                error = _expired()
                self._end(sid, session, error)
                raise error
            # No payload stands for {} here: `queue` and the like need none.
            return await route(sid, session.record, one_payload(args[1:]))

        result, error = await handle(event, sid, step, self._events)
        return proto.error_ack(error) if error is not None else result

    async def _set_status(self, record: AgentRecord, req: proto.SetStatus) -> Ack:
        agent = await self._service.set_status(record, AgentStatus(req.status), req.capacity)
        return proto.ok_ack(agent=agent.model_dump(mode="json"))

    async def _queue(self, record: AgentRecord, req: proto.QueueRequest) -> Ack:
        entries = await self._service.queue_for(record, req.bot_id)
        left = await self._service.offline_messages_for(record, req.bot_id)
        return proto.ok_ack(
            conversations=[e.model_dump(mode="json") for e in entries],
            offline_messages=[m.model_dump(mode="json") for m in left],
        )

    async def _accept(self, record: AgentRecord, req: proto.Accept) -> Ack:
        view = await self._service.accept(record, req.conversation_id)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def _writes(self, sid: str, conversation_id: str, work: Awaitable[T]) -> T:
        """``work``, whose refusal says "read-only" when this socket watches the conversation."""
        try:
            return await work
        except NotYourConversation:
            session = self._sessions.get(sid)
            if session is not None and conversation_id in session.watching:
                raise ReadOnly() from None
            raise

    async def _send_message(self, sid: str, record: AgentRecord, req: proto.SendMessage) -> Ack:
        sent = await self._writes(
            sid,
            req.conversation_id,
            self._service.agent_message(record, req.conversation_id, req.text, req.client_msg_id),
        )
        return proto.ok_ack(message=sent.message.model_dump(mode="json"), delivered=sent.delivered)

    async def _typing(self, sid: str, record: AgentRecord, req: proto.Typing) -> Ack:
        await self._writes(
            sid,
            req.conversation_id,
            self._service.agent_typing(record, req.conversation_id, req.typing),
        )
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

    async def _close(self, sid: str, record: AgentRecord, req: proto.Close) -> Ack:
        view = await self._writes(
            sid, req.conversation_id, self._service.close(record, req.conversation_id, req.outcome)
        )
        return proto.ok_ack(conversation=view.model_dump(mode="json"))

    async def _history(self, record: AgentRecord, req: proto.History) -> Ack:
        messages = await self._service.history(
            record, req.conversation_id, req.after_seq, req.limit
        )
        return proto.ok_ack(messages=[m.model_dump(mode="json") for m in messages])

    async def _watch(self, sid: str, record: AgentRecord, req: proto.WatchConversation) -> Ack:
        session = self._sessions[sid]
        cid = req.conversation_id
        if cid not in session.watching and len(session.watching) >= MAX_WATCHED:
            raise BadRequest(
                f"this socket watches {MAX_WATCHED} conversations already; unwatch one first",
                field="conversation_id",
                code="too_many_watched",
            )
        room = rooms.watch_room(cid)
        was = cid in session.watching

        async def joined() -> bool:
            await self.enter_room(sid, room)
            session.watching.add(cid)
            return not was

        try:
            watched = await self._service.watch(record, cid, req.after_seq, joined=joined)
        except BaseException:
            if not was:  # a refusal leaves no room joined
                session.watching.discard(cid)
                await self.leave_room(sid, room)
            raise
        return proto.ok_ack(
            conversation=watched.conversation.model_dump(mode="json"),
            messages=[m.model_dump(mode="json") for m in watched.messages],
            transcript=[t.model_dump() for t in watched.transcript],
            user_connected=watched.user_connected,
        )

    async def _unwatch(self, sid: str, record: AgentRecord, req: proto.UnwatchConversation) -> Ack:
        session = self._sessions[sid]
        cid = req.conversation_id
        was = cid in session.watching
        session.watching.discard(cid)
        await self.leave_room(sid, rooms.watch_room(cid))
        if was:
            await self._service.unwatched(cid)
        return proto.ok_ack(was_watching=was)

    async def _take_over(self, record: AgentRecord, req: proto.TakeOver) -> Ack:
        view = await self._service.take_over(record, req.conversation_id)
        return proto.ok_ack(conversation=view.model_dump(mode="json"))


def _expired() -> Unauthorized:
    return Unauthorized("the token has expired; sign in again", field="token")


def _unwatched(service: HandoffService, conversation_id: str) -> Callable[[], Awaitable[None]]:
    return lambda: service.unwatched(conversation_id)
