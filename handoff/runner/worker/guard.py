"""Limits the worker puts on itself before any bot code runs.

The kernel-level walls (namespaces, seccomp, no server files) are built by
bubblewrap outside; this module adds what is easiest to set from inside:
resource limits, the protocol pipes moved out of the way of ``print``, and an
audit hook that turns process creation into a clear error message.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
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
