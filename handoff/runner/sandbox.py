"""The bubblewrap command line that holds one worker, and what it may see.

A worker gets: a new user, PID, IPC, UTS, cgroup and network namespace (its
only interface is its own loopback; the way out is the egress proxy's socket),
no capabilities, no new user namespaces, a new session, death with its parent,
the seccomp filter from ``seccomp.py``, read-only system directories and the
Python install, a handful of public files from /etc, a small private /tmp, a
minimal /dev, and no /proc at all. The server's working directory, database,
config and secrets are never mounted; ``check_forbidden`` proves it.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "SANDBOX_WORKER_DIR",
    "Bubblewrap",
    "check_forbidden",
    "find_bubblewrap",
    "mounted_paths",
    "python_paths",
    "sandbox_argv",
]

SANDBOX_UID = 65534
SANDBOX_HOME = "/run/handoff"
SANDBOX_WORKER_DIR = f"{SANDBOX_HOME}/handoff_worker"
SANDBOX_EGRESS = f"{SANDBOX_HOME}/egress.sock"
WORKER_MODULE = "handoff_worker"
WORKER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker")

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
# Public files only: /etc as a whole holds shadow, keys and local config.
_ETC_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
)


@dataclass(frozen=True)
class Bubblewrap:
    """A usable bwrap binary and the options its version understands."""

    path: str
    version: tuple[int, ...]

    @property
    def disable_userns(self) -> bool:
        return self.version >= (0, 8)


def find_bubblewrap(path: str | None = None) -> Bubblewrap | None:
    """The bwrap at ``path`` (or on PATH) with its version, or None if there is none."""
    found = path or shutil.which("bwrap")
    if not found or not os.access(found, os.X_OK):
        return None
    try:
        out = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+(?:\.\d+)+)", out)
    version = tuple(int(x) for x in match.group(1).split(".")) if match else (0,)
    return Bubblewrap(found, version)


def _minimal(paths: Iterable[str]) -> list[str]:
    """Existing paths, outermost first, without ones already under another."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths if os.path.exists(p)}):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def python_paths() -> list[str]:
    """Directories the interpreter needs, from sys.prefix, base_prefix and site-packages.

    Only ``bin``, ``lib``, ``lib64`` and ``pyvenv.cfg`` of each prefix: a
    prefix may be the server's own directory, and what else lives there is
    none of the sandbox's business. Paths under /usr are mounted anyway.
    """
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    wanted: set[str] = set()
    for prefix in prefixes:
        for name in ("bin", "lib", "lib64", "pyvenv.cfg"):
            wanted.add(os.path.join(prefix, name))
            wanted.add(os.path.join(os.path.realpath(prefix), name))
    wanted.update(site.getsitepackages())
    wanted.add(os.path.dirname(os.path.realpath(sys.executable)))
    return [p for p in _minimal(wanted) if not p.startswith(tuple(d + "/" for d in _SYSTEM_DIRS))]


def mounted_paths() -> list[str]:
    """Every host path a worker can see (for ``check_forbidden``)."""
    system = [p for p in _SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)]
    return [*system, *(p for p in _ETC_FILES if os.path.exists(p)), *python_paths(), WORKER_SOURCE]


def check_forbidden(forbidden: Iterable[str], mounted: Iterable[str]) -> None:
    """Raise if any forbidden path (database, config, working dir) would be mounted."""
    roots = [os.path.realpath(m) for m in mounted]
    for path in forbidden:
        real = os.path.realpath(path)
        for root in roots:
            if real == root or real.startswith(root.rstrip("/") + "/"):
                raise RuntimeError(
                    f"refusing to sandbox: {path} would be visible inside the "
                    f"sandbox through the mount of {root}"
                )


def sandbox_argv(
    bwrap: Bubblewrap,
    *,
    egress_socket: str,
    seccomp_fd: int | None,
    info_fd: int,
    tmp_mb: int,
) -> list[str]:
    """The full command: bwrap, its options, and the worker under this interpreter."""
    argv = [
        bwrap.path,
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "handoff-action",
    ]
    if bwrap.disable_userns:
        argv.append("--disable-userns")
    # The private /tmp goes first: bwrap mounts in order, and the interpreter (a
    # virtualenv in a checkout under /tmp, say) must be bound on top of it, not
    # hidden beneath it.
    argv += ["--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        argv += ["--ro-bind-try", path, path]
    for path in python_paths():
        argv += ["--ro-bind", path, path]
    argv += [
        "--ro-bind",
        WORKER_SOURCE,
        SANDBOX_WORKER_DIR,
        "--ro-bind",
        egress_socket,
        SANDBOX_EGRESS,
        "--dev",
        "/dev",
        "--chdir",
        SANDBOX_HOME,
    ]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    # bwrap writes {"child-pid": ...} here: the sandbox's init, which is what
    # to kill so that bwrap reaps it and exits (see WorkerProcess.kill).
    argv += ["--info-fd", str(info_fd)]
    return [*argv, "--", *worker_command()]


def worker_command() -> list[str]:
    """The interpreter command that starts a worker (inside the sandbox or not)."""
    # -E: the bot's variables named PYTHONPATH or PYTHONSTARTUP change nothing;
    # -s: no user site; -B: nothing is written next to the code.
    return [sys.executable, "-E", "-s", "-B", "-X", "utf8", "-m", WORKER_MODULE]
