"""The refusals routing repeats, each made in one place with its code and words.

Every one is a :class:`~handoff.errors.HandoffError`, so the REST middleware and
the socket guard put it on the wire like any other error. ``field`` differs by
caller: the widget protocol names ids as the seed does (``ConversationID``,
``BotID``), the agent protocol in snake case (``conversation_id``).
"""

from __future__ import annotations

from handoff.errors import Conflict, Forbidden, NotFound, Unauthorized

__all__ = [
    "AgentDisabled",
    "AgentGone",
    "AlreadyAssigned",
    "BotMismatch",
    "ConversationChanged",
    "ConversationClosed",
    "InvalidState",
    "NotAssigned",
    "NotInProgress",
    "NotQueued",
    "NotYourBot",
    "NotYourConversation",
    "PasswordChanged",
    "ReadOnly",
    "UnknownBot",
    "UnknownConversation",
]


class UnknownConversation(NotFound):
    code = "unknown_conversation"

    def __init__(self, *, field: str = "ConversationID") -> None:
        super().__init__(
            "no conversation with this id; the bot must call execute_handoff first", field=field
        )


class UnknownBot(NotFound):
    code = "unknown_bot"

    def __init__(self, bot_id: str, *, field: str = "BotID") -> None:
        super().__init__(f"unknown bot {bot_id!r}", field=field)


class ConversationClosed(Conflict):
    code = "conversation_closed"

    def __init__(self, *, field: str = "ConversationID") -> None:
        super().__init__("this conversation is closed", field=field)


class BotMismatch(Forbidden):
    code = "bot_mismatch"

    def __init__(self, *, field: str = "BotID") -> None:
        super().__init__("the bot id does not match the bot of this conversation", field=field)


class NotYourBot(Forbidden):
    """An agent acting on a conversation of a bot they are not assigned to."""

    def __init__(self, *, field: str = "conversation_id") -> None:
        if field == "bot_id":
            message = "you do not serve this bot"
        else:
            message = "this conversation belongs to a bot you do not serve"
        super().__init__(message, field=field)


class NotYourConversation(Forbidden):
    code = "not_your_conversation"

    def __init__(self) -> None:
        super().__init__("this conversation is not assigned to you", field="conversation_id")


class NotQueued(Conflict):
    code = "not_queued"

    def __init__(self) -> None:
        super().__init__("this conversation is not waiting in the queue", field="conversation_id")


class NotInProgress(Conflict):
    """A supervisor's step into a conversation that is not queued or assigned."""

    code = "not_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "this conversation is not in progress yet: the person's widget has not connected",
            field="conversation_id",
        )


class NotAssigned(Conflict):
    """A supervisor's transfer of a conversation nobody holds."""

    code = "not_assigned"

    def __init__(self) -> None:
        super().__init__(
            "only a conversation an agent holds is transferred; take over a queued one instead",
            field="conversation_id",
        )


class ReadOnly(Forbidden):
    """A socket watching a conversation tried to write in it."""

    code = "read_only"

    def __init__(self) -> None:
        super().__init__(
            "you are watching this conversation read-only; take it over to write in it",
            field="conversation_id",
        )


class AlreadyAssigned(Conflict):
    code = "already_assigned"

    def __init__(self) -> None:
        super().__init__(
            "this conversation was already taken, or you have no free capacity",
            field="conversation_id",
        )


class InvalidState(Conflict):
    """A move the transition table does not allow from the conversation's state."""

    code = "invalid_state"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="conversation_id")


class ConversationChanged(Conflict):
    """The conversation moved on between reading it and moving it (another request won)."""

    def __init__(self) -> None:
        super().__init__("the conversation changed meanwhile; try again", field="conversation_id")


class AgentDisabled(Forbidden):
    """The agent was disabled by an operator (``handoff disable-agent``)."""

    code = "agent_disabled"

    def __init__(self, *, field: str = "token") -> None:
        super().__init__("this agent is disabled; ask an administrator to enable it", field=field)


class AgentGone(Unauthorized):
    """A valid token of an agent that was deleted since."""

    def __init__(self, *, field: str = "token") -> None:
        super().__init__("this agent no longer exists", field=field)


class PasswordChanged(Unauthorized):
    """A token signed before the agent's password was last changed (a reset signs out)."""

    def __init__(self, *, field: str = "token") -> None:
        super().__init__("the password was changed since this sign-in; sign in again", field=field)
