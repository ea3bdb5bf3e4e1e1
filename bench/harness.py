"""What bench/relay.py needs around the servers it drives: processes, ports, CPU."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"


class BenchError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"server did not answer {url} in {timeout:.0f} s:\n{tail(log)}")


def pinned(cmd: list[str], cpu: int) -> list[str]:
    """``cmd`` bound to one CPU, as DESIGN.md measures: the server on one core, the load
    generator on another, so neither steals the other's time. Off with HANDOFF_BENCH_PIN=0."""
    if os.environ.get("HANDOFF_BENCH_PIN") == "0" or (os.cpu_count() or 1) < 2:
        return cmd
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *cmd] if taskset else cmd


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """Running server processes and what the load generator needs to drive them."""

    name: str
    procs: list[subprocess.Popen[bytes]]
    urls: list[str]
    bot_id: str
    conversations: list[str]
    tokens: list[str]
    log: Path
    store_pids: Callable[[], list[int]] = lambda: []
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.procs[0]

    @property
    def url(self) -> str:
        return self.urls[0]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Slow to stop is worth saying, not a failed run: the numbers are in.
                print(
                    f"   note: {self.name} pid {proc.pid} took over 30 s to stop; killed",
                    file=sys.stderr,
                )
                self.killed.add(proc.pid)
                proc.kill()
                proc.wait()
        for cleanup in reversed(self.cleanups):
            cleanup()

    def exit_codes(self) -> list[int | None]:
        """How each process ended (those killed for stopping too slowly left out)."""
        return [p.returncode for p in self.procs if p.pid not in self.killed]


class StoreMeter:
    """CPU of a server's stores (its PostgreSQL backends, its Redis) over each measured
    window, read at the load generator's phase edges."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.started: dict[str, dict[int, float]] = {}
        self.cpu_s: dict[str, float] = {}

    PHASES = {"lat": "latency", "sat": "saturated"}  # the load generator's names

    def edge(self, phase: str, edge: str) -> None:
        phase = self.PHASES.get(phase, "")
        if not phase:
            return
        pids = self.server.store_pids()
        if not pids:  # embedded and bare: nothing outside the server process
            return
        now = {pid: cpu_seconds(pid) for pid in pids}
        if edge == "start":
            self.started[phase] = now
        elif phase in self.started:
            before = self.started.pop(phase)
            # A backend that appeared inside the window counts from zero: a few ms at most.
            self.cpu_s[phase] = sum(c - before.get(pid, 0.0) for pid, c in now.items())
