"""The dialogue engine: a pure state machine over a :class:`~handoff.dialogues.flow.Flow`.

No I/O here. Given the session state and one input it returns the messages to
show, the next state, and at most one :data:`Effect` for the I/O layer
(:mod:`.runtime`) to carry out: run an action, ask for the handoff options,
hand off, leave a message. The result of an effect comes back as the next input
(:class:`ActionDone`, :class:`OptionsDone`, :class:`HandoffFailed`,
:class:`MessageLeft`), and the end of a handoff as :class:`Returned`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from handoff.dialogues.conditions import MISSING, first_match, lookup, template_context
from handoff.dialogues.flow import (
    ActionNode,
    AskNode,
    BranchNode,
    EndNode,
    Flow,
    HandoffNode,
    HslElement,
    HslFrom,
    Message,
    OnReturn,
    SayNode,
)
from handoff.dialogues.patterns import search
from handoff.dialogues.templates import TemplateFailed, render
from handoff.dialogues.turns import (
    ActionDone,
    ExecuteHandoff,
    Input,
    LeaveMessage,
    MessageLeft,
    OptionsDone,
    ProvideOptions,
    Returned,
    RunAction,
    SessionState,
    Step,
    UserInput,
    seed_entities,
)

__all__ = ["MAX_STEPS", "Engine"]

log = logging.getLogger(__name__)

MAX_STEPS = 100
"""Nodes visited in one turn at most: a loop of say/branch nodes ends, it does not hang."""


class Engine:
    """Runs ``flow``; ``fallback`` is what is said on a bot break or a failing template."""

    def __init__(self, flow: Flow, fallback: str) -> None:
        self.flow = flow
        self.fallback = flow.fallback or fallback

    def handle(self, state: SessionState, event: Input) -> Step:
        out: list[dict[str, Any]] = []
        if isinstance(event, UserInput):
            return self._input(state, event, out)
        if isinstance(event, ActionDone):
            return self._action_done(state, event, out)
        if isinstance(event, OptionsDone):
            node = self._current(state)
            if event.messages:
                out += event.messages
            elif isinstance(node, HandoffNode):
                out += self._messages(node.messages, state)
            if event.available is False and isinstance(node, HandoffNode) and node.if_unavailable:
                return self._advance(state, node.if_unavailable, out)
            return Step(out, replace(state, status="bot"))
        if isinstance(event, Returned):
            return self._returned(state, event, out)
        if isinstance(event, MessageLeft):
            return self._message_left(state, event, out)
        log.info("handoff from node %s failed: %s", state.node, event.message)
        out.append(_text(self.fallback))
        return Step(out, replace(state, status="ended"))

    # the person's input ------------------------------------------------------------------
    def _input(self, state: SessionState, given: UserInput, out: list[dict[str, Any]]) -> Step:
        if state.status == "with_agent":
            if self.flow.with_agent:
                out.append(_text(self.flow.with_agent))
            return Step(out, state)
        fresh = state.status == "ended" or state.node is None
        if fresh:
            state = SessionState(user=state.user)
        text = (given.text or "").strip()
        here = None if fresh else self.flow.index.get(state.node or "")
        typed = "" if isinstance(here, AskNode) and not here.text_triggers else text
        target = self._trigger(typed, given.payload)
        if target is not None:
            return self._advance(replace(state, retries=0), target, out, given)
        if fresh or (given.text is None and given.payload is None):
            return self._advance(state, state.node or self.flow.start, out, given)
        node = self._current(state)
        if isinstance(node, AskNode):
            return self._answer(state, node, given.payload or text, out, given)
        if isinstance(node, SayNode | HandoffNode):
            for key, goto in node.routes.items():
                if given.payload == key or (text and text.casefold() == key.casefold()):
                    return self._advance(replace(state, retries=0), goto, out, given)
            if isinstance(node, HandoffNode) and node.otherwise:
                return self._advance(state, node.otherwise, out, given)
            out += self._messages(self.flow.no_match, state)
            return Step(out, state)
        # A turn stopped half way (the process died during an action): run the node again.
        return self._advance(state, node.id, out, given)

    def _trigger(self, text: str, payload: str | None) -> str | None:
        folded = text.casefold()
        for trigger in self.flow.triggers:
            if payload is not None and payload in trigger.payloads:
                return trigger.goto
            if folded and any(folded == k.casefold() for k in trigger.keywords):
                return trigger.goto
            if text and trigger.regex and search(trigger.regex, text):
                return trigger.goto
        return None

    def _answer(
        self,
        state: SessionState,
        node: AskNode,
        value: str,
        out: list[dict[str, Any]],
        given: UserInput,
    ) -> Step:
        value = value.strip()
        accepted: str | None = None
        if len(value) > node.max_length:
            accepted = None
        elif node.regex is not None:
            accepted = value if value and search(node.regex, value) else None
        elif node.choices is not None:
            accepted = next((c for c in node.choices if c.casefold() == value.casefold()), None)
        else:
            accepted = value or None
        if accepted is not None:
            entities = {**state.entities, node.entity: accepted}
            return self._advance(
                replace(state, entities=entities, retries=0), node.next, out, given
            )
        retries = state.retries + 1
        if retries > node.max_retries and node.on_fail is not None:
            return self._advance(replace(state, retries=0), node.on_fail, out, given)
        state = replace(state, retries=retries)
        out += self._messages(node.retry, state)
        return Step(out, state)

    # results of effects ------------------------------------------------------------------
    def _action_done(
        self, state: SessionState, done: ActionDone, out: list[dict[str, Any]]
    ) -> Step:
        node = self._current(state)
        assert isinstance(node, ActionNode), f"an action result at {node.type} node {node.id}"
        if done.ok:
            variables = {**state.variables, node.save_as: done.output or {}}
            state = replace(state, variables=variables)
            goto = first_match(node.cases, state.entities, state.variables, state.user)
            return self._advance(state, goto or node.next, out)
        out.append(_text(self.fallback))
        if node.on_break is not None:
            return self._advance(state, node.on_break, out)
        if done.escalate:
            error = done.error or {}
            reason = (
                f"bot break in action {node.action!r}: {error.get('kind', 'error')}: "
                f"{error.get('message', '')}"
            )[:500]
            effect = ExecuteHandoff(node.id, reason, None, dict(state.entities), error=error)
            return Step(out, replace(state, status="with_agent"), effect)
        return Step(out, replace(state, status="ended"))

    def _message_left(
        self, state: SessionState, left: MessageLeft, out: list[dict[str, Any]]
    ) -> Step:
        node = self._current(state)
        assert isinstance(node, HandoffNode), f"a message left at {node.type} node {node.id}"
        if left.ok:
            out += self._messages(node.messages, state)
            assert node.next is not None  # the model requires it for leave_message
            return self._advance(state, node.next, out)
        log.warning("node %s: the message could not be left: %s", node.id, left.error)
        out.append(_text(self.fallback))
        if node.on_fail is not None:
            return self._advance(state, node.on_fail, out)
        return Step(out, replace(state, status="ended"))

    def _returned(self, state: SessionState, back: Returned, out: list[dict[str, Any]]) -> Step:
        state = replace(
            state, status="bot", retries=0, variables={**state.variables, **back.variables}
        )
        node = self.flow.index.get(state.node or "")
        target: str | None = None
        for on_return in (
            node.on_return if isinstance(node, HandoffNode) else None,
            self.flow.on_return,
        ):
            target = _return_target(on_return, back.key)
            if target is not None:
                break
        return self._advance(state, target or self.flow.start, out)

    # running nodes -----------------------------------------------------------------------
    def _advance(
        self,
        state: SessionState,
        node_id: str,
        out: list[dict[str, Any]],
        given: UserInput | None = None,
    ) -> Step:
        for _ in range(MAX_STEPS):
            node = self.flow.index[node_id]
            state = replace(state, node=node.id, status="bot")
            if isinstance(node, SayNode):
                out += self._messages(node.messages, state)
                if node.next is None:
                    return Step(out, state)
                node_id = node.next
            elif isinstance(node, AskNode):
                out += self._messages(node.prompt, state)
                return Step(out, replace(state, retries=0))
            elif isinstance(node, BranchNode):
                node_id = first_match(node.cases, state.entities, state.variables, state.user) or (
                    node.default
                )
            elif isinstance(node, ActionNode):
                event = {"message": given.text, "payload": given.payload} if given else {}
                return Step(
                    out,
                    state,
                    RunAction(node.id, node.action, seed_entities(state.entities), event),
                )
            elif isinstance(node, HandoffNode):
                if node.mode == "provide_handoff_options":
                    # The node's own messages stand in when the options bring none.
                    return Step(out, state, ProvideOptions(node.id, node.team))
                if node.mode == "leave_message":
                    return self._leave(state, node, out)
                out += self._messages(node.messages, state)
                reason = self._render(node.reason, state) if node.reason else None
                effect = ExecuteHandoff(node.id, reason, node.team, dict(state.entities))
                return Step(out, replace(state, status="with_agent"), effect)
            else:
                assert isinstance(node, EndNode)
                out += self._messages(node.messages, state)
                return Step(out, replace(state, status="ended"))
        log.warning("flow looped: %d nodes in one turn, stopped at %s", MAX_STEPS, node_id)
        out.append(_text(self.fallback))
        return Step(out, replace(state, status="ended"))

    def _leave(self, state: SessionState, node: HandoffNode, out: list[dict[str, Any]]) -> Step:
        contact = state.entities.get(node.contact_entity)
        message = state.entities.get(node.message_entity)
        if not contact or not message:
            # Reached without asking first (a trigger, a branch): a flow bug, not the person's.
            missing = node.contact_entity if not contact else node.message_entity
            return self._message_left(state, MessageLeft(False, f"no entity {missing!r}"), out)
        return Step(out, state, LeaveMessage(node.id, contact, message))

    def _current(self, state: SessionState) -> Any:
        return self.flow.index[state.node or self.flow.start]

    def _render(self, source: str, state: SessionState) -> str:
        try:
            return render(source, template_context(state.entities, state.variables, state.user))
        except TemplateFailed as exc:
            log.info("template at node %s failed: %s", state.node, exc)
            return self.fallback

    def _messages(self, messages: list[Message], state: SessionState) -> list[dict[str, Any]]:
        context = template_context(state.entities, state.variables, state.user)
        shown: list[dict[str, Any]] = []
        for message in messages:
            try:
                if isinstance(message, str):
                    shown.append(_text(render(message, context)))
                elif isinstance(message, HslElement):
                    shown.append(_render_all(message.model_dump(mode="json"), context))
                else:
                    shown += _hsl_from(message, state.variables, state.node)
            except TemplateFailed as exc:
                log.info("template at node %s failed: %s", state.node, exc)
                shown.append(_text(self.fallback))
        return shown


def _return_target(on_return: OnReturn | None, key: str) -> str | None:
    if on_return is None:
        return None
    target = getattr(on_return, key, None) if key in OnReturn.model_fields else None
    return target or on_return.default


def _text(text: str) -> dict[str, Any]:
    return {"type": "TEXT", "text": text}


def _render_all(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        return {k: _render_all(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_all(v, context) for v in value]
    return value


def _hsl_from(
    message: HslFrom, variables: dict[str, Any], node: str | None
) -> list[dict[str, Any]]:
    """HSL elements an action returned: a list (or one) of dicts or JSON strings, as the
    seeds' ``write_here`` returns ``[json.dumps(button_hsl)]``; anything else is skipped."""
    value = lookup(message.hsl_from, variables)
    if value is MISSING or value is None:
        log.info("node %s: no variable %s to show", node, message.hsl_from)
        return []
    items = value if isinstance(value, list) else [value]
    shown: list[dict[str, Any]] = []
    for item in items[:20]:
        if isinstance(item, str):
            try:
                parsed = json.loads(item)
            except ValueError:
                parsed = item
            item = parsed
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            shown.append(item)
        elif isinstance(item, str):
            shown.append(_text(item))
        else:
            log.info("node %s: %s holds no HSL element: %r", node, message.hsl_from, item)
    return shown
