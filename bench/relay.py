"""Relay benchmark: the handoff server against a bare python-socketio relay, side by side.

For each N (pairs of one widget and one agent), each server is started fresh
as a subprocess and driven by the same Node load generator (bench/loadgen.js,
official socket.io-client 4.8.1, WebSocket transport):

  idle       server RSS before / after N widgets connect and bind, per widget
  latency    open loop at a fixed offered rate (default 2,500 messages/s in
             total: half user->agent, half agent->user); p50 / p99 each way
  saturated  closed loop, `window` round trips in flight per pair; messages/s

Our server runs as ``handoff serve`` on a fresh SQLite file in a temporary
HANDOFF_DATA_DIR, so every message is persisted before it is delivered. The
yardstick is bench/bare_relay.py: python-socketio with default settings,
rooms only, no persistence.

    python bench/relay.py                 # N = 100 and 1000
    python bench/relay.py --quick         # N = 50, short phases: a smoke test
    python bench/relay.py --pairs 1000 --json out.json

Exit status is non-zero only when something failed; missed targets are
printed, never fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
SIO4 = ROOT / "tests" / "js" / "node_modules" / "sio4"

TARGET_RATIO = 1.0  # saturated throughput at 1000 pairs, against the yardstick
TARGET_P99_MS = 5.0  # user -> agent at 2,500 messages/s offered
TARGET_IDLE_KB = 40.0  # per connected widget


class BenchError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want // 2:
        print(f"warning: open files limit is {soft}; large runs may fail", file=sys.stderr)


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


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """A running server process and what the load generator needs to drive it."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    bot_id: str
    conversations: list[str]
    tokens: list[str]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------- our server
async def _seed_database(url: str, n_agents: int, capacity: int) -> tuple[str, str, list[str]]:
    """Bot and agents written straight into the SQLite file before the server starts.

    ``handoff create-agent`` hashes each password with argon2 (tens of ms), so
    1000 agents go in as bulk rows sharing one hash; they sign in with tokens
    minted by the same secret key the server uses.
    """
    from argon2 import PasswordHasher

    from handoff.storage.bots import BotRepo
    from handoff.storage.db import make_engine, utcnow
    from handoff.storage.migrate import upgrade
    from handoff.storage.tables import agent_bots, agents

    await upgrade(url)
    engine = make_engine(url)
    try:
        bot, api_key = await BotRepo(engine).create("bench bot")
        password_hash = PasswordHasher().hash("bench")
        ids = [f"agt_bench{i:05d}" for i in range(n_agents)]
        async with engine.begin() as conn:
            await conn.execute(agents.insert(), [
                {"id": a, "email": f"{a}@bench.invalid", "name": f"Agent {i}",
                 "password_hash": password_hash, "role": "agent", "capacity": capacity,
                 "created_at": utcnow()}
                for i, a in enumerate(ids)
            ])
            await conn.execute(agent_bots.insert(), [
                {"agent_id": a, "bot_id": bot.id, "teams": []} for a in ids
            ])
    finally:
        await engine.dispose()
    return bot.id, api_key, ids


async def _create_conversations(base: str, bot_id: str, api_key: str, n: int) -> list[str]:
    import aiohttp

    sem = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {api_key}"}

    async with aiohttp.ClientSession(headers=headers) as http:
        async def one() -> str:
            async with sem, http.post(f"{base}/api/v1/bots/{bot_id}/handoff", json={}) as r:
                body = await r.json()
                if r.status != 201:
                    raise BenchError(f"execute_handoff answered {r.status}: {body}")
                return str(body["ConversationID"])

        return list(await asyncio.gather(*(one() for _ in range(n))))


def pinned(cmd: list[str], cpu: int) -> list[str]:
    """``cmd`` bound to one CPU, as DESIGN.md measures: the server on one core, the load
    generator on another, so neither steals the other's time. Off with HANDOFF_BENCH_PIN=0."""
    if os.environ.get("HANDOFF_BENCH_PIN") == "0" or (os.cpu_count() or 1) < 2:
        return cmd
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *cmd] if taskset else cmd


def start_handoff(n: int, capacity: int, workdir: Path) -> Server:
    from handoff.security import TokenSigner

    data_dir = workdir / "handoff-data"
    data_dir.mkdir()
    port = free_port()
    secret = secrets.token_urlsafe(32)
    db_url = f"sqlite+aiosqlite:///{(data_dir / 'handoff.sqlite3').resolve()}"
    n_agents = -(-n // capacity)
    bot_id, api_key, agent_ids = asyncio.run(_seed_database(db_url, n_agents, capacity))
    signer = TokenSigner(secret, max_age_seconds=3600)
    tokens = [signer.issue(a) for a in agent_ids]
    env = {
        **os.environ,
        "HANDOFF_PORT": str(port),
        "HANDOFF_HOST": "127.0.0.1",
        "HANDOFF_DATA_DIR": str(data_dir),
        "HANDOFF_SECRET_KEY": secret,
        "HANDOFF_LOG_LEVEL": "WARNING",
        # The per-socket rate limit (20/s by default) is a product feature; a
        # saturation benchmark would only measure it refusing messages.
        "HANDOFF_RATE_LIMIT_PER_SECOND": "1000000",
        "HANDOFF_RATE_LIMIT_BURST": "1000000",
    }
    env.pop("HANDOFF_DATABASE_URL", None)
    env.pop("HANDOFF_REDIS_URL", None)
    log = workdir / "handoff.log"
    with log.open("wb") as out:
        cmd = pinned([str(VENV_BIN / "handoff"), "serve"], 0)
        proc = subprocess.Popen(cmd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc, log)
        conversations = asyncio.run(_create_conversations(base, bot_id, api_key, n))
    except BaseException:
        proc.kill()
        raise
    return Server("handoff", proc, base, bot_id, conversations, tokens, log)


# --------------------------------------------------------------- yardstick
def start_bare(n: int, capacity: int, workdir: Path) -> Server:
    port = free_port()
    log = workdir / "bare.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned([str(VENV_BIN / "python"), str(BENCH / "bare_relay.py"), "--port", str(port)],
                   0),
            stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc, log)
    except BaseException:
        proc.kill()
        raise
    n_agents = -(-n // capacity)
    conversations = [secrets.token_urlsafe(24) for _ in range(n)]
    tokens = [f"agt_bench{i:05d}" for i in range(n_agents)]
    return Server("bare", proc, base, "bot_bare", conversations, tokens, log)


# ------------------------------------------------------------------ driving
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
                [str(VENV_BIN / "py-spy"), "record", "--pid", str(self.server.proc.pid),
                 "--format", "raw", "--rate", "250", "--subprocesses", "--threads",
                 "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def run_loadgen(server: Server, args: argparse.Namespace, workdir: Path,
                profiler: Profiler) -> dict[str, Any]:
    config = {
        "url": server.url,
        "metrics_url": f"{server.url}/metrics" if server.name == "handoff" else None,
        "pid": server.proc.pid,
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "bot_id": server.bot_id,
        "conversations": server.conversations,
        "agents": server.tokens,
        "capacity": args.capacity,
        "text_bytes": args.text_bytes,
        "connect_concurrency": 50,
        "phases": {
            "latency": {"rate": args.rate, "warmup": args.warmup, "duration": args.duration},
            "saturated": {"window": args.window, "warmup": args.warmup,
                          "duration": args.duration},
        },
    }
    path = workdir / f"loadgen-{server.name}.json"
    path.write_text(json.dumps(config))
    node = shutil.which("node")
    if node is None:
        raise BenchError("node is not on PATH")
    budget = 300 + 4 * (args.warmup + args.duration) + len(server.conversations) * 0.3
    out_path = workdir / f"loadgen-{server.name}.out"
    with out_path.open("w") as out:
        cmd = pinned([node, str(BENCH / "loadgen.js"), str(path)], 1)
        proc = subprocess.Popen(cmd, stdout=out,
                                stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(budget, proc.kill)
        watchdog.start()
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("PHASE "):
                    _, phase, edge = line.split()
                    profiler.edge(phase, edge)
                else:
                    sys.stderr.write(f"  {line}")
            proc.wait()
        finally:
            watchdog.cancel()
            profiler.close()
    if proc.returncode != 0:
        raise BenchError(f"loadgen failed against {server.name} ({proc.returncode}); "
                         f"server log:\n{tail(server.log)}")
    for line in reversed(out_path.read_text().splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT "):])
            return result
    raise BenchError(f"loadgen printed no result against {server.name}")


def bench_one(kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"handoff-bench-{kind}-"))
    try:
        print(f"== {kind}, {n} pairs", file=sys.stderr, flush=True)
        start = start_handoff if kind == "handoff" else start_bare
        server = start(n, args.capacity, workdir)
        profile_dir = None
        if args.profile:
            profile_dir = Path(args.profile).resolve()
            profile_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = run_loadgen(server, args, workdir, Profiler(profile_dir, server, n))
        finally:
            server.stop()
        if server.proc.returncode not in (0, -signal.SIGINT, 130):
            raise BenchError(f"{kind} exited with {server.proc.returncode}:\n{tail(server.log)}")
        errs = result.get("errors", {})
        if errs.get("ack") or errs.get("error_events") or errs.get("disconnects"):
            raise BenchError(f"{kind} at {n} pairs: client saw errors {errs}")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"   kept {workdir}", file=sys.stderr)


# ------------------------------------------------------------------- report
def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[int, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    print(f"Relay benchmark: handoff (SQLite, every message persisted) vs bare python-socketio "
          f"(defaults).\nWebSocket only; {args.text_bytes}-char texts; agent capacity "
          f"{args.capacity}; latency at {args.rate:g} msg/s offered (half each way); "
          f"saturated with {args.window} round trip(s) in flight per pair; "
          f"{args.duration:g} s measured after {args.warmup:g} s warm-up.")
    head = (f"{'pairs':>5} {'server':<8} {'sat msg/s':>10} {'ratio':>6} {'CPU%':>5} "
            f"{'µs CPU/msg':>10} {'u→a p50':>8} {'u→a p99':>8} {'a→u p50':>8} "
            f"{'a→u p99':>8} {'lat msg/s':>9} {'KB/idle':>8} {'slope':>6}")
    print(head)
    print("-" * len(head))
    for n, by_server in results.items():
        bare_rate = by_server.get("bare", {}).get("saturated", {}).get("msgs_per_s")
        for name in ("handoff", "bare"):
            r = by_server.get(name)
            if r is None:
                continue
            sat, lat, idle = r["saturated"], r["latency"], r["idle"]
            ratio = sat["msgs_per_s"] / bare_rate if bare_rate else None
            print(f"{n:>5} {name:<8} {sat['msgs_per_s']:>10.0f} {_f(ratio, '>6.2f')} "
                  f"{100 * sat['server_cpu_util']:>5.0f} "
                  f"{_f(sat['server_cpu_us_per_msg'], '>10.0f')} "
                  f"{_f(lat['u2a']['p50_ms'], '>8.2f')} {_f(lat['u2a']['p99_ms'], '>8.2f')} "
                  f"{_f(lat['a2u']['p50_ms'], '>8.2f')} {_f(lat['a2u']['p99_ms'], '>8.2f')} "
                  f"{lat['msgs_per_s']:>9.0f} {idle['kb_per_widget']:>8.1f} "
                  f"{idle['kb_per_widget_slope']:>6.1f}")
    print("(latencies in ms; CPU% = server CPU time / wall time while saturated; "
          "µs CPU/msg = server CPU per relayed message while saturated;\n"
          " KB/idle = server RSS growth from connecting and binding N widgets, over N; "
          "slope = the same over the second half only)")
    print()
    print("Targets (issue 2), for handoff:")
    for n, by_server in results.items():
        ours, bare = by_server.get("handoff"), by_server.get("bare")
        if ours is None:
            continue
        marks = []
        if bare is not None and n >= 1000:
            ratio = ours["saturated"]["msgs_per_s"] / bare["saturated"]["msgs_per_s"]
            marks.append(f"saturated {ratio:.2f}x yardstick (target >= {TARGET_RATIO:.1f}x: "
                         f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})")
        p99 = ours["latency"]["u2a"]["p99_ms"]
        if p99 is not None:
            marks.append(f"p99 u→a {p99:.2f} ms at {args.rate:g}/s (target <= "
                         f"{TARGET_P99_MS:g} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'})")
        kb, slope = ours["idle"]["kb_per_widget"], ours["idle"]["kb_per_widget_slope"]
        marks.append(f"idle {kb:.1f} KB/widget, slope {slope:.1f} (target <= "
                     f"{TARGET_IDLE_KB:g} KB: {'met' if kb <= TARGET_IDLE_KB else 'MISSED'})")
        for mark in marks:
            print(f"  {n:>5} pairs: {mark}")
    loadgen_busy = [
        (n, name, r["saturated"]["loadgen_cpu_util"])
        for n, by_server in results.items() for name, r in by_server.items()
        if r["saturated"]["loadgen_cpu_util"] > 0.9
    ]
    for n, by_server in results.items():
        for name, r in by_server.items():
            lag = r["latency"].get("send_lag", {}).get("p99_ms")
            if lag is not None and lag > 5.0:
                print(f"  note: load generator emits ran up to {lag:.1f} ms late (p99) against "
                      f"{name} at {n} pairs; the offered rate was uneven")
    for n, name, util in loadgen_busy:
        print(f"  note: the load generator was {100 * util:.0f}% busy against {name} at {n} "
              "pairs; that run may be client-bound")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 50 pairs, 1 s warm-up, 3 s phases")
    p.add_argument("--pairs", default=None,
                   help="comma-separated pair counts (default 100,1000; --quick: 50)")
    p.add_argument("--servers", default="handoff,bare", help="which servers to run")
    p.add_argument("--capacity", type=int, default=1,
                   help="chats per agent: N pairs use ceil(N / capacity) agents (default 1)")
    p.add_argument("--rate", type=float, default=2500.0,
                   help="offered messages/s in the latency phase, both directions together")
    p.add_argument("--window", type=int, default=2,
                   help="round trips in flight per pair in the saturated phase")
    p.add_argument("--duration", type=float, default=None, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per phase")
    p.add_argument("--text-bytes", type=int, default=100, help="characters per message text")
    p.add_argument("--json", help="also write every number to this file")
    p.add_argument("--profile", metavar="DIR",
                   help="py-spy each phase of each server into DIR (pip install py-spy)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = p.parse_args(argv)
    if args.pairs is None:
        args.pairs = "50" if args.quick else "100,1000"
    args.pair_counts = [int(x) for x in args.pairs.split(",") if x.strip()]
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    if args.capacity < 1 or args.window < 1:
        p.error("--capacity and --window must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (SIO4 / "package.json").exists():
        print(f"error: {SIO4} is missing; run `make js-deps`", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # after PYTHONPATH, so a patched copy can be measured
    raise_nofile(4 * max(args.pair_counts) + 1024)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    results: dict[int, dict[str, dict[str, Any]]] = {}
    try:
        for n in args.pair_counts:
            results[n] = {}
            for kind in servers:
                if kind not in ("handoff", "bare"):
                    raise BenchError(f"unknown server {kind!r}")
                results[n][kind] = bench_one(kind, n, args)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if results and any(results.values()):
            print_table({n: r for n, r in results.items() if r}, args)
        return 1
    print_table(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
