"""py-spy recordings of a server during each load generator phase (``--profile DIR``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from harness import VENV_BIN, Server


class Profiler:
    """py-spy recordings of one server, one file per load generator phase."""

    def __init__(self, directory: Path | None, server: Server, n: int) -> None:
        self.directory = directory
        self.server = server
        self.n = n
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def edge(self, phase: str, edge: str) -> None:
        if self.directory is None:
            return
        if edge == "start":
            out = self.directory / f"{self.server.name}-{self.n}-{phase}.txt"
            self.running[phase] = subprocess.Popen(
                [
                    str(VENV_BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(self.server.proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--subprocesses",
                    "--threads",
                    "--nonblocking",
                    "--output",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        elif phase in self.running:
            self.stop(phase)

    def stop(self, phase: str) -> None:
        spy = self.running.pop(phase)
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
        out = self.directory / f"{self.server.name}-{self.n}-{phase}.txt"  # type: ignore[operator]
        if out.exists():
            summary = summarize_profile(out)
            out.with_suffix(".summary").write_text(summary)
            print(f"   profile {out.name}:\n{summary}", file=sys.stderr)

    def close(self) -> None:
        for phase in list(self.running):
            self.stop(phase)


def summarize_profile(path: Path, top: int = 14) -> str:
    """The event loop thread's self and inclusive sample shares per function.

    Reads py-spy's collapsed stacks; samples of other threads (aiosqlite's
    connection threads) are counted apart, since they run beside the loop.
    """
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = other = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        if len(parts) > 1 and parts[1].startswith("thread ") and "MainThread" not in parts[1]:
            other += count
            continue
        frames = [_frame(f) for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            incl[frame] = incl.get(frame, 0) + count
    if not total:
        return "     (no samples)"
    lines = [f"     {total} samples of the event loop thread ({other} of other threads); self:"]
    for name, c in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"     {100 * c / total:5.1f}%  {name}")
    lines.append("     inclusive:")
    for name, c in sorted(incl.items(), key=lambda kv: -kv[1])[: top * 3]:
        lines.append(f"     {100 * c / total:5.1f}%  {name}")
    return "\n".join(lines)


def _frame(frame: str) -> str:
    """``func (pkg/module.py:12)`` -> ``func pkg/module.py``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} {'/'.join(where.split('/')[-2:])}"
