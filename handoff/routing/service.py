"""The handoff core's one door: what sockets and REST handlers may ask of routing.

The edge validates input and calls these methods, never a repository or the
routing state. Behind the facade each concept has its own module: the bot side
(:mod:`.bot_side`, :mod:`.availability`), the widget session (:mod:`.widget_session`), the queue
(:mod:`.queueing`), assignment (:mod:`.dispatch`), closing (:mod:`.closing`),
agent presence (:mod:`.presence`), agent actions (:mod:`.agent_actions`,
:mod:`.transfers`), supervisors (:mod:`.oversight`), deadlines (:mod:`.timers`),
recovery (:mod:`.recovery`) and processes' heartbeats (:mod:`.liveness`).
"""

from __future__ import annotations

from collections.abc import Collection

from handoff.config import Settings
from handoff.dialogues.presets import Presets
from handoff.errors import HandoffError
from handoff.routing.admin_agents import AdminAgents
from handoff.routing.admin_bots import AdminBots
from handoff.routing.admin_teams import AdminTeams
from handoff.routing.agent_actions import AgentActions
from handoff.routing.availability import Availability
from handoff.routing.bot_side import BotSide
from handoff.routing.bots import BotDirectory
from handoff.routing.canned import CannedResponses
from handoff.routing.closing import Closer
from handoff.routing.colleagues import Colleagues
from handoff.routing.context import Context, Stores
from handoff.routing.dispatch import Dispatcher
from handoff.routing.liveness import Liveness
from handoff.routing.messages_left import MessagesLeft
from handoff.routing.notes import ConversationNotes
from handoff.routing.notifier import Notifier
from handoff.routing.oversight import Oversight
from handoff.routing.presence import AgentPresence
from handoff.routing.queueing import Queue
from handoff.routing.recovery import recover
from handoff.routing.refusals import AgentDisabled, AgentGone, PasswordChanged
from handoff.routing.shared_state import RoutingState
from handoff.routing.stats import Statistics
from handoff.routing.timers import Timers
from handoff.routing.transfers import Transfers
from handoff.routing.widget_session import BindResult, WidgetSession
from handoff.security import Grant
from handoff.storage.agents import AgentRecord
from handoff.storage.bots import BotRepo

__all__ = ["BindResult", "HandoffService", "Stores"]


class HandoffService:
    """The operations of the handoff core, each carried out by the part that owns it.

    The operations are the parts' own methods, bound here (no wrapper in between:
    ``user_message`` is on every message's path), so their signatures and
    docstrings are read where they are written.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        bots: BotRepo,
        stores: Stores,
        state: RoutingState,
        notifier: Notifier,
        presets: Presets,
    ) -> None:
        ctx = Context(settings, stores, BotDirectory(bots), state, notifier)
        self._ctx = ctx
        queue = Queue(ctx)
        dispatcher = Dispatcher(ctx, queue)
        closer = Closer(ctx, dispatcher)
        widgets = WidgetSession(ctx, queue, dispatcher)
        presence = AgentPresence(ctx, queue, dispatcher)
        actions = AgentActions(ctx, queue, dispatcher, closer)
        timers = Timers(ctx, closer, presence)
        self._queue = queue
        availability = Availability(ctx, presets)
        self.presets = presets
        """The shipped preset dialogues (a bot's own: ``use_presets``)."""

        # bots
        self.bot_for_key = ctx.bots.by_api_key
        self.bot = ctx.bots.get
        self.update_bot = ctx.bots.update
        self.handoff_options = availability.handoff_options
        self.create_handoff = BotSide(ctx, availability).create_handoff
        self.handoff_placement = availability.placement
        self.use_presets = availability.use_presets
        self.conversation = ctx.conversation
        left = MessagesLeft(ctx)
        self.leave_message = left.leave
        self.offline_messages_for = left.for_agent
        self.offline_message_handled = left.handled
        # widgets
        self.widget_generation = widgets.generation
        self.bind_widget = widgets.bind
        self.widget_left = widgets.left
        self.user_message = widgets.message
        self.store_transcript = widgets.transcript
        self.user_typing = widgets.typing
        self.widget_delivered = widgets.delivered
        # agents
        self.describe_agent = presence.describe
        self.agent_connected = presence.connected
        self.agent_disconnected = presence.disconnected
        self.set_status = presence.set_status
        self.queue_for = actions.queue_for
        self.accept = actions.accept
        self.agent_message = actions.send
        self.agent_typing = actions.typing
        transfers = Transfers(ctx, actions, queue, dispatcher)
        self.transfer = transfers.transfer
        self.close = actions.close
        self.history = actions.history
        # supervisors
        oversight = Oversight(ctx, transfers, dispatcher, queue)
        self.conversations_in_progress = oversight.in_progress
        self.watch = oversight.watch
        self.unwatched = oversight.unwatched
        self.take_over = oversight.take_over
        # the console's REST side
        colleagues = Colleagues(ctx)
        self.agent_profile = colleagues.profile
        self.colleagues = colleagues.of_bot
        self.canned = CannedResponses(ctx)
        """Canned responses of a bot: ``list``, ``create``, ``update``, ``delete``."""
        notes = ConversationNotes(ctx, actions)
        self.notes = notes.notes
        self.add_note = notes.add_note
        self.set_tags = notes.set_tags
        # the supervisor's dashboard
        self.stats = Statistics(ctx, ctx.stores.stats)
        """The dashboard's numbers: ``period`` (GET /api/v1/stats) and ``live``."""
        # the admin pages (each checks the caller's role)
        self.admin_bots = AdminBots(ctx)
        """Bots: ``visible``, ``create``, ``rotate_key``."""
        self.admin_agents = AdminAgents(ctx)
        """Agents: ``all``, ``get``, ``create``, ``update``, ``reset_password``, ``delete``."""
        self.admin_teams = AdminTeams(ctx)
        """A bot's teams: ``of_bot``, ``set_members``, ``rename``, ``delete``."""
        # housekeeping
        self.sweep = timers.sweep
        liveness = Liveness(ctx, queue, widgets, presence)
        self.heartbeat = liveness.beat
        """This process's heartbeat, reaping dead processes, rebuilding a lost state."""
        self.heartbeat_ttl = liveness.ttl

    async def authenticate(self, email: str, password: str) -> AgentRecord | None:
        """The agent with these credentials, or None."""
        return await self._ctx.stores.agents.authenticate(email, password)

    async def find_agent(self, agent_id: str) -> AgentRecord | None:
        """The agent's stored record, or None when it no longer exists."""
        return await self._ctx.stores.agents.get(agent_id)

    async def signed_in_agent(self, grant: Grant, *, field: str = "token") -> AgentRecord:
        """The agent a valid token names, if they may still work.

        Raises :class:`AgentGone` (deleted), :class:`AgentDisabled` or
        :class:`PasswordChanged` (the token predates the last password change), naming
        ``field``.
        """
        record = await self._ctx.stores.agents.get(grant.agent_id)
        error = _refusal(record, grant)
        if error is not None:
            error.field = field
            raise error
        assert record is not None
        return record

    async def grants_refused(self, grants: Collection[Grant]) -> dict[Grant, HandoffError]:
        """Of ``grants`` (open sockets' tokens), those whose agent may no longer work with
        them, with why; one read for all."""
        records = await self._ctx.stores.agents.get_many({g.agent_id for g in grants})
        refused: dict[Grant, HandoffError] = {}
        for grant in grants:
            error = _refusal(records.get(grant.agent_id), grant)
            if error is not None:
                refused[grant] = error
        return refused

    async def recover(self) -> int:
        """Rebuild empty routing state from the database; returns the open conversations seen."""
        return await recover(self._ctx, self._queue)

    async def health(self) -> None:
        """Raise :class:`StorageUnavailable` unless the writer runs and the database takes writes.

        While writes are failing this tries one, so that it answers again once they succeed.
        """
        await self._ctx.stores.writer.check()


def _refusal(record: AgentRecord | None, grant: Grant) -> HandoffError | None:
    if record is None:
        return AgentGone()
    if record.disabled:
        return AgentDisabled()
    if record.token_revoked(grant.signed_at):
        return PasswordChanged()
    return None
