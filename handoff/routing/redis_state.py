"""The :class:`RoutingState` in Redis, shared by every server process.

The same semantics as the in-process :class:`~handoff.routing.memory_state.MemoryState`
(one contract test suite runs against both); each step is one Redis command, one
``MULTI`` transaction of reads, or one Lua script (``redis_scripts``), so it is atomic
however many processes call it at once. Key names: ``handoff.storage.redis_keys``.

Numbers that must come back exactly (deadlines, times) travel as ``repr(float)``,
which Redis and Lua parse to the same double.

Each instance is one server process: what that means (its own socket counts, its
heartbeat, reaping the dead, the state's rebuild) is in :mod:`.redis_processes`.
"""

from __future__ import annotations

import dataclasses
import json
import time

from redis.asyncio import BlockingConnectionPool, Redis

from handoff.errors import StateUnavailable
from handoff.routing import redis_codec as codec
from handoff.routing import redis_scripts as lua
from handoff.routing.model import AgentStatus, Presence, QueueEntry
from handoff.routing.redis_processes import RedisProcesses
from handoff.routing.shared_state import WATCHES, Delivery, Numbered, Reach
from handoff.storage.redis_keys import (
    ANNOUNCEMENT_TTL_SECONDS,
    DEFAULT_PREFIX,
    RedisKeys,
)

__all__ = ["RedisRoutingState"]

POOL_CONNECTIONS = 64
"""Redis connections of one process's routing state: each carries one command at a time."""
POOL_WAIT_SECONDS = 5.0
"""How long a command waits for a free connection before it fails (``state_unavailable``)."""


def _generation_floor() -> int:
    """Where a missing generation counter starts: microseconds since 1970 (in 2026 about
    1.8e15, below 2**53 until the 23rd century, so Lua's doubles hold it exactly).

    A counter can only have passed it by handing out a million generations a second
    since it started, so a Redis that lost its data never hands out a number again.
    """
    return time.time_ns() // 1000


class RedisRoutingState(RedisProcesses):
    """Routing state in Redis under ``prefix`` (see ``handoff.storage.redis_keys``).

    ``redis``: an asyncio client, decoding responses or not; closed by :meth:`close`
    only when ``owns_client`` (as :meth:`from_url` makes it).
    """

    def __init__(
        self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, owns_client: bool = False
    ) -> None:
        super().__init__(redis, RedisKeys(prefix))
        self._owns_client = owns_client
        # Registered once: each call is an EVALSHA (loaded again if Redis restarted),
        # sent with whatever else is issued at the same time (see handoff.storage.redis_pipeline).
        script = self._pipeline.register_script
        self._put_agent = script(lua.PUT_AGENT)
        self._update_agent = script(lua.UPDATE_AGENT)
        self._enqueue = script(lua.ENQUEUE)
        self._dequeue = script(lua.DEQUEUE)
        self._queue = script(lua.QUEUE)
        self._claim = script(lua.CLAIM)
        self._move = script(lua.MOVE)
        self._release = script(lua.RELEASE)
        self._pop_due = script(lua.POP_DUE)
        self._next_seq = script(lua.NEXT_SEQ)
        self._seed_seq = script(lua.SEED_SEQ)
        self._mark_seen = script(lua.MARK_SEEN)
        self._mark_sent = script(lua.MARK_SENT)
        self._agent_reach = script(lua.AGENT_REACH)
        self._mark_lost = script(lua.MARK_LOST)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisRoutingState:
        """A state on its own client for ``url`` (``redis://host:port/db``)."""
        # redis-py's default pool refuses the 101st concurrent command at once
        # (MaxConnectionsError); a process relaying hundreds of messages at a time waits
        # for a connection instead, a few seconds at most, like a busy database pool.
        pool = BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT_SECONDS
        )
        return cls(Redis.from_pool(pool), prefix=prefix, owns_client=True)

    async def close(self) -> None:
        try:
            await self.leave()
            await self._pipeline.aclose()
        finally:
            if self._owns_client:
                await self._redis.aclose()

    @property
    def prefix(self) -> str:
        """What every key of this state starts with."""
        return self._keys.prefix

    # presence ---------------------------------------------------------------
    def _agent_keys(self, agent_id: str) -> list[str]:
        k = self._keys
        return [k.agent(agent_id), k.agents, k.agent_order, k.agent_conversations(agent_id)]

    async def put_agent(self, presence: Presence) -> Presence:
        aid = presence.agent_id
        last_assigned_at, load = await self._put_agent(
            keys=self._agent_keys(aid),
            args=[aid, repr(float(presence.last_assigned_at)), *codec.fields(presence)],
        )
        # As MemoryState does: the caller's record takes the state's load and time.
        presence.last_assigned_at = float(codec.text(last_assigned_at))
        presence.load = int(load)
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
        start: list[str] = []
        if fresh is not None:
            start = [*codec.fields(fresh), "last_assigned_at", repr(float(fresh.last_assigned_at))]
        changes = codec.changes(
            name=name, status=status, connected=connected, capacity=capacity, bots=bots, teams=teams
        )
        values = await self._update_agent(
            keys=self._agent_keys(agent_id),
            args=[agent_id, len(start) // 2, *start, *changes],
        )
        if values is None:
            return None
        return codec.presence_of(agent_id, values[:-1], values[-1])

    async def get_agent(self, agent_id: str) -> Presence | None:
        found = await self._read_agents([agent_id])
        return found[0] if found else None

    async def agents_for_bot(self, bot_id: str) -> list[Presence]:
        ids = [codec.text(i) for i in await self._redis.zrange(self._keys.agents, 0, -1)]
        return [a for a in await self._read_agents(ids) if bot_id in a.bots]

    async def _read_agents(self, agent_ids: list[str]) -> list[Presence]:
        """The agents known among ``agent_ids``, read in one transaction (a snapshot)."""
        if not agent_ids:
            return []
        async with self._redis.pipeline(transaction=True) as pipe:
            for aid in agent_ids:
                pipe.hmget(self._keys.agent(aid), codec.READ_FIELDS)
                pipe.scard(self._keys.agent_conversations(aid))
            replies = await pipe.execute()
        found = []
        for i, aid in enumerate(agent_ids):
            values, load = replies[2 * i], replies[2 * i + 1]
            if values[0] is not None:
                found.append(codec.presence_of(aid, values, load))
        return found

    # queue ------------------------------------------------------------------
    def _queue_keys(self, bot_id: str) -> list[str]:
        k = self._keys
        return [k.queue(bot_id), k.queue_entries(bot_id), k.queue_priorities(bot_id)]

    async def enqueue(self, entry: QueueEntry, *, at_head: bool = False) -> int:
        return int(
            await self._enqueue(
                keys=self._queue_keys(entry.bot_id),
                args=[entry.conversation_id, codec.entry_json(entry), entry.priority, int(at_head)],
            )
        )

    async def dequeue(self, bot_id: str, conversation_id: str) -> bool:
        return bool(await self._dequeue(keys=self._queue_keys(bot_id), args=[conversation_id]))

    async def queue(self, bot_id: str) -> list[QueueEntry]:
        k = self._keys
        entries = await self._queue(keys=[k.queue(bot_id), k.queue_entries(bot_id)])
        return [codec.entry(e) for e in entries]

    async def position(self, bot_id: str, conversation_id: str) -> int | None:
        at = await self._redis.lpos(self._keys.queue(bot_id), conversation_id)
        return at + 1 if isinstance(at, int) else None

    # assignment -------------------------------------------------------------
    async def claim(
        self, bot_id: str, conversation_id: str, agent_id: str, *, step_in: bool = False
    ) -> QueueEntry | None:
        k = self._keys
        entry = await self._claim(
            keys=[
                k.agent(agent_id),
                k.agent_conversations(agent_id),
                k.assigned,
                *self._queue_keys(bot_id),
            ],
            args=[bot_id, conversation_id, agent_id, repr(time.time()), codec.flag(step_in)],
        )
        return None if entry is None else codec.entry(entry)

    async def move(
        self,
        conversation_id: str,
        from_agent: str,
        to_agent: str,
        bot_id: str,
        *,
        step_in: bool = False,
    ) -> bool:
        k = self._keys
        moved = await self._move(
            keys=[
                k.assigned,
                k.agent_conversations(from_agent),
                k.agent(to_agent),
                k.agent_conversations(to_agent),
            ],
            args=[
                conversation_id,
                from_agent,
                to_agent,
                bot_id,
                repr(time.time()),
                codec.flag(step_in),
            ],
        )
        return bool(moved)

    async def release(self, conversation_id: str) -> str | None:
        k = self._keys
        agent = await self._release(
            keys=[k.assigned], args=[conversation_id, k.agent_conversations_prefix]
        )
        return None if agent is None else codec.text(agent)

    async def assign_recovered(self, conversation_id: str, agent_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.assigned, conversation_id, agent_id)
            pipe.sadd(self._keys.agent_conversations(agent_id), conversation_id)
            await pipe.execute()

    async def assigned_agent(self, conversation_id: str) -> str | None:
        agent = await self._redis.hget(self._keys.assigned, conversation_id)
        return None if agent is None else codec.text(agent)

    async def agent_reach(self, conversation_id: str) -> Reach | None:
        k = self._keys
        got = await self._agent_reach(
            keys=[k.assigned],
            args=[conversation_id, k.connections_prefix_of("agent"), self._process_id],
        )
        return None if got is None else Reach(codec.text(got[0]), int(got[1]))

    async def agent_conversations(self, agent_id: str) -> list[str]:
        members = await self._redis.smembers(self._keys.agent_conversations(agent_id))
        return sorted(codec.text(m) for m in members)

    # deadlines --------------------------------------------------------------
    async def set_deadline(
        self, kind: str, key: str, at: float, *, keep_newer: bool = False
    ) -> None:
        await self._redis.zadd(self._keys.deadlines(kind), {key: float(at)}, nx=keep_newer)

    async def clear_deadline(self, kind: str, key: str) -> bool:
        return bool(await self._redis.zrem(self._keys.deadlines(kind), key))

    async def pop_due(self, kind: str, now: float) -> list[str]:
        due = await self._pop_due(keys=[self._keys.deadlines(kind)], args=[repr(float(now))])
        return [codec.text(key) for key in due]

    # sequence numbers -------------------------------------------------------
    async def next_seq(
        self,
        conversation_id: str,
        *,
        generation: int | None = None,
        assigned_to: str | None = None,
    ) -> Numbered | None:
        k = self._keys
        got = await self._next_seq(
            keys=[
                k.seq(conversation_id),
                k.generation(conversation_id),
                k.connections(WATCHES, conversation_id),
                k.initialized,
                k.assigned,
            ],
            args=[
                "" if generation is None else str(generation),
                conversation_id,
                "" if assigned_to is None else assigned_to,
            ],
        )
        if got is None:
            return None
        if not isinstance(got, list):  # -1: the state is lost, not rebuilt yet
            raise StateUnavailable()
        return Numbered(int(got[0]), int(got[1]))

    async def seed_seq(self, conversation_id: str, value: int) -> None:
        k = self._keys
        await self._seed_seq(
            keys=[k.seq(conversation_id), k.generation(conversation_id), k.generations],
            args=[value, _generation_floor()],
        )

    async def generation(self, conversation_id: str) -> int | None:
        value = await self._redis.get(self._keys.generation(conversation_id))
        return None if value is None else int(value)

    async def mark_widget_seen(self, conversation_id: str, seq: int) -> None:
        await self._mark_seen(keys=[self._keys.widget_seen(conversation_id)], args=[seq])

    async def mark_widget_sent(self, conversation_id: str, seq: int, *, agent_id: str) -> Delivery:
        k = self._keys
        widgets, elsewhere, sockets = await self._mark_sent(
            keys=[
                k.connections("widget", conversation_id),
                k.widget_seen(conversation_id),
                k.connections("agent", agent_id),
            ],
            args=[seq, self._process_id],
        )
        return Delivery(int(widgets), int(elsewhere), int(sockets))

    async def widget_seen(self, conversation_id: str) -> int:
        value = await self._redis.get(self._keys.widget_seen(conversation_id))
        return 0 if value is None else int(value)

    async def mark_widget_lost(self, conversation_id: str, at: float) -> None:
        await self._mark_lost(
            keys=[self._keys.widget_lost(conversation_id)], args=[repr(float(at))]
        )

    async def take_widget_lost(self, conversation_id: str) -> float | None:
        value = await self._redis.getdel(self._keys.widget_lost(conversation_id))
        return None if value is None else float(codec.text(value))

    async def forget(self, conversation_id: str) -> None:
        k = self._keys
        await self._redis.delete(
            k.seq(conversation_id),
            k.widget_seen(conversation_id),
            k.generation(conversation_id),
            k.widget_lost(conversation_id),
            k.connections("widget", conversation_id),
            k.announced(conversation_id),
        )

    # announcements ----------------------------------------------------------
    async def _told(self, key: str, value: str) -> bool:
        """Record ``value`` as told; True when it differs from what was told before."""
        before = await self._redis.set(key, value, ex=ANNOUNCEMENT_TTL_SECONDS, get=True)
        return before is None or codec.text(before) != value

    async def announce_position(self, conversation_id: str, position: int) -> bool:
        return await self._told(self._keys.announced(conversation_id), str(position))

    async def forget_position(self, conversation_id: str) -> None:
        await self._redis.delete(self._keys.announced(conversation_id))

    async def queue_changed(self, bot_id: str, snapshot: tuple[str, ...]) -> bool:
        return await self._told(self._keys.last_queue(bot_id), json.dumps(list(snapshot)))
