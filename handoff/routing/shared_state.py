"""The shared routing state: queue, presence, assignments, deadlines, sequence numbers.

Also what queued people and agents were last told, so that a second process
announces a change once, not once per process.

This is an interface, not a cache: every operation is a single atomic step
(``claim`` checks capacity and takes the conversation off the queue at once),
so an implementation backed by Redis can serve many server processes. The
in-process implementation is the embedded default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple, Protocol

from handoff.routing.model import AgentStatus, Presence, QueueEntry

__all__ = [
    "WATCHES",
    "Beat",
    "DeadlineKind",
    "Delivery",
    "Numbered",
    "Reach",
    "Released",
    "RoutingState",
]

WATCHES = "watch"
"""The connection count of a conversation's watches (supervisors)."""

DeadlineKind = str
"""``widget`` (grace after a widget left), ``agent`` (grace after an agent left), ``wait``."""


class Numbered(NamedTuple):
    """What :meth:`RoutingState.next_seq` hands out for a message."""

    seq: int
    watchers: int
    """The conversation's watch count (supervisors), read in the same step."""


class Delivery(NamedTuple):
    """What :meth:`RoutingState.mark_widget_sent` read, in the same step."""

    widgets: int
    """The conversation's widget sockets, on every process."""
    widgets_elsewhere: int
    """Of them, those on other processes: 0, and an emit need not leave this one."""
    agent_sockets: int
    """The sending agent's sockets, on every process."""


class Reach(NamedTuple):
    """Whom a person's message goes to: :meth:`RoutingState.agent_reach`."""

    agent_id: str
    elsewhere: int
    """The agent's sockets on other processes: 0, and an emit need not leave this one."""


class Released(NamedTuple):
    """A connection count that a dead process's sockets held and that is now 0."""

    kind: str
    key: str
    last_beat: float
    """The dead process's last heartbeat (Unix seconds, its clock)."""


class Beat(StrEnum):
    """What a heartbeat found."""

    OK = "ok"
    REAPED = "reaped"
    """This process had been taken for dead (its heartbeat expired): its counts are gone."""
    LOST = "lost"
    """The state itself is gone (Redis restarted empty, or failed over): rebuild it."""


class RoutingState(Protocol):
    async def initialize(self) -> bool:
        """Prepare the state; True when it is empty and must be rebuilt from the database.

        Of many processes only one gets True; it calls :meth:`rebuilt` when done.
        """

    async def rebuilt(self) -> None:
        """The rebuild that :meth:`initialize` asked for is done."""

    async def ready(self) -> bool:
        """The state is there and rebuilt (False: lost, or being rebuilt)."""

    async def close(self) -> None:
        """Let go of the state; this process's connection counts go to the next reaper."""

    # processes: each counts its own sockets, and a dead one's counts are taken away
    @property
    def process_id(self) -> str:
        """This server process's id, under which it counts its sockets."""

    async def heartbeat(self, ttl: float) -> Beat:
        """Say this process is alive for ``ttl`` seconds more."""

    async def reap(self) -> list[Released]:
        """Take away the counts of every process whose heartbeat expired.

        Each dead process is taken by one caller only; returns the counts that thereby
        reached 0 (the caller does what the last socket leaving would have done).
        """

    # presence
    async def put_agent(self, presence: Presence) -> Presence:
        """Store the agent's presence; the load already assigned to them is kept."""

    async def update_agent(
        self,
        agent_id: str,
        *,
        fresh: Presence | None = None,
        name: str | None = None,
        status: AgentStatus | None = None,
        connected: bool | None = None,
        capacity: int | None = None,
        bots: tuple[str, ...] | None = None,
        teams: dict[str, list[str]] | None = None,
    ) -> Presence | None:
        """Atomically change the given fields (None: unchanged) of the agent's presence.

        Unlike ``get_agent`` then ``put_agent``, no other change to the agent can land in
        between and be lost. The load and the last assignment time are kept. An unknown
        agent starts from ``fresh``; without one nothing is stored and None is returned.
        """

    async def get_agent(self, agent_id: str) -> Presence | None: ...

    async def agents_for_bot(self, bot_id: str) -> list[Presence]: ...

    async def touch_connection(self, kind: str, key: str, delta: int) -> int:
        """Add ``delta`` to this process's live socket count of a widget conversation,
        an agent or a watch; returns the count over every process."""

    # queue
    async def enqueue(self, entry: QueueEntry, *, at_head: bool = False) -> int:
        """Queue a conversation (no-op when already queued); returns its 1-based position.

        The queue is ordered by ``entry.priority`` (higher first), first come, first
        served within one priority; ``at_head`` puts it first among its own priority.
        """

    async def dequeue(self, bot_id: str, conversation_id: str) -> bool: ...

    async def queue(self, bot_id: str) -> list[QueueEntry]: ...

    async def position(self, bot_id: str, conversation_id: str) -> int | None: ...

    # assignment
    async def claim(
        self, bot_id: str, conversation_id: str, agent_id: str, *, step_in: bool = False
    ) -> QueueEntry | None:
        """Atomically take a queued conversation for an available agent.

        Returns the queue entry taken (to put back with ``enqueue(at_head=True)`` if
        storing the assignment fails), or None when the conversation or the agent was lost.
        ``step_in``: a supervisor taking it over; see :meth:`move`.
        """

    async def move(
        self,
        conversation_id: str,
        from_agent: str,
        to_agent: str,
        bot_id: str,
        *,
        step_in: bool = False,
    ) -> bool:
        """Atomically hand an assigned conversation to another available agent.

        ``step_in``: ``to_agent`` is a supervisor taking it over, who needs only to serve
        the bot and be connected; their status and capacity do not stop them.
        """

    async def release(self, conversation_id: str) -> str | None:
        """End an assignment; returns the agent who had it."""

    async def assign_recovered(self, conversation_id: str, agent_id: str) -> None:
        """Record an assignment read back from the database after a restart."""

    async def assigned_agent(self, conversation_id: str) -> str | None: ...

    async def agent_reach(self, conversation_id: str) -> Reach | None:
        """The assigned agent and how many of their sockets other processes count, read in
        one step (one call per relayed message); None when nobody is assigned.

        Read after the message is stored: a socket counted later (on another process)
        gets it from the database (see the agent protocol's ``conversation_assigned``).
        """

    async def agent_conversations(self, agent_id: str) -> list[str]: ...

    # deadlines
    async def set_deadline(
        self, kind: DeadlineKind, key: str, at: float, *, keep_newer: bool = False
    ) -> None:
        """Set (or move) the key's deadline; ``keep_newer``: leave one set meanwhile alone."""

    async def clear_deadline(self, kind: DeadlineKind, key: str) -> bool: ...

    async def pop_due(self, kind: DeadlineKind, now: float) -> list[str]:
        """Remove and return the keys whose deadline has passed (each to one caller only)."""

    # sequence numbers, handoff generations and delivery marks
    async def next_seq(
        self,
        conversation_id: str,
        *,
        generation: int | None = None,
        assigned_to: str | None = None,
    ) -> Numbered | None:
        """The next sequence number of an open conversation; None once it is closed.

        ``generation``: only for that handoff of the conversation (None when it ended,
        even if the conversation was reopened since). ``assigned_to``: only while the
        conversation is assigned to that agent (None otherwise, and no number is used).
        With it comes the watch count, in the same step: a message costs one call to
        the state. Raises
        :class:`~handoff.errors.StateUnavailable` while the state is lost and not rebuilt.
        """

    async def seed_seq(self, conversation_id: str, value: int) -> None:
        """Open the conversation's counter; the next number is at least ``value + 1``.

        Opening a closed (or never opened) conversation starts a new handoff: it gets a
        generation number no earlier handoff of any conversation had.
        """

    async def generation(self, conversation_id: str) -> int | None:
        """The generation of the conversation's current handoff; None when it is closed."""

    async def mark_widget_seen(self, conversation_id: str, seq: int) -> None: ...

    async def mark_widget_sent(self, conversation_id: str, seq: int, *, agent_id: str) -> Delivery:
        """An agent's message ``seq`` is stored and about to be emitted: if a widget
        socket of the conversation is counted, it reaches the widget, so move the
        delivery mark to ``seq``.

        Returns the socket counts read in the same step (one call per relayed agent
        message). A widget socket counted later binds and gets it from the database.
        """

    async def widget_seen(self, conversation_id: str) -> int: ...

    async def mark_widget_lost(self, conversation_id: str, at: float) -> None:
        """A widget socket left; what was sent to the conversation after ``at`` (Unix
        seconds) may not have reached it. The earliest time not yet taken is kept."""

    async def take_widget_lost(self, conversation_id: str) -> float | None:
        """The time kept by :meth:`mark_widget_lost` (None if none), cleared at once."""

    async def forget(self, conversation_id: str) -> None:
        """Drop per-conversation counters (and the announced position) once it is closed."""

    # what queued people and agents were last told
    async def announce_position(self, conversation_id: str, position: int) -> bool:
        """Record the queue position told to the person; False when that one was told already."""

    async def forget_position(self, conversation_id: str) -> None:
        """The person should be told their position again (they left the queue or rebound)."""

    async def queue_changed(self, bot_id: str, snapshot: tuple[str, ...]) -> bool:
        """Record the bot's queue (conversation ids in order); False when agents saw it already."""
