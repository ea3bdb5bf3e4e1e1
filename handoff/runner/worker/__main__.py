"""Worker entry point: ``python -m handoff_worker`` inside the sandbox.

Start-up order matters: the protocol pipes are moved away first, then the
init frame brings the limits and the bot's variables, then the guards go up,
and only then is ``ready`` sent and bot code accepted.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from . import guard, netclient, wire
from .frames import decode_call
from .runtime import Runtime

# Kept when the environment is replaced by the bot's variables.
_BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}


def _start(init: dict[str, Any]) -> Runtime:
    limits = init["limits"]
    # Imports that bot code commonly needs are loaded before the memory limit
    # so a warm worker pays for them once.
    for name in init.get("preload", ()):
        importlib.import_module(name)
    guard.apply_rlimits(limits)
    os.environ.clear()
    os.environ.update(_BASE_ENV)
    os.environ.update(init["env"])
    if init.get("egress"):
        netclient.install(init["egress"])
    runtime = Runtime(
        max_log_chars=limits["max_log_chars"],
        max_result_bytes=limits["max_result_bytes"],
        memory_mb=limits["memory_bytes"] // (1024 * 1024),
    )
    guard.install_audit_hook()
    os.chdir(init.get("workdir") or "/tmp")
    guard.watch_leftovers(init.get("workdir"))
    # The worker's own directory holds no bot-importable code.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd(), init.get("worker_dir"))]
    return runtime


def main() -> int:
    """Serve call frames until the server closes the pipe."""
    proto_in, proto_out = guard.take_protocol_fds()
    frames = wire.FrameReader(proto_in)
    init = frames.read()
    if not isinstance(init, dict) or init.get("op") != "init":
        print("handoff worker: expected an init frame", file=sys.stderr)
        return 2
    runtime = _start(init)
    guard.silence_stderr()
    wire.write_all(proto_out, wire.encode({"op": "ready", "pid": os.getpid()}))
    while True:
        msg = frames.read()
        if msg is None:
            return 0
        call_id, call = decode_call(msg)
        wire.write_all(proto_out, runtime.answer(runtime.call(call_id, call)))


if __name__ == "__main__":
    sys.exit(main())
