"""Starting one worker for one bot: the sandbox command, its limits, its egress socket."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import sandbox, seccomp
from .config import RunnerConfig
from .egress import EgressListener, EgressProxy
from .netpolicy import NetworkPolicy
from .process import WorkerProcess
from .results import secret_values
from .worker import frames

__all__ = ["EnvKey", "Launcher", "Worker", "env_key"]

log = logging.getLogger("handoff.runner")

EnvKey = tuple[tuple[str, str], ...]
# bwrap's own environment; the worker replaces it with the bot's variables.
_SPAWN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_UNSANDBOXED_WARNING = (
    "RUNNING CUSTOM ACTIONS WITHOUT A SANDBOX (allow_unsandboxed=True and no bwrap): bot code "
    "can read this server's files, database and secrets. Never do this in production; "
    "install bubblewrap instead."
)


def env_key(env: Mapping[str, str]) -> EnvKey:
    """Which workers may serve a call: the exact variables, not a hash of them.

    A hash collision would hand one stage's secrets to another.
    """
    return tuple(sorted(env.items()))


@dataclass(eq=False)
class Worker:
    """A started worker and what belongs to it: its bot, its variables, its proxy socket."""

    proc: WorkerProcess
    bot_id: str
    env_key: EnvKey
    listener: EgressListener
    workdir: str | None = None
    secrets: tuple[str, ...] = ()  # its variables' values, masked in logs and errors
    # The code versions it holds compiled, as it reported them, oldest first:
    # their code is not sent again (see frames.Call).
    versions: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def remember(self, version: str, cached: bool) -> None:
        """Follow the worker's own cache after a call of ``version``; same policy, same order."""
        if not cached:
            self.versions.pop(version, None)
        elif version in self.versions:
            self.versions.move_to_end(version)
        else:
            self.versions[version] = None
            if len(self.versions) > frames.CACHED_VERSIONS:
                self.versions.popitem(last=False)

    async def close(self) -> None:
        """Kill it, wait for it, cut its connections and remove its files."""
        await self.proc.close()
        await self.listener.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class Launcher:
    """Everything fixed for the pool's life: bwrap, the seccomp filter, the proxy, a temp dir."""

    def __init__(
        self,
        config: RunnerConfig,
        bwrap: sandbox.Bubblewrap | None,
        proxy: EgressProxy,
        tmp: str,
    ) -> None:
        self.config = config
        self.bwrap = bwrap
        self.proxy = proxy
        self.tmp = tmp
        self.filter = seccomp.filter_program() if bwrap else None
        self.unavailable: str | None = None
        self._seq = 0

    @classmethod
    async def open(cls, config: RunnerConfig) -> Launcher:
        """Find bubblewrap and check that nothing forbidden would be visible inside."""
        bwrap = await asyncio.to_thread(sandbox.find_bubblewrap, config.bwrap_path)
        if bwrap is not None:
            mounted = await asyncio.to_thread(sandbox.mounted_paths)
            sandbox.check_forbidden([os.getcwd(), *config.forbidden_paths], mounted)
        policy = await asyncio.to_thread(
            NetworkPolicy.from_entries, config.blocked, config.allowed_private
        )
        proxy = EgressProxy(
            policy,
            connect_timeout=config.egress_connect_timeout_s,
            max_connections=config.max_connections_per_worker,
        )
        tmp = tempfile.mkdtemp(prefix="handoff-runner-")
        # The unsandboxed fallback imports the worker under the same name as
        # inside the sandbox, from here.
        os.symlink(sandbox.WORKER_SOURCE, os.path.join(tmp, sandbox.WORKER_MODULE))
        launcher = cls(config, bwrap, proxy, tmp)
        if bwrap is not None:
            if launcher.filter is None:
                log.warning("no seccomp table for this CPU: workers can start processes")
        elif config.allow_unsandboxed:
            log.warning(_UNSANDBOXED_WARNING)
        else:
            launcher.unavailable = (
                "bubblewrap (bwrap) is not installed, so custom actions cannot run safely: "
                "install it (apt-get install bubblewrap), or set "
                "HANDOFF_RUNNER_ALLOW_UNSANDBOXED=true on a development machine only"
            )
            log.error(launcher.unavailable)
        return launcher

    def close(self) -> None:
        """Remove the temp dir (sockets, unsandboxed work dirs); workers must be gone."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _init(self, env: Mapping[str, str]) -> dict[str, Any]:
        config = self.config
        return {
            "op": "init",
            "env": dict(env),
            "preload": list(config.preload_modules),
            "limits": {
                "memory_bytes": config.memory_mb * 1024 * 1024,
                "cpu_seconds": config.cpu_seconds,
                "max_processes": config.max_processes,
                "max_open_files": config.max_open_files,
                "max_file_bytes": config.max_file_mb * 1024 * 1024,
                "max_log_chars": config.max_log_chars,
                "max_result_bytes": config.max_result_bytes,
            },
        }

    async def launch(self, bot_id: str, key: EnvKey, env: Mapping[str, str]) -> Worker:
        """Start a worker holding ``env`` for ``bot_id``; SpawnError if it cannot start."""
        config = self.config
        self._seq += 1
        sock = os.path.join(self.tmp, f"egress-{self._seq}.sock")
        listener = await self.proxy.listen(sock)
        init = self._init(env)
        fd: int | None = None
        info_r, info_w = os.pipe()
        workdir: str | None = None
        try:
            if self.bwrap is not None:
                if self.filter is not None:
                    # bwrap reads the filter from an fd; a memfd needs no file.
                    fd = os.memfd_create("handoff-seccomp")
                    os.write(fd, self.filter)
                    os.lseek(fd, 0, os.SEEK_SET)
                argv = sandbox.sandbox_argv(
                    self.bwrap,
                    egress_socket=sock,
                    seccomp_fd=fd,
                    info_fd=info_w,
                    tmp_mb=config.tmp_mb,
                )
                init.update(
                    egress=sandbox.SANDBOX_EGRESS, workdir="/tmp", worker_dir=sandbox.SANDBOX_HOME
                )
            else:
                workdir = tempfile.mkdtemp(dir=self.tmp, prefix="work-")
                argv = sandbox.worker_command()
                init.update(egress=sock, workdir=workdir, worker_dir=self.tmp)
            proc = await WorkerProcess.spawn(
                argv,
                init,
                env=_SPAWN_ENV,
                cwd=self.tmp if workdir else "/",
                pass_fds=() if self.bwrap is None else (info_w,) if fd is None else (fd, info_w),
                info_fd=info_r if self.bwrap is not None else None,
                start_within_s=config.spawn_timeout_s,
                # Logs may escape to 6 bytes a character; tracebacks are capped.
                max_frame=config.max_result_bytes + 6 * config.max_log_chars + (1 << 20),
            )
        except BaseException:
            await listener.close()
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            for unused in (fd, info_r, info_w):
                if unused is not None:
                    os.close(unused)
        return Worker(proc, bot_id, key, listener, workdir, secret_values(env))
