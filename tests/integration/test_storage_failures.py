"""Storage that fails: a really full disk (SQLite), a read-only PostgreSQL, a dead writer.

Each refusal must be ``storage_unavailable`` (HTTP 503 with ``Retry-After``), not
``internal_error``; ``/healthz`` must say the database is failing while writes
fail and ``ok`` once one succeeds; the episode is logged once; nothing that was
acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientSession, web

from handoff.errors import StorageUnavailable
from handoff.storage.agents import AgentRepo
from handoff.storage.bots import BotRepo
from handoff.storage.db import make_engine
from handoff.storage.messages import MessageRepo
from handoff.storage.migrate import upgrade
from handoff.storage.writer import MessageWriter
from tests.conftest import Bot, Client, Server, driver_threads, driver_threads_end, free_port

HANDOFF = Path(sys.executable).parent / "handoff"
SECRET = "test-secret-key-for-signing-tokens"
FAILING_LOG = "database is failing"
RECOVERED_LOG = "takes writes again"


def _say(cid: str, bot: Bot, text: str) -> dict[str, Any]:
    return {"message": text, "ConversationID": cid, "BotID": bot.id}


async def _until(check: Any, what: str, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------ a real full disk


@dataclass
class Disk:
    """The sandboxed server's data directory: a tmpfs of its own, filled and freed on demand."""

    ctl: Path

    async def _do(self, command: str) -> None:
        (self.ctl / command).touch()
        await _until(lambda: (self.ctl / f"{command}.done").exists(), f"the disk was not {command}")
        (self.ctl / f"{command}.done").unlink()

    async def fill(self) -> None:
        await self._do("fill")

    async def free(self) -> None:
        await self._do("free")


# Runs inside the sandbox: copies the prepared database onto the small tmpfs, serves
# a command loop (fill the disk to the last byte / free it) and execs the server.
_SANDBOX_SCRIPT = """
set -e
cp "$SEED" "$DISK/handoff.sqlite3"
(
  while :; do
    if [ -e "$CTL/fill" ]; then
      rm "$CTL/fill"; cat /dev/zero > "$DISK/filler" 2>/dev/null || true; touch "$CTL/fill.done"
    fi
    if [ -e "$CTL/free" ]; then
      rm "$CTL/free"; rm -f "$DISK/filler"; touch "$CTL/free.done"
    fi
    sleep 0.02
  done
) &
exec "$HANDOFF" serve
"""


@dataclass
class Sandboxed:
    server: Server
    disk: Disk
    log: Path
    bot: Bot
    agent_email: str

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if needle in line]


async def _seed(path: Path) -> tuple[Bot, str]:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        record, key = await BotRepo(engine).create("Full disk bot")
        email = "anna@example.com"
        await AgentRepo(engine).create(email, "s3cret-pass", bots=[record.id], capacity=3)
    finally:
        await engine.dispose()
    return Bot(record.id, key), email


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture
async def sandboxed(tmp_path: Path) -> AsyncIterator[Sandboxed]:
    """``handoff serve`` in bubblewrap, its data directory on an 8 MiB tmpfs."""
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap is needed (make test installs it)"
    seed, disk, ctl = tmp_path / "seed.sqlite3", tmp_path / "disk", tmp_path / "ctl"
    disk.mkdir()
    ctl.mkdir()
    bot, email = await _seed(seed)
    port = free_port()
    env = {
        **os.environ,
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_PORT": str(port),
        "HANDOFF_DATA_DIR": str(disk),
        "HANDOFF_SECRET_KEY": SECRET,
        "HANDOFF_RATE_LIMIT_PER_SECOND": "10000",
        "HANDOFF_RATE_LIMIT_BURST": "10000",
        "SEED": str(seed),
        "DISK": str(disk),
        "CTL": str(ctl),
        "HANDOFF": str(HANDOFF),
    }
    env.pop("HANDOFF_DATABASE_URL", None)
    command = [
        bwrap,
        "--dev-bind", "/", "/",
        "--size", str(8 * 1024 * 1024), "--tmpfs", str(disk),
        "--unshare-pid", "--die-with-parent",
        "sh", "-c", _SANDBOX_SCRIPT,
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    proc = _spawn(command, env, log)
    url = f"http://127.0.0.1:{port}"
    http = ClientSession()
    # The server runs in another process: only its wire is used, never its app.
    server = Server(url, web.Application(), None, http)  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.05)
        yield Sandboxed(server, Disk(ctl), log, bot, email)
    finally:
        for client in server.clients:
            if client.sio.connected:
                await client.close()
        await http.close()
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)


async def _agent(box: Sandboxed) -> Client:
    token = await box.server.login(box.agent_email)
    client = await box.server._connect("/agent", auth={"token": token})
    ack = await client.call("set_status", {"status": "online"})
    assert ack["ok"], ack
    return client


async def _healthz(server: Server) -> tuple[int, dict[str, Any], str | None]:
    async with server.http.get(f"{server.url}/healthz") as resp:
        return resp.status, await resp.json(), resp.headers.get("Retry-After")


async def _post_handoff(server: Server, bot: Bot) -> tuple[int, dict[str, Any], str | None]:
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff",
        json={},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        return resp.status, await resp.json(), resp.headers.get("Retry-After")


async def test_a_full_disk_refuses_with_storage_unavailable_and_health_follows(
    sandboxed: Sandboxed,
) -> None:
    box, server, bot = sandboxed, sandboxed.server, sandboxed.bot
    agent = await _agent(box)
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot)
    await agent.rec.wait("conversation_assigned")
    acked: dict[int, str] = {}
    for i in range(3):
        ack = await widget.call("from_user", _say(cid, bot, f"before {i}"))
        acked[ack["seq"]] = f"before {i}"

    await box.disk.fill()
    # What is already in the WAL file's pages may still be overwritten; the disk
    # refuses the first write that needs a new block.
    refused: list[str] = []
    for i in range(2000):
        text = f"during {i} " + "x" * 3000
        ack = await widget.call("from_user", _say(cid, bot, text))
        if ack["ok"]:
            acked[ack["seq"]] = text
            continue
        assert ack["error"]["code"] == "storage_unavailable", ack
        refused.append(text)
        break
    assert refused, "the full disk never refused a message"
    error = await widget.rec.wait("error", lambda e: e["event"] == "from_user")
    assert error["code"] == "storage_unavailable"
    ack = await agent.call("send_message", {"conversation_id": cid, "text": "y" * 3000})
    assert ack == {"ok": False, "error": ack["error"]}
    assert ack["error"]["code"] == "storage_unavailable"

    # Every other write path says the same (it was a 500 internal_error).
    status, body, retry_after = await _post_handoff(server, bot)
    assert (status, body["error"]["code"]) == (503, "storage_unavailable"), body
    assert retry_after is not None and int(retry_after) > 0
    ack = await widget.call(
        "messages_to_client",
        {"messages": [{"sender": "bot", "message": "z" * 3000}] * 50, "bot_id": bot.id},
    )
    assert ack["error"]["code"] == "storage_unavailable", ack

    # Health is not green while writes fail (it said 200 ok: it only ran SELECT 1).
    status, body, retry_after = await _healthz(server)
    assert status == 503, body
    assert body["status"] == "failing"
    assert body["database"] == "failing"
    assert body["error"]["code"] == "storage_unavailable"
    assert body["error"]["field"] == "database"
    assert retry_after is not None
    # One episode, one line; the later failures are counted, not logged.
    await _until(lambda: box.lines(FAILING_LOG), "the failure was never logged")
    assert len(box.lines(FAILING_LOG)) == 1, box.log.read_text()
    assert "Traceback" not in box.log.read_text()

    await box.disk.free()
    status, body, _ = await _healthz(server)
    assert (status, body) == (200, {"status": "ok"})
    assert len(box.lines(RECOVERED_LOG)) == 1, box.log.read_text()
    ack = await widget.call("from_user", _say(cid, bot, "after"))
    assert ack["ok"], ack
    acked[ack["seq"]] = "after"
    status, body, _ = await _post_handoff(server, bot)
    assert status == 201, body

    # Nothing acknowledged was lost; nothing refused was stored.
    history = await agent.call("history", {"conversation_id": cid})
    stored = {m["seq"]: m["text"] for m in history["messages"] if m["sender"] == "user"}
    assert stored == acked
    assert not set(refused) & set(stored.values())
    assert len(box.lines(FAILING_LOG)) == 1


# ------------------------------------------------------------ a read-only PostgreSQL


async def _admin(url: str, *statements: str) -> None:
    admin = make_engine(url)
    try:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await admin.dispose()


def _database(postgres_url: str) -> str:
    return postgres_url.rsplit("/", 1)[1]


async def _read_only(postgres_url: str, on: bool) -> None:
    name = _database(postgres_url)
    setting = (
        "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
    )
    # The setting applies to new sessions: end the server's, as an operator's restart would.
    await _admin(
        postgres_url.rsplit("/", 1)[0] + "/test",
        f'ALTER DATABASE "{name}" {setting}',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )


async def test_a_read_only_postgres_refuses_every_write_path_and_recovers(
    pg_server: Server, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = pg_server
    bot = await server.bot()
    cid, widget, agent = await server.live_pair(bot)
    first = await widget.call("from_user", _say(cid, bot, "before"))
    assert first["ok"]
    await _read_only(postgres_url, True)

    ack = await widget.call("from_user", _say(cid, bot, "refused"))
    assert ack["error"]["code"] == "storage_unavailable", ack
    # A conversation move, a transcript, an agent's status: all writes, all refused.
    ack = await widget.call(
        "messages_to_client", {"messages": [{"sender": "bot", "message": "hi"}], "bot_id": bot.id}
    )
    assert ack["error"]["code"] == "storage_unavailable", ack
    ack = await agent.call("close", {"conversation_id": cid})
    assert ack["error"]["code"] == "storage_unavailable", ack
    status, body, retry_after = await _post_handoff(server, bot)
    assert (status, body["error"]["code"], retry_after) == (503, "storage_unavailable", "5")
    headers = {"Authorization": f"Bearer {bot.api_key}"}
    async with server.http.put(
        f"{server.url}/api/v1/bots/{bot.id}/env/TOKEN", json={"staging": "s"}, headers=headers
    ) as resp:
        assert resp.status == 503, await resp.text()
        assert resp.headers["Retry-After"] == "5"
    async with server.http.put(
        f"{server.url}/api/v1/bots/{bot.id}/actions/greet",
        json={"code": "def main(event, context):\n    return {}\n"},
        headers=headers,
    ) as resp:
        assert resp.status == 503, await resp.text()
        assert (await resp.json())["error"]["code"] == "storage_unavailable"
    status, body, _ = await _healthz(server)
    assert (status, body["status"]) == (503, "failing"), body
    status, body, _ = await _healthz(server)  # still failing: the probe write is refused too
    assert status == 503, body

    await _read_only(postgres_url, False)
    status, body, _ = await _healthz(server)
    assert (status, body) == (200, {"status": "ok"})
    ack = await widget.call("from_user", _say(cid, bot, "after"))
    assert ack["ok"], ack
    ack = await agent.call("close", {"conversation_id": cid})
    assert ack["ok"], ack
    history = await server.messages.history(cid)
    assert [m.text for m in history] == ["before", "after"]
    failing = [r for r in caplog.records if FAILING_LOG in r.getMessage()]
    recovered = [r for r in caplog.records if RECOVERED_LOG in r.getMessage()]
    assert len(failing) == 1 and len(recovered) == 1, [r.getMessage() for r in caplog.records]
    ours = [r for r in caplog.records if r.name.startswith("handoff") and r.exc_info]
    assert not ours, "a storage failure logged a traceback"


async def _connections(postgres_url: str, allowed: bool) -> None:
    name = _database(postgres_url)
    await _admin(
        postgres_url.rsplit("/", 1)[0] + "/test",
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )


async def test_a_postgres_that_refuses_connections_is_unavailable_not_a_bad_token(
    pg_server: Server, postgres_url: str
) -> None:
    server = pg_server
    bot = await server.bot()
    agent = await server.agent(bot)
    token = await server.login(agent.email)
    await _connections(postgres_url, False)
    try:
        # Reads fail too now: an agent signing in is told the database is down,
        # not that its token is bad (it was "unauthorized").
        refusal = await server.refused_agent_connect({"token": token})
        assert refusal["code"] == "storage_unavailable", refusal
        status, body, retry_after = await _post_handoff(server, bot)
        assert (status, body["error"]["code"], retry_after) == (503, "storage_unavailable", "5")
        status, body, _ = await _healthz(server)
        assert (status, body["status"]) == (503, "failing"), body
    finally:
        await _connections(postgres_url, True)
    status, body, _ = await _healthz(server)
    assert (status, body) == (200, {"status": "ok"})
    sock = await server.agent_socket(agent)
    assert (await sock.call("queue", {}))["ok"]


async def test_a_genuine_database_bug_stays_internal_error_and_health_green(
    pg_server: Server, postgres_url: str
) -> None:
    server = pg_server
    bot = await server.bot()
    # A bug, not the storage: a trigger that raises (SQLSTATE P0001) on every new conversation.
    await _admin(
        postgres_url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'a bug'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON conversations "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    status, body, retry_after = await _post_handoff(server, bot)
    assert (status, body["error"]["code"], retry_after) == (500, "internal_error", None)
    status, body, _ = await _healthz(server)
    assert (status, body) == (200, {"status": "ok"})


# ------------------------------------------------------------------ a writer that died


async def test_a_dead_message_writer_is_started_again_by_the_health_check(
    tmp_path: Path,
) -> None:
    threads = driver_threads()
    # Its database cannot be opened yet, so the writer's task dies at once.
    url = f"sqlite+aiosqlite:///{tmp_path}/later/handoff.db"
    engine = make_engine(url)
    writer = MessageWriter(engine, MessageRepo(engine))
    writer.start()
    try:
        await _until(lambda: not writer.running, "the writer did not stop")
        with pytest.raises(StorageUnavailable):
            await writer.check()
        # That check started the writer again; it dies again at once. Let it, before
        # the directory appears: a writer still opening the file would race the
        # migration for the switch to WAL, which SQLite refuses as "locked".
        await _until(lambda: not writer.running, "the restarted writer did not stop")
        (tmp_path / "later").mkdir()
        await upgrade(url)
        # No message is written: a process out of rotation only gets health checks.
        deadline = time.monotonic() + 10
        while True:
            try:
                await writer.check()
                break
            except StorageUnavailable:
                assert time.monotonic() < deadline, "the writer never came back"
                await asyncio.sleep(0.02)
        assert writer.running
    finally:
        await writer.close()
        await engine.dispose()
        await driver_threads_end(threads)
