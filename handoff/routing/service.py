"""The handoff core's one door: what sockets and REST handlers may ask of routing.

The edge validates input and calls these methods, never a repository or the
routing state. Behind the facade each concept has its own module: the bot side
(:mod:`.bot_side`), the widget session (:mod:`.widget_session`), the queue
(:mod:`.queueing`), assignment (:mod:`.dispatch`), closing (:mod:`.closing`),
agent presence (:mod:`.presence`), agent actions (:mod:`.agent_actions`,
:mod:`.transfers`), deadlines (:mod:`.timers`) and recovery (:mod:`.recovery`).
"""

from __future__ import annotations

from typing import Any

from handoff.config import Settings
from handoff.errors import StorageUnavailable
from handoff.protocol.common import (
    AgentView,
    ConversationView,
    MessageView,
    QueueEntryView,
    TranscriptItem,
)
from handoff.routing.agent_actions import AgentActions
from handoff.routing.bot_side import BotSide
from handoff.routing.bots import BotDirectory
from handoff.routing.closing import Closer
from handoff.routing.context import Context, Stores
from handoff.routing.dispatch import Dispatcher
from handoff.routing.model import AgentStatus
from handoff.routing.notifier import Notifier
from handoff.routing.presence import AgentPresence
from handoff.routing.queueing import Queue
from handoff.routing.recovery import recover
from handoff.routing.shared_state import RoutingState
from handoff.routing.timers import Timers
from handoff.routing.transfers import Transfers
from handoff.routing.widget_session import BindResult, WidgetSession
from handoff.storage.agents import AgentRecord
from handoff.storage.bots import BotRecord, BotRepo

__all__ = ["BindResult", "HandoffService", "Stores"]


class HandoffService:
    def __init__(
        self,
        settings: Settings,
        *,
        bots: BotRepo,
        stores: Stores,
        state: RoutingState,
        notifier: Notifier,
    ) -> None:
        ctx = Context(settings, stores, BotDirectory(bots), state, notifier)
        self._ctx = ctx
        self._queue = Queue(ctx)
        dispatcher = Dispatcher(ctx, self._queue)
        closer = Closer(ctx, dispatcher)
        self._bot_side = BotSide(ctx)
        self._widgets = WidgetSession(ctx, self._queue, dispatcher)
        self._presence = AgentPresence(ctx, self._queue, dispatcher)
        self._actions = AgentActions(ctx, self._queue, dispatcher, closer)
        self._transfers = Transfers(ctx, self._actions, self._queue, dispatcher)
        self._timers = Timers(ctx, closer, self._presence)

    # bots ------------------------------------------------------------------
    async def bot_for_key(self, api_key: str) -> BotRecord | None:
        """The bot an API key belongs to."""
        return await self._ctx.bots.by_api_key(api_key)

    async def update_bot(self, bot_id: str, changes: dict[str, Any]) -> BotRecord:
        """Store a bot's new settings; routing uses them from the next step on."""
        return await self._ctx.bots.update(bot_id, changes)

    async def create_handoff(
        self,
        bot: BotRecord,
        *,
        conversation_id: str | None,
        user: dict[str, Any],
        reason: str | None,
        entities: dict[str, Any],
        team: str | None,
    ) -> ConversationView:
        """``execute_handoff``: a new conversation waiting for its widget, or the open one again."""
        return await self._bot_side.create_handoff(
            bot,
            conversation_id=conversation_id,
            user=user,
            reason=reason,
            entities=entities,
            team=team,
        )

    async def conversation(
        self, conversation_id: str, *, field: str = "ConversationID"
    ) -> ConversationView:
        return await self._ctx.conversation(conversation_id, field=field)

    # widgets ---------------------------------------------------------------
    async def bind_widget(
        self, conversation_id: str, bot_id: str, *, resume_after_seq: int | None
    ) -> BindResult:
        return await self._widgets.bind(conversation_id, bot_id, resume_after_seq=resume_after_seq)

    async def widget_left(self, conversation_id: str) -> None:
        await self._widgets.left(conversation_id)

    async def user_message(self, conversation_id: str, text: str) -> MessageView:
        return await self._widgets.message(conversation_id, text)

    async def store_transcript(
        self, conversation_id: str, bot_id: str, items: list[TranscriptItem]
    ) -> None:
        await self._widgets.transcript(conversation_id, bot_id, items)

    async def user_typing(self, conversation_id: str, typing: bool) -> None:
        await self._widgets.typing(conversation_id, typing)

    # agents ----------------------------------------------------------------
    async def authenticate(self, email: str, password: str) -> AgentRecord | None:
        """The agent with these credentials, or None."""
        return await self._ctx.stores.agents.authenticate(email, password)

    async def find_agent(self, agent_id: str) -> AgentRecord | None:
        """The agent's stored record, or None when it no longer exists."""
        return await self._ctx.stores.agents.get(agent_id)

    async def describe_agent(self, record: AgentRecord) -> AgentView:
        """The agent with their live status and load."""
        return await self._presence.describe(record)

    async def agent_connected(self, record: AgentRecord) -> list[str]:
        return await self._presence.connected(record)

    async def agent_disconnected(self, agent_id: str) -> None:
        await self._presence.disconnected(agent_id)

    async def set_status(
        self, record: AgentRecord, status: AgentStatus, capacity: int | None
    ) -> AgentView:
        return await self._presence.set_status(record, status, capacity)

    async def queue_for(self, record: AgentRecord, bot_id: str | None) -> list[QueueEntryView]:
        return await self._actions.queue_for(record, bot_id)

    async def accept(self, record: AgentRecord, conversation_id: str) -> ConversationView:
        return await self._actions.accept(record, conversation_id)

    async def agent_message(
        self, record: AgentRecord, conversation_id: str, text: str, client_msg_id: str | None
    ) -> MessageView:
        return await self._actions.send(record, conversation_id, text, client_msg_id)

    async def agent_typing(self, record: AgentRecord, conversation_id: str, typing: bool) -> None:
        await self._actions.typing(record, conversation_id, typing)

    async def transfer(
        self,
        record: AgentRecord,
        conversation_id: str,
        *,
        to_agent_id: str | None,
        to_team: str | None,
        note: str | None,
    ) -> ConversationView:
        return await self._transfers.transfer(
            record, conversation_id, to_agent_id=to_agent_id, to_team=to_team, note=note
        )

    async def close(
        self, record: AgentRecord, conversation_id: str, outcome: str | None
    ) -> ConversationView:
        return await self._actions.close(record, conversation_id, outcome)

    async def history(
        self, record: AgentRecord, conversation_id: str, after_seq: int, limit: int
    ) -> list[MessageView]:
        return await self._actions.history(record, conversation_id, after_seq, limit)

    # housekeeping ----------------------------------------------------------
    async def sweep(self, now: float | None = None) -> int:
        """Act on every deadline that has passed; returns how many."""
        return await self._timers.sweep(now)

    async def recover(self) -> int:
        """Rebuild empty routing state from the database; returns the open conversations seen."""
        return await recover(self._ctx, self._queue)

    async def health(self) -> None:
        """Raise :class:`StorageUnavailable` unless the database answers and the writer runs."""
        stores = self._ctx.stores
        if not stores.writer.running:
            raise StorageUnavailable("the message writer is not running", field="database")
        try:
            await stores.conversations.ping()
        except Exception as exc:
            raise StorageUnavailable(
                f"the database does not answer: {type(exc).__name__}", field="database"
            ) from exc
