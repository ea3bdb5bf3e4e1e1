"""The dialogue runtime's I/O: a bot's stored flow, durable sessions, and the effects.

The engine (:mod:`.engine`) decides; this carries out what it asks for — a
custom action through :class:`~handoff.actions.service.ActionService` (the
published version), the handoff options, ``execute_handoff`` through the
handoff core — and feeds each result back, then saves the session with an
optimistic version check so two turns for one conversation never both win.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from handoff.actions.service import ActionService
from handoff.dialogues.engine import Engine
from handoff.dialogues.flow import Flow
from handoff.dialogues.handback import provide_options, returned_outcome
from handoff.dialogues.loader import DialogueError, load_flow
from handoff.dialogues.presets import PresetError, Presets
from handoff.dialogues.turns import (
    ActionDone,
    ExecuteHandoff,
    HandoffFailed,
    Input,
    LeaveMessage,
    MessageLeft,
    ProvideOptions,
    Returned,
    RunAction,
    SessionState,
    Step,
    UserInput,
)
from handoff.errors import Conflict, HandoffError, NotFound
from handoff.protocol.common import ConversationState, ConversationView
from handoff.protocol.offline import LeaveMessageRequest
from handoff.routing.service import HandoffService
from handoff.storage.bots import BotRecord
from handoff.storage.dialogues import DialogueRepo, SessionConflict, SessionRecord, StoredFlow

__all__ = [
    "FLOW_CACHE_SIZE",
    "MAX_EFFECTS",
    "Conversed",
    "DialogueRuntime",
]

log = logging.getLogger(__name__)

FLOW_CACHE_SIZE = 1024
"""Parsed flows kept per process (by bot, checked against the stored revision each turn)."""

MAX_EFFECTS = 10
"""Effects (actions, handoffs) carried out in one turn at most: a flow that calls actions in
a loop stops with the fallback instead of holding the request."""


@dataclass(frozen=True, slots=True)
class Conversed:
    """One turn's result."""

    messages: list[dict[str, Any]]
    state: SessionState
    handoff: str | None = None
    """The ConversationID the widget binds with, while the conversation is with an agent."""
    notes: list[str] = field(default_factory=list)


class DialogueRuntime:
    def __init__(
        self,
        *,
        repo: DialogueRepo,
        service: HandoffService,
        actions: ActionService,
        socket_url: Callable[[], str],
    ) -> None:
        self.repo = repo
        self._service = service
        self._actions = actions
        self._socket_url = socket_url
        self._flows: LRUCache[str, tuple[int, Flow]] = LRUCache(maxsize=FLOW_CACHE_SIZE)
        # One turn at a time per conversation in this process; the version check covers
        # turns on other processes.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def socket_url(self) -> str:
        return self._socket_url()

    # flows -----------------------------------------------------------------------------------
    async def save_flow(self, bot: BotRecord, data: Any, *, file: str) -> StoredFlow:
        """Validate ``data`` as a flow (else :class:`DialogueError`) and store it."""
        flow = load_flow(data, file=file)
        presets = self._presets(flow, file)
        # YAML may hold dates and the like; the stored copy is plain JSON.
        plain = json.loads(json.dumps(data, default=str))
        stored = await self.repo.save_flow(bot.id, plain)
        self._flows[bot.id] = (stored.revision, flow)
        self._service.use_presets(bot.id, presets)
        return stored

    def _presets(self, flow: Flow, file: str) -> Presets | None:
        """The shipped presets with the flow's ``presets:`` over them (None: none given);
        a bad override is the flow's error, naming where in ``presets``."""
        if not flow.presets:
            return None
        try:
            return self._service.presets.merged(flow.presets, source=file)
        except PresetError as exc:
            raise DialogueError(file, None, f"presets.{exc.where}", exc.message) from None

    async def stored_flow(self, bot: BotRecord) -> StoredFlow:
        stored = await self.repo.flow(bot.id)
        if stored is None:
            raise _no_dialogue(bot)
        return stored

    async def _flow(self, bot: BotRecord) -> Flow:
        revision = await self.repo.revision(bot.id)
        if revision is None:
            raise _no_dialogue(bot)
        cached = self._flows.get(bot.id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        stored = await self.stored_flow(bot)
        flow = load_flow(stored.flow, file=f"dialogue of {bot.id}")
        self._service.use_presets(bot.id, self._presets(flow, f"dialogue of {bot.id}"))
        self._flows[bot.id] = (stored.revision, flow)
        return flow

    # a turn ----------------------------------------------------------------------------------
    async def converse(
        self,
        bot: BotRecord,
        conversation_id: str,
        given: UserInput,
        user: dict[str, Any] | None,
    ) -> Conversed:
        flow = await self._flow(bot)
        key = (bot.id, conversation_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            return await self._turn(bot, flow, conversation_id, given, user)

    async def _turn(
        self,
        bot: BotRecord,
        flow: Flow,
        cid: str,
        given: UserInput,
        user: dict[str, Any] | None,
    ) -> Conversed:
        engine = Engine(flow, self._actions.fallback(bot))
        record = await self.repo.session(bot.id, cid) or SessionRecord(bot.id, cid, None, "ended")
        state = SessionState(
            node=record.node,
            status="bot"
            if record.status == "bot"
            else ("with_agent" if record.status == "with_agent" else "ended"),
            entities=record.entities,
            variables=record.variables,
            retries=record.retries,
            user=user if user is not None else record.user,
        )
        if state.status != "with_agent" and state.node is not None and state.node not in flow.index:
            # The bot saved a new flow without this node: start again rather than fail.
            log.info("dialogue of %s: node %s is gone; %s starts again", bot.id, state.node, cid)
            state = SessionState(user=state.user)
        messages: list[dict[str, Any]] = []
        if state.status == "with_agent":
            view = await self._conversation(cid)
            if view is not None and view.state != ConversationState.CLOSED:
                step = engine.handle(state, given)
                await self._save(record, step.state)
                return Conversed(step.messages, step.state, handoff=cid)
            back = returned_outcome(view) if view is not None else Returned("default")
            step, handoff = await self._run(engine, bot, cid, state, back)
            messages += step.messages
            state = step.state
            if handoff is not None or (given.text is None and given.payload is None):
                await self._save(record, state)
                return Conversed(messages, state, handoff=handoff)
        step, handoff = await self._run(engine, bot, cid, state, given)
        messages += step.messages
        await self._save(record, step.state)
        return Conversed(messages, step.state, handoff=handoff)

    async def _run(
        self, engine: Engine, bot: BotRecord, cid: str, state: SessionState, first: Input
    ) -> tuple[Step, str | None]:
        """Feed ``first`` and then each effect's result to the engine until it settles."""
        step = engine.handle(state, first)
        messages = list(step.messages)
        handoff: str | None = None
        for _ in range(MAX_EFFECTS):
            effect = step.effect
            if effect is None:
                break
            result: Input
            if isinstance(effect, RunAction):
                result = await self._action(bot, cid, step.state, effect)
            elif isinstance(effect, LeaveMessage):
                result = await self._leave(bot, cid, step.state, effect)
            elif isinstance(effect, ProvideOptions):
                result = await provide_options(
                    self._service,
                    bot,
                    conversation_id=cid,
                    language=str(step.state.user.get("language_code") or "en"),
                    team=effect.team,
                    user=step.state.user,
                )
            else:
                outcome = await self._handoff(bot, cid, step.state, effect)
                if isinstance(outcome, HandoffFailed):
                    result = outcome
                else:
                    handoff = outcome
                    break
            step = engine.handle(step.state, result)
            messages += step.messages
        else:
            log.warning("dialogue of %s: over %d effects in one turn; stopped", bot.id, MAX_EFFECTS)
            messages.append({"type": "TEXT", "text": engine.fallback})
            step = Step([], SessionState(user=step.state.user))
        return Step(messages, step.state), handoff

    async def _action(
        self, bot: BotRecord, cid: str, state: SessionState, effect: RunAction
    ) -> ActionDone:
        try:
            done = await self._actions.invoke(
                bot,
                effect.action,
                conversation_id=cid,
                user=state.user,
                entities=effect.entities,
                node={"id": effect.node, "type": "action", "action": effect.action},
                event=effect.event,
            )
        except HandoffError as exc:  # not published, a bad name: a bot break all the same
            log.info("dialogue of %s: action %s: %s", bot.id, effect.action, exc.message)
            error = {"kind": exc.code, "message": exc.message}
            return ActionDone(ok=False, error=error, escalate=bot.escalate_on_break)
        result = done.result
        if result.ok:
            return ActionDone(ok=True, output=result.output or {})
        error = result.error.model_dump(mode="json") if result.error else {"kind": "error"}
        return ActionDone(ok=False, error=error, escalate=bot.escalate_on_break)

    async def _leave(
        self, bot: BotRecord, cid: str, state: SessionState, effect: LeaveMessage
    ) -> MessageLeft:
        """``leave_message`` through the same model and service call as
        ``POST .../handoff/messages``: a refused field or a store that fails is the flow's
        failure (the fallback), never the turn's."""
        try:
            body = LeaveMessageRequest.model_validate(
                {
                    "ConversationID": cid,
                    "user": state.user,
                    "contact": effect.contact,
                    "message": effect.message,
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return MessageLeft(False, f"{where}: {first.get('msg')}")
        try:
            stored = await self._service.leave_message(
                bot,
                conversation_id=body.ConversationID,
                user=body.user,
                contact=body.contact,
                message=body.message,
            )
        except HandoffError as exc:
            return MessageLeft(False, f"{exc.field or ''}: {exc.message}")
        except (SQLAlchemyError, OSError) as exc:
            log.exception("dialogue of %s: leaving a message for %s failed", bot.id, cid)
            return MessageLeft(False, f"the store failed: {type(exc).__name__}")
        log.info("dialogue of %s: %s left message %s", bot.id, cid, stored.id)
        return MessageLeft(True)

    async def _handoff(
        self, bot: BotRecord, cid: str, state: SessionState, effect: ExecuteHandoff
    ) -> str | HandoffFailed:
        entities: dict[str, Any] = dict(effect.entities)
        if effect.error is not None:
            # The agent sees why the bot gave up (the packet's entities carry it).
            entities["error"] = {
                k: effect.error.get(k) for k in ("kind", "message", "line") if k in effect.error
            }
        try:
            view = await self._service.create_handoff(
                bot,
                conversation_id=cid,
                user=state.user,
                reason=effect.reason,
                entities=entities,
                team=effect.team,
                error=dict(entities["error"]) if effect.error is not None else None,
            )
        except HandoffError as exc:
            return HandoffFailed(exc.message)
        return view.conversation_id

    async def _conversation(self, cid: str) -> ConversationView | None:
        try:
            return await self._service.conversation(cid)
        except NotFound:
            return None

    async def _save(self, record: SessionRecord, state: SessionState) -> None:
        try:
            await self.repo.save_session(
                SessionRecord(
                    bot_id=record.bot_id,
                    conversation_id=record.conversation_id,
                    node=state.node,
                    status=state.status,
                    entities=state.entities,
                    variables=state.variables,
                    user=state.user,
                    retries=state.retries,
                    version=record.version,
                )
            )
        except SessionConflict:
            raise Conflict(
                "another turn of this conversation was saved at the same time; send it again",
                field="ConversationID",
                code="session_conflict",
            ) from None


def _no_dialogue(bot: BotRecord) -> NotFound:
    return NotFound(
        f"bot {bot.id} has no dialogue; PUT /api/v1/bots/{bot.id}/dialogue first",
        field="bot_id",
        code="no_dialogue",
    )
