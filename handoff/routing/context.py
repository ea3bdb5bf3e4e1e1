"""What every part of the routing service shares: stores, state, sockets, and two habits.

The parts (bot side, widget session, queue, dispatch, presence, agent actions,
timers, recovery) each take one :class:`Context`; the look-ups and the one way
to move a conversation live here so that each refusal is made in one place.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handoff.config import Settings
from handoff.errors import BadRequest, TooLarge
from handoff.protocol import events as ev
from handoff.protocol.common import ConversationView
from handoff.routing.bot_events import events_for
from handoff.routing.bots import BotDirectory
from handoff.routing.lifecycle import IllegalTransition, Transition, plan
from handoff.routing.notifier import Notifier
from handoff.routing.refusals import ConversationChanged, InvalidState, UnknownConversation
from handoff.routing.shared_state import WATCHES, RoutingState
from handoff.storage.agents import AgentRepo
from handoff.storage.canned import CannedRepo
from handoff.storage.conversations import ConversationRepo, StaleState
from handoff.storage.messages import MessageRepo
from handoff.storage.notes import NoteRepo
from handoff.storage.offline import OfflineMessageRepo
from handoff.storage.stats import StatsRepo
from handoff.storage.teams import TeamRepo
from handoff.storage.writer import MessageWriter

__all__ = ["WATCHES", "Context", "Stores", "is_blank"]

# Characters that show nothing on their own: formats (zero-width space, joiners, the
# BOM, bidi marks), controls, separators, and marks with no base to sit on.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space (Hangul fillers, the braille blank).
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_blank(text: str) -> bool:
    """True when ``text`` would show nothing: only whitespace and invisible characters."""
    for char in text:
        if char.isspace() or char in _BLANK_GLYPHS:
            continue
        if unicodedata.category(char) not in _INVISIBLE:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Stores:
    """The repositories routing reads and writes (the database side)."""

    agents: AgentRepo
    conversations: ConversationRepo
    messages: MessageRepo
    writer: MessageWriter
    offline: OfflineMessageRepo
    notes: NoteRepo
    canned: CannedRepo
    stats: StatsRepo
    teams: TeamRepo


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    stores: Stores
    bots: BotDirectory
    state: RoutingState
    notifier: Notifier

    async def conversation(
        self, conversation_id: str, *, field: str = "ConversationID"
    ) -> ConversationView:
        """The stored conversation, or :class:`UnknownConversation`."""
        view = await self.stores.conversations.get(conversation_id)
        if view is None:
            raise UnknownConversation(field=field)
        return view

    async def move(
        self, view: ConversationView, transition: Transition, actor: str, **changes: Any
    ) -> ConversationView:
        """Move the conversation by ``transition`` (checked by the table), recorded as ``actor``.

        The webhook events reporting the move are stored with it (same transaction).
        """
        try:
            step = plan(view.state, transition)
        except IllegalTransition as exc:
            raise InvalidState(str(exc)) from None
        try:
            moved = await self.stores.conversations.transition(
                view.conversation_id,
                step,
                actor=actor,
                events=events_for(view, step, changes),
                **changes,
            )
        except StaleState:
            raise ConversationChanged() from None
        # Every move passes here, so supervisors watching it learn each one from one place.
        await self.tell_watchers(
            moved.conversation_id,
            ev.WATCHED_STATE,
            lambda: {"conversation": moved.model_dump(mode="json"), "transition": transition.value},
        )
        return moved

    async def tell_watchers(
        self,
        conversation_id: str,
        event: str,
        data: Callable[[], dict[str, Any]],
        *,
        watchers: int | None = None,
    ) -> None:
        """Emit ``data()`` to the sockets watching the conversation, if any.

        The count of watches is asked first (``watchers``: already known, as a message's
        :meth:`~handoff.routing.shared_state.RoutingState.next_seq` tells it): with
        several processes an emit is a publish to all of them, a cost every message
        would pay for the rare watched conversation. The payload is built only then, so
        an unwatched message costs no serialisation.
        """
        if watchers is None:
            watchers = await self.state.touch_connection(WATCHES, conversation_id, 0)
        if watchers > 0:
            await self.notifier.watchers(conversation_id, event, data())

    async def wait_limit(self, bot_id: str) -> float:
        """How long a conversation of this bot may wait for an agent, in seconds."""
        bot = await self.bots.get(bot_id)
        return bot.wait_limit_seconds or self.settings.default_wait_limit_seconds

    def check_text(self, text: str, field: str) -> None:
        """A chat message must be non-blank and within the size limit."""
        size = len(text.encode())
        if size > self.settings.max_message_bytes:
            raise TooLarge(
                f"{field} is {size} bytes; the limit is {self.settings.max_message_bytes}",
                field=field,
            )
        if is_blank(text):
            raise BadRequest(f"{field} is empty (only spaces or invisible characters)", field=field)
