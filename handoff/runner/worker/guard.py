"""Limits the worker puts on itself before any bot code runs.

The kernel-level walls (namespaces, seccomp, no server files) are built by
bubblewrap outside; this module adds what is easiest to set from inside:
resource limits, the protocol pipes moved out of the way of ``print``, an
audit hook that turns process creation into a clear error message, and the
checks after each call (``left_behind``): no thread of bot code may live on
into the next call, and the call's files in ``/tmp`` are removed.
"""

from __future__ import annotations

import _thread
import os
import resource
import signal
import stat
import sys
import threading
from typing import Any

# Process creation is also refused by the sandbox's seccomp filter; the hook
# exists so the bot builder reads "cannot start processes", not "EPERM".
_PROCESS_EVENTS = frozenset(
    {
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "subprocess.Popen",
    }
)


def take_protocol_fds() -> tuple[int, int]:
    """Move the protocol pipes off fds 0 and 1 and point those at /dev/null.

    Bot code that writes to the real stdout (``os.write(1, ...)``, a C
    library) must not be able to corrupt the frame stream by accident.
    """
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    return proto_in, proto_out


def silence_stderr() -> None:
    """Point fd 2 at /dev/null once start-up errors can no longer happen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def apply_rlimits(limits: dict[str, Any]) -> None:
    """Lower this process's resource limits; without privileges they stay lowered.

    Set here rather than with ``preexec_fn`` in the server, which is unsafe in
    a threaded process; this code runs before any bot code, so it is
    equivalent for everything the bot can do.
    """
    cpu = int(limits["cpu_seconds"])
    wanted = {
        resource.RLIMIT_AS: (limits["memory_bytes"],) * 2,
        # Soft limit raises SIGXCPU (the worker dies and is replaced); the
        # hard limit one second later is SIGKILL in case SIGXCPU is caught.
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_NPROC: (limits["max_processes"],) * 2,
        resource.RLIMIT_NOFILE: (limits["max_open_files"],) * 2,
        resource.RLIMIT_FSIZE: (limits["max_file_bytes"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, (soft, hard) in wanted.items():
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(int(hard), cur_hard)
        resource.setrlimit(which, (min(int(soft), int(hard)), int(hard)))
    # A write past RLIMIT_FSIZE then fails with EFBIG instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def install_audit_hook() -> None:
    """Refuse process creation with a readable PermissionError.

    Audit hooks cannot be removed once added. The hook closes over its data
    and calls no patchable globals, so bot code cannot change what it refuses.
    """
    events = _PROCESS_EVENTS
    error = PermissionError

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in events:
            raise error(
                f"custom actions cannot start processes ({event} is blocked by the "
                "sandbox); call an API with requests instead"
            )

    sys.addaudithook(hook)


# More entries than this left in /tmp: retiring the worker is cheaper than
# removing them one by one after the call's time is up.
_MAX_SCRATCH_ENTRIES = 1000
# Space a wiped /tmp may still hold: only a deleted file that bot code keeps open.
_SCRATCH_SLACK_BYTES = 64 * 1024


_count_threads = _thread._count
# Threads started through _thread (threading's included) whose function has not returned.
_running = [0]


def track_threads() -> None:
    """Count every thread from its start to its end, before bot code runs.

    A thread started with ``_thread.start_new_thread`` is in no list until the
    new OS thread first gets the interpreter lock, which may be after ``main``
    returns; counting it from the call that starts it closes that gap.
    ``threading`` starts its threads through the same functions.
    """
    lock = _thread.allocate_lock()
    running = _running

    def wrap(start: Any) -> Any:
        def started(function: Any, *args: Any, **kwargs: Any) -> Any:
            def run(*a: Any, **k: Any) -> Any:
                try:
                    return function(*a, **k)
                finally:
                    with lock:
                        running[0] -= 1

            with lock:
                running[0] += 1
            try:
                return start(run, *args, **kwargs)
            except BaseException:
                with lock:
                    running[0] -= 1
                raise

        return started

    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        if hasattr(_thread, name):
            setattr(_thread, name, wrap(getattr(_thread, name)))
    for name, real in (
        ("_start_new_thread", "start_new_thread"),
        ("_start_joinable_thread", "start_joinable_thread"),
    ):
        if hasattr(threading, name):
            setattr(threading, name, getattr(_thread, real))


def threads_left() -> bool:
    """Whether any thread besides this one is alive, however it was started.

    ``threading.active_count`` misses ``_thread.start_new_thread``; the count
    from ``track_threads`` does not, the interpreter's own count covers a
    thread started through a function saved before the patch, and
    ``sys._current_frames`` a thread that C code started and that runs Python.
    """
    return (
        _running[0] > 0
        or _count_threads() > 0
        or threading.active_count() > 1
        or len(sys._current_frames()) > 1
    )


class Scratch:
    """The worker's writable directory (its private /tmp), emptied after each call.

    Mount points inside it (an interpreter that lives under /tmp, bound over
    the tmpfs) and the directories leading to them are kept. When the
    directory is a file system of its own (the sandbox's tmpfs), its free
    space must come back too, or the worker is retired.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        here = os.lstat(path)
        self.dev = here.st_dev
        self.own_fs = here.st_dev != os.lstat(os.path.dirname(path.rstrip("/")) or "/").st_dev
        self.baseline = self._usage()

    def _usage(self) -> tuple[int, int]:
        """(bytes, inodes) in use, or zeros when the directory shares a file system."""
        if not self.own_fs:
            return (0, 0)
        st = os.statvfs(self.path)
        return ((st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree)

    def clear(self) -> bool:
        """Remove what calls left; False when that failed and the worker must go."""
        if self.own_fs and self._usage() == self.baseline:
            return True  # one system call when the call wrote nothing
        try:
            self._empty(self.path, [0])
        except (OSError, RecursionError):
            return False
        used, _ = self._usage()
        return used <= self.baseline[0] + _SCRATCH_SLACK_BYTES

    def _empty(self, path: str, seen: list[int]) -> bool:
        """Remove everything under ``path``; whether a mount point was kept there."""
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            os.chmod(path, 0o700)  # bot code may have taken its own rights away
        with os.scandir(path) as it:
            entries = list(it)
        seen[0] += len(entries)
        if seen[0] > _MAX_SCRATCH_ENTRIES:
            raise OSError(f"more than {_MAX_SCRATCH_ENTRIES} entries left in {self.path}")
        kept = False
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if st.st_dev != self.dev:
                kept = True
            elif stat.S_ISDIR(st.st_mode):
                if self._empty(entry.path, seen):
                    kept = True
                else:
                    os.rmdir(entry.path)
            else:
                os.unlink(entry.path)  # a symlink is removed, never followed
        return kept


_scratch: list[Scratch] = []


def watch_leftovers(workdir: str | None) -> None:
    """Check after every call for live threads, and empty ``workdir`` (the worker's /tmp).

    None for no directory: never the shared /tmp of an unsandboxed worker.
    """
    track_threads()
    _scratch[:] = [Scratch(workdir)] if workdir else []


def left_behind() -> bool:
    """After a call: whether the worker must be retired for what the call left.

    A live thread would run into the bot's next calls; files in /tmp are
    removed, and a /tmp that cannot be emptied retires the worker instead.
    """
    if threads_left():
        return True
    return any(not scratch.clear() for scratch in _scratch)
