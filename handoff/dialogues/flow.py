"""A bot's flow file as pydantic models: nodes, triggers, conditions, HSL messages.

Every model is strict and refuses unknown fields, so a typo in a file is an
error at load, not a silent no-op. Regexes are compiled and templates parsed
here, so a flow that loads cannot fail on them later for syntax. Cross-node
checks (references, duplicate ids, reachability) are in :mod:`.loader`.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from handoff.dialogues.messages import FlowModel as _Model
from handoff.dialogues.messages import HslElement, HslFrom, Message
from handoff.dialogues.patterns import check_pattern
from handoff.dialogues.templates import check_expression, check_template

__all__ = [
    "ActionNode",
    "AnyNode",
    "AskNode",
    "BranchNode",
    "Case",
    "Condition",
    "EndNode",
    "Flow",
    "HandoffNode",
    "HslElement",
    "HslFrom",
    "Message",
    "Node",
    "OnReturn",
    "SayNode",
    "Trigger",
]

NODE_ID = r"^[A-Za-z0-9_\-]{1,100}$"
NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
ACTION = r"^[A-Za-z0-9_\-]{1,100}$"
NodeRef = Annotated[str, Field(pattern=NODE_ID)]


def _regex(value: str) -> str:
    return check_pattern(value)


# Messages (their models are in .messages) ---------------------------------------------


def _texts(*texts: str) -> list[Message]:
    return list(texts)


def _check_messages(messages: list[Any]) -> list[Any]:
    for message in messages:
        if isinstance(message, str):
            check_template(message)
    return messages


# Conditions and routes --------------------------------------------------------------------


class Condition(_Model):
    """One test: on an entity or a variable (``equals``, ``in``, ``exists``, ``regex``), or a
    jinja2 expression ``expr`` over ``entities``, ``variables``, ``output`` and ``user``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    entity: str | None = Field(default=None, pattern=NAME)
    variable: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,199}$")
    expr: str | None = Field(default=None, min_length=1, max_length=1000)
    equals: str | int | float | bool | None = None
    in_: list[str | int | float | bool] | None = Field(default=None, alias="in")
    exists: bool | None = None
    regex: str | None = Field(default=None, max_length=1000)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @field_validator("expr")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            check_expression(value)
        return value

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        subjects = [s for s in (self.entity, self.variable, self.expr) if s is not None]
        if len(subjects) != 1:
            raise ValueError("give exactly one of entity, variable or expr")
        tests = [
            t
            for t in ("equals", "in_", "exists", "regex")
            if t in self.model_fields_set and getattr(self, t) is not None
        ]
        if self.expr is not None and tests:
            raise ValueError("expr stands alone: no equals, in, exists or regex beside it")
        if self.expr is None and len(tests) != 1:
            raise ValueError("give exactly one of equals, in, exists or regex")
        return self


class Case(_Model):
    when: Condition
    goto: NodeRef


class OnReturn(_Model):
    """Where the flow goes when a handoff ends, by the agent's outcome or the close reason."""

    back_to_bot: NodeRef | None = None
    resolved: NodeRef | None = None
    follow_up: NodeRef | None = None
    abandoned: NodeRef | None = None
    no_agent: NodeRef | None = None
    timeout: NodeRef | None = None
    default: NodeRef | None = None


class Trigger(_Model):
    """Jumps to ``goto`` from anywhere in the flow: a payload, a keyword or a regex."""

    goto: NodeRef
    payloads: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list
    )
    regex: str | None = Field(default=None, max_length=1000)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @model_validator(mode="after")
    def _something(self) -> Trigger:
        if not (self.payloads or self.keywords or self.regex):
            raise ValueError("a trigger needs payloads, keywords or a regex")
        return self


# Nodes -------------------------------------------------------------------------------------


class _Node(_Model):
    id: str = Field(pattern=NODE_ID)


class SayNode(_Node):
    """Show messages, then go to ``next``; without ``next``, wait for the person, whose
    answer goes by ``routes`` (payload or text → node), then the triggers."""

    type: Literal["say"]
    messages: list[Message] = Field(min_length=1, max_length=20)
    next: NodeRef | None = None
    routes: dict[str, NodeRef] = Field(default_factory=dict)

    _messages = field_validator("messages")(_check_messages)


class AskNode(_Node):
    """Collect the entity ``entity``: a value matching ``regex``, one of ``choices``, or —
    with neither — any text that is not blank (at most ``max_length`` characters).

    ``text_triggers: false`` takes typed text as the answer even when it matches a
    trigger's keyword or regex (a free-text message that says "opening hours" is a
    message, not a question); a button's payload still jumps."""

    type: Literal["ask"]
    entity: str = Field(pattern=NAME)
    prompt: list[Message] = Field(min_length=1, max_length=20)
    regex: str | None = Field(default=None, max_length=1000)
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    retry: list[Message] = Field(
        default_factory=lambda: _texts("Sorry, that doesn't look right. Please try again."),
        max_length=20,
    )
    max_length: int = Field(default=4000, ge=1, le=4000)
    text_triggers: bool = True
    max_retries: int = Field(default=2, ge=0, le=10)
    on_fail: NodeRef | None = None
    next: NodeRef

    _messages = field_validator("prompt", "retry")(_check_messages)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return None if value is None else _regex(value)

    @model_validator(mode="after")
    def _one_kind(self) -> AskNode:
        if self.regex is not None and self.choices is not None:
            raise ValueError("give regex or choices, not both (neither: free text)")
        return self


class ActionNode(_Node):
    """Run the custom action ``action`` (its published version); its ``final_response`` is
    stored as the variable ``save_as``, then ``cases`` pick the next node, else ``next``."""

    type: Literal["action"]
    action: str = Field(pattern=ACTION)
    save_as: str = Field(default="output", pattern=NAME)
    cases: list[Case] = Field(default_factory=list, max_length=50)
    next: NodeRef
    on_break: NodeRef | None = None


class BranchNode(_Node):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1, max_length=50)
    default: NodeRef


HandoffMode = Literal["provide_handoff_options", "execute_handoff", "leave_message"]

# Fields that only one mode reads: given to another mode they would be silently ignored.
_MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "routes": ("provide_handoff_options",),
    "otherwise": ("provide_handoff_options",),
    "if_unavailable": ("provide_handoff_options",),
    "reason": ("execute_handoff",),
    "on_return": ("execute_handoff",),
    "contact_entity": ("leave_message",),
    "message_entity": ("leave_message",),
    "next": ("leave_message",),
    "on_fail": ("leave_message",),
}


class HandoffNode(_Node):
    """A handoff step. ``provide_handoff_options`` shows what can work now and waits: the
    person's pick goes by ``routes`` (else ``otherwise``); ``execute_handoff`` hands the
    conversation to a human, and ``on_return`` says where the flow goes after;
    ``leave_message`` stores the entities ``contact_entity`` and ``message_entity`` as a
    message for the bot's agents (``message.left`` fires), shows ``messages`` and goes to
    ``next`` — if it cannot be stored, the fallback is said and the flow goes to
    ``on_fail`` (none: the conversation ends)."""

    type: Literal["handoff"]
    mode: HandoffMode
    messages: list[Message] = Field(default_factory=list, max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    team: str | None = Field(default=None, min_length=1, max_length=100)
    routes: dict[str, NodeRef] = Field(default_factory=dict)
    otherwise: NodeRef | None = None
    if_unavailable: NodeRef | None = None
    on_return: OnReturn | None = None
    contact_entity: str = Field(default="contact", pattern=NAME)
    message_entity: str = Field(default="message", pattern=NAME)
    next: NodeRef | None = None
    on_fail: NodeRef | None = None

    _messages = field_validator("messages")(_check_messages)

    @field_validator(*_MODE_FIELDS)
    @classmethod
    def _of_mode(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only on fields the file gives; ``mode`` is declared first, so it is known.
        modes = _MODE_FIELDS[str(info.field_name)]
        mode = info.data.get("mode")
        if mode is not None and mode not in modes:
            raise ValueError(f"is for mode {' or '.join(modes)}, not {mode}")
        return value

    @model_validator(mode="after")
    def _needs_next(self) -> HandoffNode:
        if self.mode == "leave_message" and self.next is None:
            raise ValueError("a leave_message node needs next")
        return self

    @field_validator("reason")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            check_template(value)
        return value


class EndNode(_Node):
    """Say goodbye; the next message starts the flow again with nothing collected."""

    type: Literal["end"]
    messages: list[Message] = Field(default_factory=list, max_length=20)

    _messages = field_validator("messages")(_check_messages)


AnyNode = SayNode | AskNode | ActionNode | BranchNode | HandoffNode | EndNode
Node = Annotated[AnyNode, Field(discriminator="type")]


class Flow(_Model):
    """A bot's whole flow file."""

    version: Literal[1] = 1
    name: str | None = Field(default=None, max_length=200)
    start: NodeRef
    fallback: str | None = Field(default=None, min_length=1, max_length=1000)
    """Said on a bot break or a template that fails; the bot's ``fallback_message`` else."""
    no_match: list[Message] = Field(
        default_factory=lambda: _texts("Sorry, I didn't get that."), max_length=20
    )
    with_agent: str | None = Field(default="You're chatting with an agent.", max_length=1000)
    actions: dict[Annotated[str, Field(pattern=ACTION)], str] = Field(default_factory=dict)
    """Custom actions the file ships with: name → code file, relative to the flow file."""
    triggers: list[Trigger] = Field(default_factory=list, max_length=100)
    on_return: OnReturn | None = None
    presets: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the preset dialogues (``Presets.merged``), checked on save."""
    nodes: list[Node] = Field(min_length=1, max_length=500)

    _messages = field_validator("no_match")(_check_messages)

    @functools.cached_property
    def index(self) -> dict[str, AnyNode]:
        """The nodes by id (the loader checked every reference)."""
        return {n.id: n for n in self.nodes}
