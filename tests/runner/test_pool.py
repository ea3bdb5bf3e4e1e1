"""The pool: warm reuse per bot, bounded concurrency, replacement, reaping, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from handoff.runner import ErrorKind, InvocationResult, RunnerPool

from .conftest import action, descendants, wait_gone

COUNTER = """import json
calls = 0

def main(event, context):
    global calls
    calls += 1
    return {'statusCode': 200, 'body': json.dumps({'calls': calls}), 'headers': {}}
"""
SLOW = action("import time\nr = time.sleep(float(json.loads(event['body'])['event']['s']))")


def calls(result: InvocationResult) -> int:
    assert result.ok and result.output is not None, result.error
    return int(result.output["calls"])


async def until(check: Callable[[], bool]) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def tree(pool: RunnerPool) -> set[int]:
    pids = set(pool.worker_pids())
    return pids.union(*(descendants(p) for p in pids))


async def test_warm_worker_is_reused_and_never_shared(pool: RunnerPool) -> None:
    assert [calls(await pool.run("bot-a", "c", COUNTER, {})) for _ in range(3)] == [1, 2, 3]
    assert calls(await pool.run("bot-b", "c", COUNTER, {})) == 1
    assert pool.stats().per_bot == {"bot-a": 1, "bot-b": 1}
    # New code is a new version: initialised afresh in the same warm worker.
    assert calls(await pool.run("bot-a", "c", COUNTER + "\n# v2\n", {})) == 1
    assert pool.stats().workers == 2


async def test_other_variables_get_their_own_worker(pool: RunnerPool) -> None:
    assert calls(await pool.run("bot-a", "c", COUNTER, {}, env={"STAGE": "staging"})) == 1
    assert calls(await pool.run("bot-a", "c", COUNTER, {}, env={"STAGE": "production"})) == 1
    assert calls(await pool.run("bot-a", "c", COUNTER, {}, env={"STAGE": "staging"})) == 2
    assert pool.stats().per_bot == {"bot-a": 2}


async def test_excess_calls_are_busy_not_queued(make_pool: Callable[..., RunnerPool]) -> None:
    async with make_pool(max_workers_per_bot=1) as pool:
        slow = asyncio.create_task(pool.run("bot-a", "slow", SLOW, {"event": {"s": 3}}))
        await until(lambda: pool.stats().busy == 1)
        busy = await pool.run("bot-a", "c", COUNTER, {})
        assert busy.error is not None and busy.error.kind == ErrorKind.BUSY
        assert "bot-a" in busy.error.message and "limit" in busy.error.message
        assert calls(await pool.run("bot-b", "c", COUNTER, {})) == 1  # others run on
        assert (await slow).ok


async def test_machine_wide_limit_evicts_idle_then_says_busy(
    make_pool: Callable[..., RunnerPool],
) -> None:
    async with make_pool(max_workers=1) as pool:
        assert calls(await pool.run("bot-a", "c", COUNTER, {})) == 1
        assert calls(await pool.run("bot-b", "c", COUNTER, {})) == 1  # bot-a's idle evicted
        assert pool.stats().per_bot == {"bot-b": 1}
        slow = asyncio.create_task(pool.run("bot-b", "slow", SLOW, {"event": {"s": 3}}))
        await until(lambda: pool.stats().busy == 1)
        busy = await pool.run("bot-a", "c", COUNTER, {})
        assert busy.error is not None and busy.error.kind == ErrorKind.BUSY
        assert (await slow).ok


async def test_timed_out_worker_is_replaced(pool: RunnerPool) -> None:
    assert calls(await pool.run("bot-a", "c", COUNTER, {})) == 1
    old = tree(pool)
    out = await pool.run("bot-a", "slow", SLOW, {"event": {"s": 60}}, timeout_s=1)
    assert out.error is not None and out.error.kind == ErrorKind.TIMEOUT
    assert await wait_gone(old) == set()
    assert calls(await pool.run("bot-a", "c", COUNTER, {})) == 1  # a fresh worker


async def test_left_over_thread_retires_the_worker(pool: RunnerPool) -> None:
    code = action(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
    )
    await pool.run("bot-a", "thread", code, {})
    assert pool.stats().workers == 0


async def test_idle_workers_are_reaped(pool: RunnerPool) -> None:
    await pool.run("bot-a", "c", COUNTER, {})
    await pool.run("bot-b", "c", COUNTER, {})
    old = tree(pool)
    assert await pool.reap_idle() == 0
    assert await pool.reap_idle(now=10**9) == 2
    assert pool.stats().workers == 0
    assert await wait_gone(old) == set()


async def test_prewarm_and_retire(pool: RunnerPool) -> None:
    assert await pool.prewarm("bot-a", {"K": "v"}, count=2) == 2
    assert pool.stats().idle == 2
    assert calls(await pool.run("bot-a", "c", COUNTER, {}, env={"K": "v"})) == 1
    assert pool.stats().workers == 2
    assert await pool.retire_bot("bot-a") == 2
    assert pool.stats().workers == 0


async def test_cancelled_call_kills_its_worker(pool: RunnerPool) -> None:
    task = asyncio.create_task(pool.run("bot-a", "slow", SLOW, {"event": {"s": 60}}))
    await until(lambda: pool.stats().busy == 1)
    old = tree(pool)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone(old) == set()
    assert pool.stats().workers == 0


async def test_aclose_kills_busy_and_idle_workers(make_pool: Callable[..., RunnerPool]) -> None:
    pool = make_pool()
    await pool.start()
    await pool.prewarm("bot-idle")
    task = asyncio.create_task(pool.run("bot-a", "slow", SLOW, {"event": {"s": 60}}))
    await until(lambda: pool.stats().busy == 1)
    old = tree(pool)
    assert len(old) >= 4
    await pool.aclose()
    out = await task
    assert out.error is not None and out.error.kind == ErrorKind.EXCEPTION
    assert await wait_gone(old) == set()
    with pytest.raises(RuntimeError):
        await pool.run("bot-a", "c", COUNTER, {})


async def test_missing_bubblewrap_refuses_to_run(make_pool: Callable[..., RunnerPool]) -> None:
    async with make_pool(bwrap_path="/nonexistent/bwrap") as pool:
        assert not pool.sandboxed
        out = await pool.run("bot-a", "c", COUNTER, {})
        assert out.error is not None and out.error.kind == ErrorKind.SANDBOX_UNAVAILABLE
        assert "HANDOFF_RUNNER_ALLOW_UNSANDBOXED" in out.error.message


async def test_explicit_opt_out_runs_unsandboxed_and_says_so(
    make_pool: Callable[..., RunnerPool], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="handoff.runner"):
        async with make_pool(bwrap_path="/nonexistent/bwrap", allow_unsandboxed=True) as pool:
            assert calls(await pool.run("bot-a", "c", COUNTER, {})) == 1
            out = await pool.run("bot-a", "fork", action("os.fork()"), {})
            assert out.error is not None and "cannot start processes" in out.error.message
    assert "WITHOUT A SANDBOX" in caplog.text


async def test_forbidden_path_inside_a_mount_stops_start(
    make_pool: Callable[..., RunnerPool],
) -> None:
    pool = make_pool(forbidden_paths=(sys.prefix + "/lib/secrets.db",))
    with pytest.raises(RuntimeError, match="refusing to sandbox"):
        await pool.start()


async def test_oversized_code_is_refused(make_pool: Callable[..., RunnerPool]) -> None:
    async with make_pool(max_code_chars=100) as pool:
        out = await pool.run("bot-a", "c", COUNTER + "#" * 100, {})
        assert out.error is not None and out.error.kind == ErrorKind.LIMIT_EXCEEDED


async def test_concurrent_bots_each_get_an_answer(pool: RunnerPool) -> None:
    results = await asyncio.gather(*(pool.run(f"bot-{i}", "c", COUNTER, {}) for i in range(6)))
    assert [calls(r) for r in results] == [1] * 6
    assert pool.stats().workers == 6


async def test_bubblewrap_that_cannot_start_says_why(
    make_pool: Callable[..., RunnerPool], tmp_path: Path
) -> None:
    # What a host without unprivileged user namespaces looks like.
    fake = tmp_path / "bwrap"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && echo "bubblewrap 0.8.0" && exit 0\n'
        'echo "bwrap: No permissions to create new namespace" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    async with make_pool(bwrap_path=str(fake)) as pool:
        assert pool.sandboxed
        out = await pool.run("bot-a", "c", COUNTER, {})
        assert out.error is not None and out.error.kind == ErrorKind.SANDBOX_UNAVAILABLE
        assert "No permissions to create new namespace" in out.error.message
        assert pool.stats().workers == 0
