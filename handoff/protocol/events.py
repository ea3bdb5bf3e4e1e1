"""Event names on the wire. Clients outside this repo depend on them."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["AGENT_NAMESPACE", "WIDGET_NAMESPACE", "WidgetNamespaceName"]

WidgetNamespaceName = Literal["/live_agent"]
"""The widgets' namespace as a type, for models that state it (``Literal`` takes no constant)."""
WIDGET_NAMESPACE: Final[WidgetNamespaceName] = get_args(WidgetNamespaceName)[0]
AGENT_NAMESPACE: Final = "/agent"

# /live_agent, server → widget (the seed protocol)
START_CONVERSATION: Final = "startConversation"
TO_USER: Final = "to_user"
ASK_MESSAGES: Final = "messages"
DISCONNECT_SOCKET: Final = "disconnect_socket"
ERROR: Final = "error"
# /live_agent, server → widget, opt-in extensions
QUEUE_POSITION: Final = "queue_position"
AGENT_TYPING: Final = "agent_typing"

# /live_agent, widget → server
USERNAME: Final = "username"
FROM_USER: Final = "from_user"
MESSAGES_TO_CLIENT: Final = "messages_to_client"
USER_TYPING_IN: Final = "typing"
RECEIVED: Final = "received"
"""Opt-in: the widget has shown every agent message up to a ``seq``."""

# /agent, server → agent
QUEUE_UPDATED: Final = "queue_updated"
CONVERSATION_ASSIGNED: Final = "conversation_assigned"
CONVERSATION_TRANSFERRED: Final = "conversation_transferred"
TRANSCRIPT: Final = "transcript"
USER_MESSAGE: Final = "user_message"
USER_LEFT: Final = "user_left"
USER_RETURNED: Final = "user_returned"
USER_TYPING: Final = "user_typing"
CONVERSATION_CLOSED: Final = "conversation_closed"
CONVERSATION_RELEASED: Final = "conversation_released"
MESSAGES_DELIVERED: Final = "messages_delivered"
"""Every agent message up to ``seq`` has reached a widget connection."""
NOTE_ADDED: Final = "note_added"
OFFLINE_MESSAGE: Final = "offline_message"
OFFLINE_MESSAGE_HANDLED: Final = "offline_message_handled"
WATCHED_MESSAGE: Final = "watched_message"
"""To the sockets watching a conversation (``watch_conversation``): a message, either side."""
WATCHED_TYPING: Final = "watched_typing"
WATCHED_TRANSCRIPT: Final = "watched_transcript"
WATCHED_STATE: Final = "watched_state"
"""A watched conversation moved (assigned, transferred, queued again, closed)."""
UNAUTHORIZED: Final = "unauthorized"
"""The socket's token expired or its agent was deleted or disabled; it is disconnected."""
