"""A Redis and a PostgreSQL of a test's own, for the tests that stop and start them.

The machine's Redis and PostgreSQL are shared with every other test run: never
stopped. These run on free ports in a temporary directory and go with the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.conftest import free_port

__all__ = ["OwnPostgres", "OwnRedis", "own_redis_fixture"]


class OwnRedis:
    """``redis-server`` on a free port with its data in ``directory``.

    ``stop(save=True)`` writes a snapshot the next start loads (a Redis that keeps
    its data across a restart); ``save=False`` loses it (no persistence, a failover).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _spawn(self) -> subprocess.Popen[bytes]:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is needed (Debian package redis-server)"
        with (self.directory / "redis.log").open("a") as log:
            return subprocess.Popen(
                [
                    exe,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--dir", str(self.directory),
                    "--dbfilename", "dump.rdb",
                    "--save", "",
                    "--appendonly", "no",
                    "--maxmemory-policy", "noeviction",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def start(self) -> None:
        self.proc = self._spawn()
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError, aioredis.ConnectionError):
                client = aioredis.Redis.from_url(self.url)
                try:
                    if await client.ping():
                        return
                finally:
                    await client.aclose()
            assert self.proc.poll() is None, (self.directory / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            await asyncio.sleep(0.05)

    async def stop(self, *, save: bool) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        client = aioredis.Redis.from_url(self.url)
        try:
            with contextlib.suppress(aioredis.ConnectionError):
                await client.shutdown(save=save, nosave=not save)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
        await asyncio.to_thread(self.proc.wait, 10)

    async def numsub(self, channel: str) -> int:
        """How many connections are subscribed to ``channel`` right now."""
        client = aioredis.Redis.from_url(self.url)
        try:
            counts = await client.pubsub_numsub(channel)
            return int(counts[0][1])
        finally:
            await client.aclose()

    async def command(self, *args: str) -> object:
        """One command, on a connection of its own (``CLIENT KILL TYPE pubsub``, say)."""
        client = aioredis.Redis.from_url(self.url, decode_responses=True)
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """SIGKILL: a crash, nothing said to the clients. ``start`` brings it back empty."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 10)

    async def close(self) -> None:
        await self.kill()


def _pg_ctl() -> str:
    exe = shutil.which("pg_ctl")
    assert exe, "pg_ctl is needed (PostgreSQL server binaries on PATH)"
    return exe


class OwnPostgres:
    """A PostgreSQL cluster of its own (``initdb``), run as user ``postgres`` (we are root).

    Its directory is outside pytest's ``tmp_path`` (that one is root-only) and owned
    by ``postgres``. ``stop()`` is a fast shutdown: connections are cut, as an operator
    restarting the database or a crash would.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        shutil.chown(self.directory, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _as_postgres(self, *command: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            "runuser", "-u", "postgres", "--", *command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == 0, f"{command[0]} failed:\n{out.decode(errors='replace')}"

    async def init(self) -> None:
        initdb = shutil.which("initdb")
        assert initdb, "initdb is needed (PostgreSQL server binaries on PATH)"
        await self._as_postgres(
            initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    async def start(self) -> None:
        await self._as_postgres(
            _pg_ctl(), "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-w",
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip

    async def stop(self) -> None:
        await self._as_postgres(_pg_ctl(), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def log(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError):
                await self._as_postgres(
                    _pg_ctl(), "-D", str(self.data), "-m", "immediate", "-w", "stop"
                )
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(name="own_redis")
async def own_redis_fixture(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    """A started :class:`OwnRedis`, killed after the test (a test module imports it)."""
    redis = OwnRedis(tmp_path / "redis")
    await redis.start()
    try:
        yield redis
    finally:
        await redis.close()
