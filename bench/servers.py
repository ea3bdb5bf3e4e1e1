"""The servers bench/relay.py drives, each started fresh as subprocesses.

- ``handoff``: ``handoff serve`` on the embedded defaults (a new SQLite file, the routing
  state in the process).
- ``scaled``: ``handoff serve`` on PostgreSQL (a fresh database on the machine's server)
  and Redis (its own ``redis-server`` on a free port, under a unique prefix): what every
  process of a scaled-out deployment runs.
- ``scaled2``: two such processes sharing that database and Redis, the clients spread
  over both as a load balancer would.
- ``bare``: bench/bare_relay.py, the python-socketio yardstick.

Besides the server processes, a server has "stores": the PostgreSQL backends serving
its database and its Redis, whose CPU is counted apart (:class:`StoreMeter`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import BENCH, VENV_BIN, BenchError, Server, free_port, pinned, wait_http
from stores import fresh_database, own_redis, postgres_backends

KINDS = ("handoff", "scaled", "scaled2", "bare")


# --------------------------------------------------------------- our server
async def _seed_database(url: str, n_agents: int, capacity: int) -> tuple[str, str, list[str]]:
    """Bot and agents written straight into the database before the server starts.

    ``handoff create-agent`` hashes each password with argon2 (tens of ms), so
    1000 agents go in as bulk rows sharing one hash; they sign in with tokens
    minted by the same secret key the server uses.
    """
    from argon2 import PasswordHasher

    from handoff.storage.bots import BotRepo
    from handoff.storage.db import make_engine, utcnow
    from handoff.storage.migrate import upgrade
    from handoff.storage.tables import agent_bots, agents

    await upgrade(url)
    engine = make_engine(url)
    try:
        bot, api_key = await BotRepo(engine).create("bench bot")
        password_hash = PasswordHasher().hash("bench")
        ids = [f"agt_bench{i:05d}" for i in range(n_agents)]
        async with engine.begin() as conn:
            await conn.execute(
                agents.insert(),
                [
                    {
                        "id": a,
                        "email": f"{a}@bench.invalid",
                        "name": f"Agent {i}",
                        "password_hash": password_hash,
                        "role": "agent",
                        "capacity": capacity,
                        "created_at": utcnow(),
                    }
                    for i, a in enumerate(ids)
                ],
            )
            await conn.execute(
                agent_bots.insert(), [{"agent_id": a, "bot_id": bot.id, "teams": []} for a in ids]
            )
    finally:
        await engine.dispose()
    return bot.id, api_key, ids


async def _create_conversations(base: str, bot_id: str, api_key: str, n: int) -> list[str]:
    import aiohttp

    sem = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {api_key}"}

    async with aiohttp.ClientSession(headers=headers) as http:

        async def one() -> str:
            async with sem, http.post(f"{base}/api/v1/bots/{bot_id}/handoff", json={}) as r:
                body = await r.json()
                if r.status != 201:
                    raise BenchError(f"execute_handoff answered {r.status}: {body}")
                return str(body["ConversationID"])

        return list(await asyncio.gather(*(one() for _ in range(n))))


def _handoff_env(port: int, data_dir: Path, secret: str, stores: dict[str, str]) -> dict[str, str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")},
        "HANDOFF_PORT": str(port),
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_DATA_DIR": str(data_dir),
        "HANDOFF_SECRET_KEY": secret,
        "HANDOFF_LOG_LEVEL": "WARNING",
        # The per-socket rate limit (20/s by default) is a product feature; a
        # saturation benchmark would only measure it refusing messages.
        "HANDOFF_RATE_LIMIT_PER_SECOND": "1000000",
        "HANDOFF_RATE_LIMIT_BURST": "1000000",
        **stores,
    }
    return env


def _start_handoffs(
    name: str,
    n: int,
    capacity: int,
    workdir: Path,
    db_url: str,
    processes: int,
    stores: dict[str, str],
) -> Server:
    from handoff.security import TokenSigner

    secret = secrets.token_urlsafe(32)
    n_agents = -(-n // capacity)
    bot_id, api_key, agent_ids = asyncio.run(_seed_database(db_url, n_agents, capacity))
    signer = TokenSigner(secret, max_age_seconds=3600)
    tokens = [signer.issue(a) for a in agent_ids]
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    log = workdir / f"{name}.log"
    try:
        with log.open("wb") as out:
            for i in range(processes):
                port = free_port()
                data_dir = workdir / f"handoff-data-{i}"
                data_dir.mkdir(exist_ok=True)
                env = _handoff_env(port, data_dir, secret, stores)
                # Every server process on CPU 0; the load generator has CPU 1 to itself.
                cmd = pinned([str(VENV_BIN / "handoff"), "serve"], 0)
                procs.append(
                    subprocess.Popen(
                        cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
                # One at a time: the first one on an empty Redis rebuilds the state.
                wait_http(f"{urls[-1]}/healthz", procs[-1], log)
        conversations = asyncio.run(_create_conversations(urls[0], bot_id, api_key, n))
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    return Server(name, procs, urls, bot_id, conversations, tokens, log)


def start_handoff(n: int, capacity: int, workdir: Path) -> Server:
    data_dir = workdir / "handoff-data-0"
    data_dir.mkdir()
    db_url = f"sqlite+aiosqlite:///{(data_dir / 'handoff.sqlite3').resolve()}"
    return _start_handoffs("handoff", n, capacity, workdir, db_url, 1, {})


# ------------------------------------------------------- PostgreSQL + Redis
def start_scaled(n: int, capacity: int, workdir: Path, processes: int = 1) -> Server:
    name = "scaled" if processes == 1 else f"scaled{processes}"
    database = f"handoff_bench_{os.getpid()}_{time.monotonic_ns()}"
    db_url, drop = fresh_database(database)
    redis, redis_port = own_redis(workdir)

    def stop_redis() -> None:
        redis.terminate()
        redis.wait(timeout=10)

    stores = {
        "HANDOFF_DATABASE_URL": db_url,
        "HANDOFF_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "HANDOFF_REDIS_PREFIX": f"bench{secrets.token_hex(4)}:",
    }
    try:
        server = _start_handoffs(name, n, capacity, workdir, db_url, processes, stores)
    except BaseException:
        stop_redis()
        drop()
        raise
    server.store_pids = lambda: [redis.pid, *postgres_backends(database)]
    server.cleanups += [drop, stop_redis]
    return server


def start_scaled2(n: int, capacity: int, workdir: Path) -> Server:
    return start_scaled(n, capacity, workdir, processes=2)


# --------------------------------------------------------------- yardstick
def start_bare(n: int, capacity: int, workdir: Path) -> Server:
    port = free_port()
    log = workdir / "bare.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(
                [str(VENV_BIN / "python"), str(BENCH / "bare_relay.py"), "--port", str(port)], 0
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc, log)
    except BaseException:
        proc.kill()
        raise
    n_agents = -(-n // capacity)
    conversations = [secrets.token_urlsafe(24) for _ in range(n)]
    tokens = [f"agt_bench{i:05d}" for i in range(n_agents)]
    return Server("bare", [proc], [base], "bot_bare", conversations, tokens, log)


STARTERS: dict[str, Callable[[int, int, Path], Server]] = {
    "handoff": start_handoff,
    "scaled": start_scaled,
    "scaled2": start_scaled2,
    "bare": start_bare,
}

if sys.platform != "linux":  # /proc is read for CPU, RSS and backends
    raise SystemExit("bench/relay.py reads /proc: Linux only")
