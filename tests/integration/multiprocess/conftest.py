"""Fixtures of the multi-process tests: clusters of real ``handoff serve`` processes.

Every cluster's processes log to files under the test's ``tmp_path``; the logs are
printed when the test ends, so a failing test shows them (pytest prints a passing
test's output only with ``-rP``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL, redis_or_skip
from tests.integration.cluster import Cluster
from tests.integration.test_js_widget import HARNESS, JS_DIR, PACKAGES, JsWidget

MakeCluster = Callable[..., Awaitable[Cluster]]


async def _forget(redis_url: str, prefix: str) -> None:
    """Delete a test's keys from the shared Redis (never FLUSHDB: others use it)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def shared_redis() -> str:
    """The machine's Redis; with ``CI=true`` its absence fails, else it skips."""
    client = await redis_or_skip()
    await client.aclose()
    return REDIS_URL


@pytest.fixture
async def make_cluster(
    tmp_path: Path, postgres_url: str, shared_redis: str
) -> AsyncIterator[MakeCluster]:
    """``await make_cluster(n, env=..., redis_url=..., database_url=...)``: ``n`` healthy
    processes on a fresh PostgreSQL database and the machine's Redis (a prefix of their
    own) unless told otherwise."""
    made: list[Cluster] = []

    async def make(
        count: int,
        *,
        env: dict[str, str] | None = None,
        redis_url: str | None = None,
        database_url: str | None = None,
    ) -> Cluster:
        directory = tmp_path / f"cluster{len(made) + 1}"
        directory.mkdir()
        cluster = Cluster(
            directory,
            database_url=database_url or postgres_url,
            redis_url=redis_url or shared_redis,
            env=env,
        )
        made.append(cluster)
        await cluster.migrate()
        if count:
            await cluster.start(count)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            print(cluster.logs())
            await cluster.close()
            if cluster.redis_url == shared_redis:
                await _forget(shared_redis, cluster.prefix)


@pytest.fixture(scope="module")
def node_exe() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("`node` is not on PATH: the seed widget tests need Node.js 18+")
    if not (JS_DIR / "node_modules" / "sio3" / "package.json").is_file():
        pytest.fail("tests/js/node_modules lacks sio3: run `make js-deps`")
    return exe


async def start_seed_widget(
    node_exe: str, url: str, cid: str, bot_id: str, pkg: str = "sio3", transports: str = ""
) -> JsWidget:
    args = [str(HARNESS), "--url", url, "--conversation", cid, "--bot", bot_id]
    if transports:
        args += ["--transports", transports]
    env = {**os.environ, "SIO_PKG": pkg}
    env.pop("DEBUG", None)
    proc = await asyncio.create_subprocess_exec(
        node_exe, *args, cwd=JS_DIR, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    widget = JsWidget(proc, pkg)
    assert await widget.wait("ready") == {"pkg": pkg, "version": PACKAGES[pkg]}
    return widget
