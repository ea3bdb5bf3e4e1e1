"""Several real ``handoff serve`` processes sharing one PostgreSQL database and one Redis.

A reusable harness (the multi-process tests and ``bench/`` use it): each node is a
subprocess on its own port with its own log file, the same ``HANDOFF_SECRET_KEY``, the
same database and the same Redis prefix. Nodes are stopped cleanly (SIGTERM) or killed
(``kill -9``) on demand; :meth:`Cluster.logs` gives every node's output, for a failure.

Only the wire is used to talk to a node (REST and Socket.IO): a :class:`Node` carries a
wire-only :class:`tests.conftest.Server` for the usual client helpers. Bots and agents
are created straight in the shared database, as ``handoff create-bot`` would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, web

from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import upgrade
from tests.conftest import Bot, Client, Server, free_port

__all__ = ["HANDOFF", "SECRET", "Cluster", "Node", "say", "wait_until"]

HANDOFF = Path(sys.executable).parent / "handoff"
SECRET = "cluster-test-secret-key-shared-by-every-process"
PASSWORD = "s3cret-pass"


async def wait_until(check: Any, what: str, within: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; that is returned."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {within}s)")
        await asyncio.sleep(every)


def say(cid: str, bot: Bot, text: str) -> dict[str, Any]:
    """A ``from_user`` payload."""
    return {"message": text, "ConversationID": cid, "BotID": bot.id}


@dataclass
class Node:
    """One ``handoff serve`` process."""

    name: str
    port: int
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    server: Server = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        with self.log.open("a") as out:
            out.write(f"---- {self.name} starts on port {self.port}\n")
            out.flush()
            self.proc = subprocess.Popen(
                [str(HANDOFF), "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    async def healthz(self, http: ClientSession) -> tuple[int, dict[str, Any]]:
        async with http.get(f"{self.url}/healthz") as resp:
            return resp.status, dict(await resp.json())

    async def wait_ready(self, http: ClientSession, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()}")
            with contextlib.suppress(OSError, ClientError):
                status, _ = await self.healthz(http)
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not healthy within {within}s:\n{self.text()}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: no cleanup, sockets dropped by the kernel, Redis keys left behind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self, within: float = 5.0) -> None:
        """SIGTERM and wait; SIGKILL if it does not end in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 10)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Cluster:
    """N nodes on one database URL and one Redis URL, with a key prefix of their own.

    ``env``: more ``HANDOFF_*`` settings for every node (timers made short, say).
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        database_url: str,
        redis_url: str,
        prefix: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.redis_url = redis_url
        self.prefix = prefix or f"handoff-test-{secrets.token_hex(4)}:"
        self.extra_env = env or {}
        self.nodes: list[Node] = []
        self.http = ClientSession()
        self.engine = make_engine(database_url)
        self._wire: list[Server] = []

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
        env.update(
            {
                "HANDOFF_HOST": "127.0.0.1",
                "HANDOFF_DATABASE_URL": self.database_url,
                "HANDOFF_REDIS_URL": self.redis_url,
                "HANDOFF_REDIS_PREFIX": self.prefix,
                "HANDOFF_SECRET_KEY": SECRET,
                "HANDOFF_RATE_LIMIT_PER_SECOND": "10000",
                "HANDOFF_RATE_LIMIT_BURST": "10000",
                "HANDOFF_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                **self.extra_env,
            }
        )
        return env

    async def migrate(self) -> None:
        """What ``handoff migrate`` does (the same function), once, before any node starts:
        in this process, which saves a Python start per test."""
        await upgrade(self.database_url)

    async def start(self, count: int) -> list[Node]:
        """``count`` more nodes, started at once, each healthy when this returns."""
        nodes = [self._new_node() for _ in range(count)]
        for node in nodes:
            node.spawn()
        await asyncio.gather(*(node.wait_ready(self.http) for node in nodes))
        return nodes

    def _new_node(self) -> Node:
        name = f"node{len(self.nodes) + 1}"
        data_dir = self.tmp_path / name
        data_dir.mkdir(exist_ok=True)
        env = {**self.base_env(), "HANDOFF_DATA_DIR": str(data_dir)}
        node = Node(name, free_port(), self.tmp_path / f"{name}.log", env)
        # Only its wire: the app object is an empty stand-in, the settings unused.
        node.server = Server(node.url, web.Application(), None, self.http)  # type: ignore[arg-type]
        self.nodes.append(node)
        return node

    async def restart(self, node: Node) -> None:
        """The same node (port, data directory) again after it stopped or was killed."""
        assert not node.alive
        node.spawn()
        await node.wait_ready(self.http)

    def wire(self, url: str) -> Server:
        """Client helpers on any URL of this deployment (a load balancer in front, say)."""
        server = Server(url, web.Application(), None, self.http)  # type: ignore[arg-type]
        self._wire.append(server)
        return server

    # ------------------------------------------------------------ what operators create

    async def bot(self, **kwargs: Any) -> Bot:
        record, key = await BotRepo(self.engine).create("Cluster bot", **kwargs)
        return Bot(record.id, key)

    async def agent(
        self, bot: Bot | list[Bot], *, capacity: int = 3, name: str | None = None
    ) -> AgentRecord:
        bots = bot if isinstance(bot, list) else [bot]
        email = f"agent-{secrets.token_hex(5)}@example.com"
        return await AgentRepo(self.engine).create(
            email, PASSWORD, name=name, bots=[b.id for b in bots], capacity=capacity
        )

    async def conversation(self, node: Node, bot: Bot, cid: str) -> dict[str, Any]:
        """The bot's view of a conversation (``GET .../conversations/{id}``), from ``node``."""
        async with self.http.get(
            f"{node.url}/api/v1/bots/{bot.id}/conversations/{cid}",
            headers={"Authorization": f"Bearer {bot.api_key}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    # ------------------------------------------------------------ the end

    def logs(self) -> str:
        parts = [f"======== {n.name} ({n.url}) ========\n{n.text()}" for n in self.nodes]
        return "\n".join(parts)

    async def close(self) -> None:
        clients = [c for s in [*self._wire, *(n.server for n in self.nodes)] for c in s.clients]

        async def close(client: Client) -> None:
            if client.sio.connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), 2)

        await asyncio.gather(*(close(c) for c in clients))
        await asyncio.gather(*(node.stop() for node in self.nodes))
        await self.http.close()
        await self.engine.dispose()
