"""A redis-server of a test's own, on a free port: to kill and restart without touching the
machine's Redis, which other tests share."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.conftest import free_port

__all__ = ["OwnRedis", "own_redis_fixture"]


class OwnRedis:
    """``redis-server`` on a free loopback port, its files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self._binary = binary
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            self._binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            client = Redis.from_url(self.url)
            try:
                await client.ping()
                return
            except OSError:
                pass
            except Exception as exc:  # redis' ConnectionError while it starts
                if "Connection" not in type(exc).__name__:
                    raise
            finally:
                await client.aclose()
            if self._proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Kill it (SIGKILL: as a crash, nothing said to the clients)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        self._proc = None

    async def command(self, *args: str) -> object:
        client = Redis.from_url(self.url, decode_responses=True)
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()


@pytest.fixture(name="own_redis")
async def own_redis_fixture(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    """A started :class:`OwnRedis`, killed after the test (a test module imports it)."""
    redis = OwnRedis(tmp_path / "redis")
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()
