"""What happens when parts fail: a start that stops half way, a deadline whose
handling breaks, a message writer that died."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.app import create_app
from handoff.errors import StorageUnavailable
from handoff.storage.conversations import ConversationRepo
from handoff.storage.db import make_engine
from handoff.storage.messages import MessageRepo
from handoff.storage.migrate import upgrade
from handoff.storage.writer import MessageWriter, NewMessage
from tests.conftest import (
    Server,
    driver_threads,
    driver_threads_end,
    fail_updates_of,
    heal_updates,
    make_settings,
)


def _leftovers() -> tuple[list[str], list[str]]:
    tasks = sorted(
        t.get_name()
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and not t.done()
    )
    # The event loop's own executor threads come and go; database driver threads must not stay.
    threads = sorted(
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.name.startswith("asyncio_")
    )
    return tasks, threads


async def test_a_failed_start_closes_everything_it_opened(tmp_path: Path) -> None:
    # A data directory that the custom-action sandbox would expose (inside the
    # Python installation it mounts) makes the runner pool refuse to start, after
    # the database, the message writer and the routing state are already up.
    exposed = Path(sys.prefix) / "lib" / f"handoff-test-{uuid.uuid4().hex}"
    before = _leftovers()
    try:
        app = create_app(make_settings(tmp_path, data_dir=exposed))
        runner = web.AppRunner(app, access_log=None)
        with pytest.raises(RuntimeError, match="refusing to sandbox"):
            await runner.setup()
        await runner.cleanup()  # what aiohttp's run_app does after a failed start
        for _ in range(100):
            if _leftovers() == before:
                break
            await asyncio.sleep(0.02)
        # No message writer task, no database connection thread left behind.
        assert _leftovers() == before
    finally:
        shutil.rmtree(exposed, ignore_errors=True)


async def _pending_handoffs(server: Server, count: int) -> list[str]:
    bot = await server.bot()
    return [(await server.handoff(bot))["ConversationID"] for _ in range(count)]


async def test_a_failing_deadline_costs_no_other_and_comes_back(server: Server) -> None:
    first, second, third = await _pending_handoffs(server, 3)
    await fail_updates_of(server, first)
    later = time.time() + 3600
    assert await server.service.sweep(later) == 3
    # The one that failed is still open; the others after it were handled.
    assert (await server.service.conversation(first)).state == "pending"
    assert (await server.service.conversation(second)).close_reason == "timeout"
    assert (await server.service.conversation(third)).close_reason == "timeout"
    await heal_updates(server)
    # Its deadline came back for the next pass.
    assert await server.service.sweep(later) == 1
    assert (await server.service.conversation(first)).close_reason == "timeout"
    assert await server.service.sweep(later) == 0


async def test_a_writer_that_cannot_open_refuses_instead_of_hanging(tmp_path: Path) -> None:
    threads = driver_threads()
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/handoff.db")
    writer = MessageWriter(engine, MessageRepo(engine))
    writer.start()
    try:
        for _ in range(2):  # the next write tries again, and is refused again
            with pytest.raises(StorageUnavailable) as caught:
                await asyncio.wait_for(writer.write(NewMessage("c", 1, "user", "hi")), 5)
            assert caught.value.code == "storage_unavailable"
            assert caught.value.status == 503
        assert not writer.running
    finally:
        await writer.close()
        await engine.dispose()
        await driver_threads_end(threads)


async def test_a_writer_that_can_open_again_recovers(tmp_path: Path) -> None:
    threads = driver_threads()
    url = f"sqlite+aiosqlite:///{tmp_path}/later/handoff.db"
    engine = make_engine(url)
    writer = MessageWriter(engine, MessageRepo(engine))
    writer.start()
    try:
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(writer.write(NewMessage("c", 1, "user", "lost")), 5)
        (tmp_path / "later").mkdir()
        await upgrade(url)
        await ConversationRepo(engine).create(
            "c", await _bot(url), user={}, reason=None, entities={}, team=None, actor="test"
        )
        stored = await asyncio.wait_for(writer.write(NewMessage("c", 1, "user", "kept")), 5)
        assert stored.seq == 1
        assert [m.text for m in await MessageRepo(engine).history("c")] == ["kept"]
    finally:
        await writer.close()
        await engine.dispose()
        await driver_threads_end(threads)


async def test_a_writer_whose_idle_connection_the_server_ended_takes_another(
    migrated_postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A PostgreSQL restart or failover, or an operator's pg_terminate_backend, ends the
    # connection the writer holds between batches: the next message is stored on another,
    # neither refused nor logged as an error.
    url = migrated_postgres_url
    engine, writer = await _writing_to_conversation_c(url)
    try:
        for seq in (1, 2, 3):
            await writer.write(NewMessage("c", seq * 2 - 1, "user", f"before {seq}"))
            held = writer._held_driver  # the asyncpg connection it writes on
            assert held is not None
            async with engine.connect() as admin:
                await admin.exec_driver_sql(f"SELECT pg_terminate_backend({held.get_server_pid()})")
            if seq > 1:  # at once (1), and once asyncpg may have seen the end (2, 3)
                await asyncio.sleep(0.05 * seq)
            stored = await writer.write(NewMessage("c", seq * 2, "user", f"after {seq}"))
            assert stored.seq == seq * 2
            assert writer._held_driver is not held
        texts = [m.text for m in await MessageRepo(engine).history("c")]
        assert texts == [f"{w} {n}" for n in (1, 2, 3) for w in ("before", "after")]
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        await writer.close()
        await engine.dispose()


async def _writing_to_conversation_c(url: str) -> tuple[AsyncEngine, MessageWriter]:
    """An engine on the migrated ``url`` with conversation ``c``, and a started writer."""
    engine = make_engine(url)
    await ConversationRepo(engine).create(
        "c", await _bot(url), user={}, reason=None, entities={}, team=None, actor="test"
    )
    writer = MessageWriter(engine, MessageRepo(engine))
    writer.start()
    return engine, writer


async def _bot(url: str) -> str:
    from handoff.storage.bots import BotRepo

    engine = make_engine(url)
    try:
        record, _ = await BotRepo(engine).create("bot")
        return record.id
    finally:
        await engine.dispose()


def _stored(sender: str) -> float:
    return REGISTRY.get_sample_value("handoff_messages_total", {"sender": sender}) or 0.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind; SQLite's not migrated yet."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/handoff.db"
    return str(request.getfixturevalue("migrated_postgres_url"))


async def test_messages_stored_one_by_one_are_counted(database_url: str) -> None:
    # Both drivers' own batch paths (aiosqlite's executemany and commit; asyncpg's
    # executemany, one implicit transaction): a batch with a repeated client_msg_id is
    # stored whole or not at all, then row by row.
    threads = driver_threads()
    url = database_url
    await upgrade(url)
    engine, writer = await _writing_to_conversation_c(url)
    try:
        await writer.write(NewMessage("c", 1, "agent", "first", "ag", client_msg_id="a"))
        before = _stored("agent")
        # One batch holding a repeated client_msg_id goes down the one-row path.
        results = await asyncio.gather(
            writer.write(NewMessage("c", 2, "agent", "second", "ag", client_msg_id="b")),
            writer.write(NewMessage("c", 3, "agent", "first again", "ag", client_msg_id="a")),
            writer.write(NewMessage("c", 4, "agent", "third", "ag", client_msg_id="c")),
        )
        assert [m.seq for m in results] == [2, 1, 4]
        assert _stored("agent") - before == 2
        history = await MessageRepo(engine).history("c")
        assert [(m.seq, m.text) for m in history] == [(1, "first"), (2, "second"), (4, "third")]
    finally:
        await writer.close()
        await engine.dispose()
        await driver_threads_end(threads)


async def test_an_assignment_that_cannot_be_stored_leaves_the_conversation_queued(
    server: Server,
) -> None:
    bot = await server.bot()
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    await fail_updates_of(server, cid)
    agent = await server.agent(bot)
    sock = await server.agent_socket(agent, online=False)
    # Going online dispatches; storing the assignment fails; the status change still holds.
    ack = await sock.call("set_status", {"status": "online"})
    assert ack["ok"], ack
    assert (await server.service.conversation(cid)).state == "queued"
    assert [e.conversation_id for e in await server.state.queue(bot.id)] == [cid]
    assert await server.state.assigned_agent(cid) is None
    await heal_updates(server)
    # The next dispatch (here: the agent sets their status again) assigns it.
    assert (await sock.call("set_status", {"status": "online"}))["ok"]
    assigned = await sock.rec.wait("conversation_assigned")
    assert assigned["conversation"]["conversation_id"] == cid
    assert await server.state.assigned_agent(cid) == agent.id


async def test_a_repeated_handoff_after_a_half_done_one_works(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await server.bot()
    real = MessageRepo.max_seq
    calls = 0

    async def hiccup(self: MessageRepo, conversation_id: str) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first call's storage fails after the conversation was stored
            raise StorageUnavailable("the database does not answer")
        return await real(self, conversation_id)

    monkeypatch.setattr(MessageRepo, "max_seq", hiccup)
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/handoff",
        json={"ConversationID": "half-done-1"},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert resp.status == 503
    again = await server.handoff(bot, ConversationID="half-done-1")
    assert again["state"] == "pending"
    widget = await server.widget("half-done-1", bot)
    ack = await widget.call(
        "from_user", {"ConversationID": "half-done-1", "BotID": bot.id, "message": "hi"}
    )
    assert ack == {"ok": True, "seq": 1}
    # Its wait limit was set too: nobody came, so it ends as no_agent.
    await server.service.sweep(time.time() + 7200)
    assert (await server.service.conversation("half-done-1")).close_reason == "no_agent"
