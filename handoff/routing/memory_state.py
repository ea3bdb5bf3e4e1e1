"""The in-process :class:`RoutingState`: the embedded default for one server process.

No method awaits between reading and writing, so each is atomic under asyncio.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections import defaultdict

from handoff.routing.model import AgentStatus, Presence, QueueEntry
from handoff.routing.shared_state import WATCHES, Beat, Delivery, Numbered, Reach, Released

__all__ = ["MemoryState"]


class MemoryState:
    def __init__(self) -> None:
        self._agents: dict[str, Presence] = {}
        self._connections: dict[tuple[str, str], int] = defaultdict(int)
        self._queues: dict[str, list[QueueEntry]] = defaultdict(list)
        self._assigned: dict[str, str] = {}
        self._by_agent: dict[str, set[str]] = defaultdict(set)
        self._deadlines: dict[str, dict[str, float]] = defaultdict(dict)
        self._heaps: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self._seq: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._generation: dict[str, int] = {}
        self._generations = itertools.count(1)
        self._lost: dict[str, float] = {}
        self._announced: dict[str, int] = {}
        self._last_queue: dict[str, tuple[str, ...]] = {}
        self._initialized = False

    async def initialize(self) -> bool:
        first = not self._initialized
        self._initialized = True
        return first

    async def rebuilt(self) -> None:
        return None

    async def ready(self) -> bool:
        return self._initialized

    async def close(self) -> None:
        return None

    # processes: there is only this one --------------------------------------
    @property
    def process_id(self) -> str:
        return "local"

    async def heartbeat(self, ttl: float) -> Beat:
        return Beat.OK

    async def reap(self) -> list[Released]:
        return []

    # presence ---------------------------------------------------------------
    async def put_agent(self, presence: Presence) -> Presence:
        old = self._agents.get(presence.agent_id)
        if old is not None:
            presence.last_assigned_at = old.last_assigned_at
        presence.load = len(self._by_agent.get(presence.agent_id, ()))
        self._agents[presence.agent_id] = presence
        return dataclasses.replace(presence)

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
        if fresh is not None and fresh.agent_id != agent_id:
            raise ValueError(f"fresh is agent {fresh.agent_id!r}, not {agent_id!r}")
        agent = self._agents.get(agent_id)
        if agent is None:
            if fresh is None:
                return None
            agent = dataclasses.replace(fresh, load=len(self._by_agent.get(agent_id, ())))
            self._agents[agent_id] = agent
        if name is not None:
            agent.name = name
        if status is not None:
            agent.status = status
        if connected is not None:
            agent.connected = connected
        if capacity is not None:
            agent.capacity = capacity
        if bots is not None:
            agent.bots = bots
        if teams is not None:
            agent.teams = teams
        return dataclasses.replace(agent)

    async def get_agent(self, agent_id: str) -> Presence | None:
        agent = self._agents.get(agent_id)
        return dataclasses.replace(agent) if agent else None

    async def agents_for_bot(self, bot_id: str) -> list[Presence]:
        return [dataclasses.replace(a) for a in self._agents.values() if bot_id in a.bots]

    async def touch_connection(self, kind: str, key: str, delta: int) -> int:
        k = (kind, key)
        value = max(0, self._connections[k] + delta)
        if value:
            self._connections[k] = value
        else:
            self._connections.pop(k, None)
        return value

    # queue ------------------------------------------------------------------
    async def enqueue(self, entry: QueueEntry, *, at_head: bool = False) -> int:
        queue = self._queues[entry.bot_id]
        for i, existing in enumerate(queue):
            if existing.conversation_id == entry.conversation_id:
                return i + 1
        # Behind every higher priority; at the head of its own, or behind its own.
        if at_head:
            at = next((i for i, e in enumerate(queue) if e.priority <= entry.priority), len(queue))
        else:
            at = next((i for i, e in enumerate(queue) if e.priority < entry.priority), len(queue))
        queue.insert(at, entry)
        return at + 1

    async def dequeue(self, bot_id: str, conversation_id: str) -> bool:
        return self._remove(bot_id, conversation_id) is not None

    async def queue(self, bot_id: str) -> list[QueueEntry]:
        return list(self._queues.get(bot_id, ()))

    async def position(self, bot_id: str, conversation_id: str) -> int | None:
        for i, entry in enumerate(self._queues.get(bot_id, ())):
            if entry.conversation_id == conversation_id:
                return i + 1
        return None

    def _remove(self, bot_id: str, conversation_id: str) -> QueueEntry | None:
        queue = self._queues.get(bot_id)
        if not queue:
            return None
        for i, entry in enumerate(queue):
            if entry.conversation_id == conversation_id:
                del queue[i]
                return entry
        return None

    # assignment -------------------------------------------------------------
    def _can_take(self, agent_id: str, bot_id: str, step_in: bool = False) -> Presence | None:
        agent = self._agents.get(agent_id)
        if agent is None or bot_id not in agent.bots:
            return None
        if not (agent.connected if step_in else agent.available()):
            return None
        return agent

    def _assign(self, conversation_id: str, agent: Presence) -> None:
        self._assigned[conversation_id] = agent.agent_id
        self._by_agent[agent.agent_id].add(conversation_id)
        agent.load = len(self._by_agent[agent.agent_id])
        agent.last_assigned_at = time.time()

    async def claim(
        self, bot_id: str, conversation_id: str, agent_id: str, *, step_in: bool = False
    ) -> QueueEntry | None:
        agent = self._can_take(agent_id, bot_id, step_in)
        if agent is None or conversation_id in self._assigned:
            return None
        entry = self._remove(bot_id, conversation_id)
        if entry is None:
            return None
        self._assign(conversation_id, agent)
        return entry

    async def move(
        self,
        conversation_id: str,
        from_agent: str,
        to_agent: str,
        bot_id: str,
        *,
        step_in: bool = False,
    ) -> bool:
        if self._assigned.get(conversation_id) != from_agent or from_agent == to_agent:
            return False
        agent = self._can_take(to_agent, bot_id, step_in)
        if agent is None:
            return False
        self._unassign(conversation_id)
        self._assign(conversation_id, agent)
        return True

    def _unassign(self, conversation_id: str) -> str | None:
        agent_id = self._assigned.pop(conversation_id, None)
        if agent_id is not None:
            owned = self._by_agent[agent_id]
            owned.discard(conversation_id)
            if agent_id in self._agents:
                self._agents[agent_id].load = len(owned)
        return agent_id

    async def release(self, conversation_id: str) -> str | None:
        return self._unassign(conversation_id)

    async def assign_recovered(self, conversation_id: str, agent_id: str) -> None:
        self._assigned[conversation_id] = agent_id
        self._by_agent[agent_id].add(conversation_id)
        # Counted at once, as ``_assign`` does, should the agent be known already.
        if agent_id in self._agents:
            self._agents[agent_id].load = len(self._by_agent[agent_id])

    async def assigned_agent(self, conversation_id: str) -> str | None:
        return self._assigned.get(conversation_id)

    async def agent_reach(self, conversation_id: str) -> Reach | None:
        agent_id = self._assigned.get(conversation_id)
        return None if agent_id is None else Reach(agent_id, 0)  # one process: all here

    async def agent_conversations(self, agent_id: str) -> list[str]:
        return sorted(self._by_agent.get(agent_id, ()))

    # deadlines --------------------------------------------------------------
    async def set_deadline(
        self, kind: str, key: str, at: float, *, keep_newer: bool = False
    ) -> None:
        if keep_newer and key in self._deadlines[kind]:
            return
        self._deadlines[kind][key] = at
        heapq.heappush(self._heaps[kind], (at, key))

    async def clear_deadline(self, kind: str, key: str) -> bool:
        return self._deadlines[kind].pop(key, None) is not None

    async def pop_due(self, kind: str, now: float) -> list[str]:
        heap, live, due = self._heaps[kind], self._deadlines[kind], []
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            # Stale heap entries (cleared or moved deadlines) are skipped here
            # rather than searched for and removed when they change.
            if live.get(key) == at:
                del live[key]
                due.append(key)
        return due

    # sequence numbers -------------------------------------------------------
    async def next_seq(
        self,
        conversation_id: str,
        *,
        generation: int | None = None,
        assigned_to: str | None = None,
    ) -> Numbered | None:
        current = self._seq.get(conversation_id)
        if current is None:
            return None
        if generation is not None and self._generation.get(conversation_id) != generation:
            return None
        if assigned_to is not None and self._assigned.get(conversation_id) != assigned_to:
            return None
        self._seq[conversation_id] = current + 1
        watchers = self._connections.get((WATCHES, conversation_id), 0)
        return Numbered(current + 1, watchers)

    async def seed_seq(self, conversation_id: str, value: int) -> None:
        if conversation_id not in self._seq:
            self._generation[conversation_id] = next(self._generations)
        if self._seq.get(conversation_id, -1) < value:
            self._seq[conversation_id] = value

    async def generation(self, conversation_id: str) -> int | None:
        return self._generation.get(conversation_id)

    async def mark_widget_seen(self, conversation_id: str, seq: int) -> None:
        if self._seen.get(conversation_id, 0) < seq:
            self._seen[conversation_id] = seq

    async def mark_widget_sent(self, conversation_id: str, seq: int, *, agent_id: str) -> Delivery:
        widgets = self._connections.get(("widget", conversation_id), 0)
        if widgets:
            await self.mark_widget_seen(conversation_id, seq)
        return Delivery(widgets, 0, self._connections.get(("agent", agent_id), 0))

    async def widget_seen(self, conversation_id: str) -> int:
        return self._seen.get(conversation_id, 0)

    async def mark_widget_lost(self, conversation_id: str, at: float) -> None:
        if self._lost.get(conversation_id, at) >= at:
            self._lost[conversation_id] = at

    async def take_widget_lost(self, conversation_id: str) -> float | None:
        return self._lost.pop(conversation_id, None)

    async def forget(self, conversation_id: str) -> None:
        self._seq.pop(conversation_id, None)
        self._seen.pop(conversation_id, None)
        self._generation.pop(conversation_id, None)
        self._lost.pop(conversation_id, None)
        self._connections.pop(("widget", conversation_id), None)
        self._announced.pop(conversation_id, None)

    # announcements ----------------------------------------------------------
    async def announce_position(self, conversation_id: str, position: int) -> bool:
        if self._announced.get(conversation_id) == position:
            return False
        self._announced[conversation_id] = position
        return True

    async def forget_position(self, conversation_id: str) -> None:
        self._announced.pop(conversation_id, None)

    async def queue_changed(self, bot_id: str, snapshot: tuple[str, ...]) -> bool:
        if self._last_queue.get(bot_id) == snapshot:
            return False
        self._last_queue[bot_id] = snapshot
        return True
