"""Relay benchmark: the handoff server against a bare python-socketio relay, side by side.

For each N (pairs of one widget and one agent), each server is started fresh
as a subprocess and driven by the same Node load generator (bench/loadgen.js,
official socket.io-client 4.8.1, WebSocket transport):

  idle       server RSS before / after N widgets connect and bind, per widget
  latency    open loop at a fixed offered rate (default 2,500 messages/s in
             total: half user->agent, half agent->user); p50 / p99 each way
  saturated  closed loop, `window` round trips in flight per pair; messages/s

Our server runs as ``handoff serve`` on a fresh SQLite file in a temporary
HANDOFF_DATA_DIR, so every message is persisted before it is delivered; "scaled"
runs it on PostgreSQL (a fresh database) and Redis (its own redis-server), and
"scaled2" runs two such processes (bench/servers.py). The yardstick is
bench/bare_relay.py: python-socketio with default settings, rooms only, no
persistence.

    python bench/relay.py                 # N = 100 and 1000
    python bench/relay.py --quick         # N = 50, short phases: a smoke test
    python bench/relay.py --pairs 1000 --json out.json
    python bench/relay.py --servers handoff,scaled,scaled2,bare

Exit status is non-zero only when something failed; missed targets are
printed, never fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/'s own modules

from harness import BENCH, ROOT, BenchError, Server, StoreMeter, pinned, tail
from report import print_table
from servers import KINDS, STARTERS
from spy import Profiler

SIO4 = ROOT / "tests" / "js" / "node_modules" / "sio4"


def raise_nofile(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want // 2:
        print(f"warning: open files limit is {soft}; large runs may fail", file=sys.stderr)


def run_loadgen(
    server: Server, args: argparse.Namespace, workdir: Path, profiler: Profiler
) -> dict[str, Any]:
    meter = StoreMeter(server)
    config = {
        "url": server.url,
        # Widget i connects to urls[i % len], agent j to urls[(j + 1) % len].
        "urls": server.urls,
        "metrics_url": f"{server.url}/metrics" if server.name != "bare" else None,
        "pid": server.proc.pid,
        "pids": [p.pid for p in server.procs],
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "bot_id": server.bot_id,
        "conversations": server.conversations,
        "agents": server.tokens,
        "capacity": args.capacity,
        "text_bytes": args.text_bytes,
        "connect_concurrency": 50,
        "phases": {
            "latency": {"rate": args.rate, "warmup": args.warmup, "duration": args.duration},
            "saturated": {"window": args.window, "warmup": args.warmup, "duration": args.duration},
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
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(budget, proc.kill)
        watchdog.start()
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("PHASE "):
                    _, phase, edge = line.split()
                    meter.edge(phase, edge)
                    profiler.edge(phase, edge)
                else:
                    sys.stderr.write(f"  {line}")
            proc.wait()
        finally:
            watchdog.cancel()
            profiler.close()
    if proc.returncode != 0:
        raise BenchError(
            f"loadgen failed against {server.name} ({proc.returncode}); "
            f"server log:\n{tail(server.log)}"
        )
    for line in reversed(out_path.read_text().splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            for phase, cpu in meter.cpu_s.items():
                relayed = result[phase]["relayed"]
                result[phase]["stores_cpu_s"] = cpu
                result[phase]["stores_cpu_us_per_msg"] = cpu * 1e6 / relayed if relayed else None
            return result
    raise BenchError(f"loadgen printed no result against {server.name}")


def bench_one(kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"handoff-bench-{kind}-"))
    try:
        print(f"== {kind}, {n} pairs", file=sys.stderr, flush=True)
        server = STARTERS[kind](n, args.capacity, workdir)
        profile_dir = None
        if args.profile:
            profile_dir = Path(args.profile).resolve()
            profile_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = run_loadgen(server, args, workdir, Profiler(profile_dir, server, n))
        finally:
            server.stop()
        if any(code not in (0, -signal.SIGINT, 130) for code in server.exit_codes()):
            raise BenchError(f"{kind} exited with {server.exit_codes()}:\n{tail(server.log)}")
        errs = result.get("errors", {})
        if errs.get("ack") or errs.get("error_events") or errs.get("disconnects"):
            raise BenchError(f"{kind} at {n} pairs: client saw errors {errs}")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"   kept {workdir}", file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="smoke test: 50 pairs, 1 s warm-up, 3 s phases"
    )
    p.add_argument(
        "--pairs", default=None, help="comma-separated pair counts (default 100,1000; --quick: 50)"
    )
    p.add_argument(
        "--servers",
        default="handoff,bare",
        help=f"which servers to run, in order (of {', '.join(KINDS)})",
    )
    p.add_argument(
        "--capacity",
        type=int,
        default=1,
        help="chats per agent: N pairs use ceil(N / capacity) agents (default 1)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=2500.0,
        help="offered messages/s in the latency phase, both directions together",
    )
    p.add_argument(
        "--window",
        type=int,
        default=2,
        help="round trips in flight per pair in the saturated phase",
    )
    p.add_argument("--duration", type=float, default=None, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per phase")
    p.add_argument("--text-bytes", type=int, default=100, help="characters per message text")
    p.add_argument("--json", help="also write every number to this file")
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy each phase of each server into DIR (pip install py-spy)",
    )
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
                if kind not in STARTERS:
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
