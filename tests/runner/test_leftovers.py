"""What one call leaves behind in its worker never reaches the bot's later calls.

A thread still alive after ``main`` returns retires the worker, however it was
started; files left in the worker's private /tmp are removed after the call,
and a /tmp that cannot be emptied retires the worker instead.
"""

from __future__ import annotations

import textwrap

import pytest

from handoff.runner import InvocationResult, RunnerPool

from .conftest import action, wait_gone

# A module global counts the calls one worker served: 1 again means a new worker.
PRELUDE = (
    "import json, os, sys\nserved = [0]\n"
    # A checkout under /tmp (CI may clone there) is mounted into the sandbox's /tmp
    # for the interpreter: that entry is the sandbox's, not the call's.
    "MOUNTED = {p.split('/')[2] for p in [sys.prefix, *sys.path] if p.startswith('/tmp/')}\n"
    "def tmp_entries():\n"
    "    return [e for e in os.listdir('/tmp') if e not in MOUNTED]\n"
)


def counted(body: str) -> str:
    """A main() that runs ``body`` and returns ``r`` with how many calls its worker served."""
    body = textwrap.dedent(body).strip()
    return action(f"served[0] += 1\n{body}", result="(served[0], r)", imports=PRELUDE)


def output(result: InvocationResult) -> tuple[int, object]:
    assert result.ok and result.output is not None, result.error
    served, value = eval(result.output["r"])  # repr of plain values written by the test's code
    return int(served), value


@pytest.mark.parametrize(
    "start",
    [
        "_thread.start_new_thread(time.sleep, (60,))",
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()",
    ],
)
async def test_thread_alive_after_main_retires_the_worker(pool: RunnerPool, start: str) -> None:
    code = counted(f"import _thread, threading, time\nif served[0] == 1:\n    {start}\nr = 0")
    assert output(await pool.run("bot-t", "thread", code, {}))[0] == 1
    old = set(pool.worker_pids())
    assert pool.stats().workers == 0
    assert await wait_gone(old) == set()
    # The next call of the bot runs in a new worker, with no thread of the last one.
    assert output(await pool.run("bot-t", "thread", code, {}))[0] == 1


async def test_thread_that_ended_keeps_the_worker(pool: RunnerPool) -> None:
    code = counted("""
        import _thread, threading
        done = threading.Event()
        _thread.start_new_thread(done.set, ())
        t = threading.Thread(target=print, args=('hi',))
        t.start()
        t.join()
        done.wait(5)
        # the low-level thread has set the event; give it the moment it needs to end
        for _ in range(1000):
            if _thread._count() == 0:
                break
            threading.Event().wait(0.005)
        r = _thread._count()
    """)
    assert output(await pool.run("bot-t", "ended", code, {})) == (1, 0)
    assert output(await pool.run("bot-t", "ended", code, {})) == (2, 0)
    assert pool.stats().workers == 1


FILL = """
    before = sorted(tmp_entries())
    written = 0
    try:
        for n in range(4):
            with open(f'/tmp/fill-{n}', 'wb') as f:
                for _ in range(8):
                    f.write(b'x' * (1 << 20))
                    written += 1
    except OSError as exc:
        error = exc.errno
    else:
        error = None
    os.makedirs('/tmp/d/e', exist_ok=True)
    open('/tmp/d/e/f', 'w').write('left over')
    os.symlink('/usr/lib', '/tmp/d/link')
    os.chmod('/tmp/d/e', 0)
    r = (before, written >= 14, error)
"""


async def test_tmp_is_emptied_between_calls(pool: RunnerPool) -> None:
    code = counted(FILL)
    first = output(await pool.run("bot-f", "fill", code, {}))
    assert first == (1, ([], True, 28))  # ENOSPC: the call filled /tmp
    # The same warm worker: /tmp is empty again and has all its room.
    assert output(await pool.run("bot-f", "fill", code, {})) == (2, ([], True, 28))
    assert pool.stats().workers == 1


async def test_tmp_space_held_by_an_open_file_retires_the_worker(pool: RunnerPool) -> None:
    code = counted("""
        if json.loads(event['body'])['event']:
            held = open('/tmp/held', 'wb')
            held.write(b'x' * (4 << 20))
            held.flush()
            sys.modules['held'] = held  # kept open past the call
        r = sorted(tmp_entries())
    """)
    assert output(await pool.run("bot-h", "held", code, {"event": True})) == (1, ["held"])
    assert pool.stats().workers == 0
    assert output(await pool.run("bot-h", "held", code, {"event": False})) == (1, [])


async def test_tmp_too_full_of_entries_to_clear_retires_the_worker(pool: RunnerPool) -> None:
    code = counted("""
        if json.loads(event['body'])['event']:
            for n in range(1200):
                open(f'/tmp/{n}', 'w').close()
        r = len(tmp_entries())
    """)
    assert output(await pool.run("bot-m", "many", code, {"event": True})) == (1, 1200)
    assert pool.stats().workers == 0
    assert output(await pool.run("bot-m", "many", code, {"event": False})) == (1, 0)
