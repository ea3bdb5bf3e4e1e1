"""AutoPipeline on the real Redis: commands issued at once go as one pipeline, each
caller gets its own reply or its own error, and a script Redis does not know is loaded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError

from handoff.storage.redis_pipeline import AutoPipeline
from tests.conftest import drop_prefix, redis_or_skip, unique_prefix


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    client = await redis_or_skip()
    prefix = unique_prefix()
    try:
        yield client, prefix
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


async def test_commands_issued_at_once_go_in_one_round_trip(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    pipeline = AutoPipeline(client)
    replies = await asyncio.gather(*(pipeline.execute("INCR", f"{prefix}n") for _ in range(120)))
    assert sorted(replies) == list(range(1, 121))
    assert (pipeline.batches, pipeline.commands) == (1, 120)
    # One after the other, each goes alone (as without the pipeline).
    assert await pipeline.execute("GET", f"{prefix}n") == "120"
    assert await pipeline.execute("INCR", f"{prefix}n") == 121
    assert (pipeline.batches, pipeline.commands) == (3, 122)


async def test_a_failing_command_fails_its_caller_alone(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    await client.set(f"{prefix}text", "not a number")
    pipeline = AutoPipeline(client)
    results = await asyncio.gather(
        pipeline.execute("INCR", f"{prefix}a"),
        pipeline.execute("INCR", f"{prefix}text"),
        pipeline.execute("INCR", f"{prefix}a"),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError)
    assert pipeline.batches == 1
    assert await client.get(f"{prefix}text") == "not a number"


async def test_a_script_redis_does_not_know_is_loaded_and_run_once(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    pipeline = AutoPipeline(client)
    # A script no Redis has seen (as after a restart): the first EVALSHA finds no script.
    source = f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
    script = pipeline.register_script(source)
    assert not (await client.script_exists(client.register_script(source).sha))[0]
    alone = await script(keys=[f"{prefix}s"], args=[5])
    together = await asyncio.gather(*(script(keys=[f"{prefix}s"], args=[1]) for _ in range(10)))
    assert alone == 5 and sorted(together) == list(range(6, 16))  # each ran once


async def test_a_lost_connection_fails_every_caller_of_the_batch() -> None:
    # A port nothing listens on (the test Redis is left alone): the batch fails as a
    # whole, each caller with the connection's error, and nothing is left waiting.
    client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=None)
    pipeline = AutoPipeline(client)
    try:
        results = await asyncio.gather(
            *(pipeline.execute("GET", "k") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ConnectionError) for r in results)
        with pytest.raises(ConnectionError):
            await pipeline.execute("GET", "k")  # alone, too
    finally:
        await pipeline.aclose()
        await client.aclose()


async def test_a_cancelled_caller_leaves_the_others_their_replies(
    redis: tuple[Redis, str],
) -> None:
    client, prefix = redis
    pipeline = AutoPipeline(client)
    first = asyncio.ensure_future(pipeline.execute("INCR", f"{prefix}c"))
    second = asyncio.ensure_future(pipeline.execute("INCR", f"{prefix}c"))
    await asyncio.sleep(0)
    first.cancel()
    assert await second in (1, 2)
    with pytest.raises(asyncio.CancelledError):
        await first
    await pipeline.aclose()
    assert await client.get(f"{prefix}c") == "2"  # sent: a cancel cannot take it back
