"""Escape attempts: each is denied with a clear error and leaves nothing running."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from handoff.runner import ErrorKind, InvocationResult, RunnerPool

from .conftest import action, descendants, wait_gone

CONFIG_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"


def failed(result: InvocationResult, kind: ErrorKind, *words: str) -> None:
    assert not result.ok, result.output
    assert result.error is not None
    assert result.error.kind == kind, result.error
    for word in words:
        assert word in result.error.message, result.error.message


async def sandbox_pids(pool: RunnerPool) -> set[int]:
    """Every host process belonging to the pool's workers (bwrap and what it runs)."""
    pids = set(pool.worker_pids())
    for pid in list(pids):
        pids |= descendants(pid)
    return pids


async def test_another_bots_variables_are_out_of_reach(pool: RunnerPool) -> None:
    keep = action("r = os.environ['SECRET']")
    first = await pool.run("bot-a", "keep", keep, {}, env={"SECRET": "a-secret"})
    assert first.output == {"r": repr("a-secret")}
    snoop = action("""
        found = {k: v for k, v in os.environ.items() if 'secret' in v}
        body = json.loads(event['body'])
        procs = os.path.exists('/proc')
        r = (found, body['env_variables'], procs)
    """)
    result = await pool.run("bot-b", "snoop", snoop, {}, env={"MINE": "b-value"})
    assert result.output == {"r": repr(({}, {"MINE": "b-value"}, False))}
    assert pool.stats().per_bot == {"bot-a": 1, "bot-b": 1}


async def test_database_file_and_working_dir_are_not_mounted(
    make_pool: Callable[..., RunnerPool], tmp_path: Path
) -> None:
    database = tmp_path / "handoff.db"
    database.write_text("TOP SECRET ROWS")
    async with make_pool(forbidden_paths=(str(database),)) as pool:
        for path in (database, CONFIG_FILE):
            code = action(f"r = open({str(path)!r}).read()")
            failed(
                await pool.run("bot-x", "read", code, {}), ErrorKind.EXCEPTION, "FileNotFoundError"
            )


async def test_server_environ_is_unreadable(pool: RunnerPool) -> None:
    code = action(f"r = open('/proc/{os.getpid()}/environ', 'rb').read()")
    failed(await pool.run("bot-x", "environ", code, {}), ErrorKind.EXCEPTION, "FileNotFoundError")


async def test_redis_is_blocked(pool: RunnerPool) -> None:
    code = action("""
        import redis
        r = redis.Redis(host='127.0.0.1', port=6379, socket_timeout=3).ping()
    """)
    failed(
        await pool.run("bot-x", "redis", code, {}),
        ErrorKind.EXCEPTION,
        "ConnectionError",
        "127.0.0.1:6379 are blocked",
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0", "::1", "::ffff:127.0.0.1"])
async def test_postgres_is_blocked_under_every_name(pool: RunnerPool, host: str) -> None:
    code = action(f"r = socket.create_connection(({host!r}, 5432), timeout=3)")
    failed(
        await pool.run("bot-x", "pg", code, {}),
        ErrorKind.EXCEPTION,
        "PermissionError",
        ":5432 are blocked",
    )


async def test_going_around_the_socket_patch_finds_no_network(pool: RunnerPool) -> None:
    # _socket and ctypes skip the patched socket module: only the sandbox's own
    # loopback is there, where nothing listens.
    code = action("""
        import _socket, ctypes
        raw = _socket.socket()
        raw.settimeout(2)
        libc = ctypes.CDLL(None, use_errno=True)
        r = (raw.connect_ex(('127.0.0.1', 6379)), raw.connect_ex(('10.0.2.2', 6379)) != 0,
             libc.fork(), ctypes.get_errno())
    """)
    result = await pool.run("bot-x", "raw", code, {})
    assert result.output == {"r": repr((111, True, -1, 1))}  # ECONNREFUSED, -, fork: EPERM


async def test_infinite_loop_times_out(pool: RunnerPool) -> None:
    code = action("""
        n = 0
        while True:
            n += 1
    """)
    before = await sandbox_pids(pool)
    result = await pool.run("bot-x", "loop", code, {}, timeout_s=1)
    failed(result, ErrorKind.TIMEOUT, "1 s time limit")
    assert result.error is not None and result.error.line in (5, 6)
    assert await wait_gone(await sandbox_pids(pool) | before) == set()


async def test_sleep_forever_times_out(pool: RunnerPool) -> None:
    code = action("import time\ntime.sleep(10**6)")
    result = await pool.run("bot-x", "sleep", code, {}, timeout_s=1)
    failed(result, ErrorKind.TIMEOUT)
    assert result.error is not None and result.error.line == 5
    assert await wait_gone(await sandbox_pids(pool)) == set()


async def test_timeout_that_ignores_the_soft_deadline_is_killed(pool: RunnerPool) -> None:
    code = action("""
        import time
        while True:
            try:
                time.sleep(10**6)
            except BaseException:
                pass
    """)
    await pool.prewarm("bot-x")
    pids = await sandbox_pids(pool)
    failed(await pool.run("bot-x", "stubborn", code, {}, timeout_s=1), ErrorKind.TIMEOUT, "stopped")
    assert await wait_gone(pids) == set()
    assert pool.stats().workers == 0


async def test_fork_bomb_is_refused(pool: RunnerPool) -> None:
    code = action("""
        while True:
            os.fork()
    """)
    failed(await pool.run("bot-x", "bomb", code, {}), ErrorKind.EXCEPTION, "cannot start processes")
    code = action("""
        import _posixsubprocess
        rd, wr = os.pipe()
        r = _posixsubprocess.fork_exec([b'/bin/true'], [b'/bin/true'], True, (), None, None,
                                       -1, -1, -1, -1, -1, -1, rd, wr, False, False,
                                       -1, None, None, None, -1, None, False)
    """)
    failed(await pool.run("bot-x", "bomb2", code, {}), ErrorKind.EXCEPTION, "PermissionError")


async def test_double_forked_daemon_cannot_start(pool: RunnerPool) -> None:
    code = action("""
        import subprocess
        subprocess.Popen(['/bin/sh', '-c', '(sleep 1000 &) ; exit 0'],
                         start_new_session=True)
    """)
    await pool.prewarm("bot-x")
    before = await sandbox_pids(pool)
    failed(
        await pool.run("bot-x", "daemon", code, {}), ErrorKind.EXCEPTION, "cannot start processes"
    )
    assert await sandbox_pids(pool) == before  # bwrap, its init and the worker: no more
    await pool.aclose()
    assert await wait_gone(before) == set()


@pytest.mark.parametrize(
    "body",
    [
        "r = bytearray(4 * 1024 ** 3)",
        "r = []\nwhile True:\n    r.append(bytearray(10 ** 7))",
    ],
)
async def test_memory_balloon_hits_the_limit(pool: RunnerPool, body: str) -> None:
    failed(
        await pool.run("bot-x", "balloon", action(body), {}), ErrorKind.LIMIT_EXCEEDED, "512 MiB"
    )
    ok = await pool.run("bot-x", "after", action("r = 1"), {})
    assert ok.ok  # a fresh worker took over


async def test_huge_print_output_is_bounded(pool: RunnerPool) -> None:
    code = action("""
        for _ in range(100_000):
            print('x' * 1000)
        os.write(1, b'y' * 10_000_000)
        r = 'done'
    """)
    result = await pool.run("bot-x", "spam", code, {})
    assert result.ok, result.error
    assert len(result.logs) < pool.config.max_log_chars + 200
    assert "characters of output were dropped" in result.logs


async def test_huge_file_write_hits_the_limit(pool: RunnerPool) -> None:
    code = action("r = open('/tmp/big', 'wb').write(b'x' * 100 * 1024 * 1024)")
    failed(await pool.run("bot-x", "file", code, {}), ErrorKind.LIMIT_EXCEEDED, "file size")
    code = action("r = open('/usr/evil', 'w')")
    failed(await pool.run("bot-x", "ro", code, {}), ErrorKind.EXCEPTION, "Read-only")


async def test_oversized_return_is_refused(pool: RunnerPool) -> None:
    code = action("r = None", result="'z' * 5_000_000")
    failed(await pool.run("bot-x", "big", code, {}), ErrorKind.LIMIT_EXCEEDED, "limit")


async def test_exec_is_refused(pool: RunnerPool) -> None:
    code = action("os.execv('/bin/sh', ['sh', '-c', 'echo > /dev/tcp/127.0.0.1/6379'])")
    failed(await pool.run("bot-x", "exec", code, {}), ErrorKind.EXCEPTION, "cannot start processes")


async def test_forged_protocol_frames_only_break_that_worker(pool: RunnerPool) -> None:
    # The protocol pipe is an fd the bot can find; what it writes there is
    # untrusted like everything else, and costs it only its own worker.
    code = action("""
        for fd in range(3, 10):
            try:
                os.write(fd, b'\\xff\\xff\\xff\\xff' + b'x' * 64)
            except OSError:
                pass
        r = 'forged'
    """)
    out = await pool.run("bot-x", "forge", code, {})
    assert out.error is not None
    assert out.error.kind in (ErrorKind.LIMIT_EXCEEDED, ErrorKind.EXCEPTION)
    assert pool.stats().workers == 0
    assert (await pool.run("bot-x", "after", action("r = 1"), {})).ok


async def test_variable_values_are_masked_in_logs_and_errors(pool: RunnerPool) -> None:
    code = action("""
        key = os.environ['API_KEY']
        print('calling with', key)
        raise ValueError('bad key ' + key)
    """)
    out = await pool.run("bot-x", "leak", code, {}, env={"API_KEY": "sk-live-123456"})
    assert out.error is not None and out.error.traceback is not None
    for text in (out.logs, out.error.message, out.error.traceback):
        assert "sk-live-123456" not in text
    assert "calling with ****" in out.logs and "bad key ****" in out.error.message


async def test_a_forged_answer_costs_only_its_worker_never_a_pool_slot(
    make_pool: Callable[..., RunnerPool],
) -> None:
    # Bot code can find the protocol pipe and answer for the worker, in the worker's
    # own frame format, with fields the server cannot read (a CPU time that is no number).
    forge = action("""
        import struct
        head = json.dumps([
            'result', 1, True, {'statusCode': 200, 'body': '{}'}, 'dict', None, False, 1,
            'x', True, '', [],
        ]).encode()
        fake = struct.pack('>II', 4 + len(head), len(head)) + head
        for fd in range(3, 10):
            try:
                os.write(fd, fake)
            except OSError:
                pass
        r = 'forged'
    """)
    async with make_pool(max_workers=2, max_workers_per_bot=2) as pool:
        for i in range(4):
            # Whatever it claims is its own call's result; the worker is not kept.
            await pool.run(f"bot-{i}", "forge", forge, {})
            assert pool.stats().workers == 0
        # Every slot is still there for everyone else.
        assert (await pool.run("bot-ok", "after", action("r = 1"), {})).ok


async def test_text_that_is_not_unicode_is_shown_not_fatal(pool: RunnerPool) -> None:
    # A lone surrogate has no UTF-8: printed or raised, it must not take the worker down.
    printed = await pool.run("bot-u", "print", action("print('bad \\ud800 text')\nr = 1"), {})
    assert printed.ok, printed
    assert "bad \ufffd text" in printed.logs
    raised = await pool.run("bot-u", "raise", action("raise ValueError('bad \\ud800')"), {})
    assert raised.error is not None and raised.error.kind == ErrorKind.EXCEPTION, raised
    assert "bad \ufffd" in raised.error.message
    assert (await pool.run("bot-u", "after", action("r = 2"), {})).ok
