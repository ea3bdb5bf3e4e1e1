"""The server processes sharing one Redis routing state: who is alive, what each counts.

Each :class:`~handoff.routing.redis_state.RedisRoutingState` is one server process (its
``process_id``). It counts its own sockets (a field of its own in each connection
count, indexed under ``counted:<process>``), keeps a heartbeat that expires, and takes
away the counts of processes whose heartbeat expired (``reap``). It also holds the
mark saying the state was built (``initialize`` / ``rebuilt`` / ``ready``), which a
Redis that lost its data no longer has. Key names: ``handoff.storage.redis_keys``.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff.routing import redis_codec as codec
from handoff.routing import redis_scripts as lua
from handoff.routing.shared_state import Beat, Released
from handoff.storage.redis_keys import REBUILD_TTL_SECONDS, RedisKeys
from handoff.storage.redis_pipeline import AutoPipeline

__all__ = ["RedisProcesses"]


class RedisProcesses:
    """The process-wide part of the Redis routing state (its base class)."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._process_id = uuid.uuid4().hex
        self._counted = keys.counted(self._process_id)
        self._beaten = False
        # Commands issued at once go as one pipeline; each script is still atomic.
        self._pipeline = AutoPipeline(redis)
        self._touch = self._pipeline.register_script(lua.TOUCH)
        self._heartbeat = self._pipeline.register_script(lua.HEARTBEAT)
        self._reap = self._pipeline.register_script(lua.REAP)

    async def initialize(self) -> bool:
        # The first process to start on an empty Redis rebuilds the state from the
        # database; the others (and a restart while Redis kept its data) must not.
        # While it runs the mark says so, and expires: should that process die, the
        # next heartbeat of another finds the state lost and rebuilds it.
        return bool(
            await self._redis.set(
                self._keys.initialized, "rebuilding", nx=True, ex=REBUILD_TTL_SECONDS
            )
        )

    async def rebuilt(self) -> None:
        await self._redis.set(self._keys.initialized, "1")

    async def ready(self) -> bool:
        return codec.text(await self._redis.get(self._keys.initialized) or "") == "1"

    async def leave(self) -> None:
        """This process stops: dead at once rather than after the heartbeat's expiry, so
        the next reaper takes what it still counts (sockets the stop did not close)."""
        try:
            await self._redis.delete(self._keys.alive(self._process_id))
        except RedisError:
            pass  # Redis is gone: the heartbeat expires by itself

    @property
    def process_id(self) -> str:
        return self._process_id

    async def heartbeat(self, ttl: float) -> Beat:
        k = self._keys
        registered, initialized = await self._heartbeat(
            keys=[k.alive(self._process_id), k.processes, k.initialized],
            args=[self._process_id, max(1, int(ttl * 1000)), repr(time.time())],
        )
        beaten, self._beaten = self._beaten, True
        if not int(initialized):
            return Beat.LOST
        if beaten and not int(registered):
            return Beat.REAPED
        return Beat.OK

    async def reap(self) -> list[Released]:
        k = self._keys
        others = [
            pid
            for pid in map(codec.text, await self._redis.zrange(k.processes, 0, -1))
            if pid != self._process_id
        ]
        if not others:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for pid in others:
                pipe.exists(k.alive(pid))
            alive = await pipe.execute()
        released: list[Released] = []
        for pid, up in zip(others, alive, strict=True):
            if up:
                continue
            taken = await self._reap(keys=[k.processes, k.alive(pid), k.counted(pid)], args=[pid])
            if not taken:
                continue  # another process took it first, or it came back
            last_beat = float(codec.text(taken[0]))
            for name in taken[1:]:
                kind, key = k.connection_of(codec.text(name))
                released.append(Released(kind, key, last_beat))
        return released

    async def touch_connection(self, kind: str, key: str, delta: int) -> int:
        name = self._keys.connections(kind, key)
        return int(
            await self._touch(keys=[name, self._counted], args=[self._process_id, int(delta)])
        )
