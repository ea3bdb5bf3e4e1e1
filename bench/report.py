"""The table bench/relay.py prints, and the targets under it."""

from __future__ import annotations

import argparse
from typing import Any

TARGET_RATIO = 1.0  # saturated throughput at 1000 pairs, against the yardstick
TARGET_P99_MS = 5.0  # user -> agent at 2,500 messages/s offered
TARGET_IDLE_KB = 40.0  # per connected widget
TARGET_SCALED_CPU = 1.5  # scaled (PostgreSQL + Redis) CPU per message, over embedded


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict[int, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    print(
        "Relay benchmark: handoff (SQLite, every message persisted), scaled (one process on "
        "PostgreSQL + Redis), scaled2 (two such processes, clients spread over both) vs bare "
        f"python-socketio (defaults).\nWebSocket only; {args.text_bytes}-char texts; "
        f"agent capacity {args.capacity}; latency at {args.rate:g} msg/s offered (half each way); "
        f"saturated with {args.window} round trip(s) in flight per pair; "
        f"{args.duration:g} s measured after {args.warmup:g} s warm-up."
    )
    head = (
        f"{'pairs':>5} {'server':<8} {'sat msg/s':>10} {'ratio':>6} {'CPU%':>5} "
        f"{'µs CPU/msg':>10} {'u→a p50':>8} {'u→a p99':>8} {'a→u p50':>8} "
        f"{'a→u p99':>8} {'lat msg/s':>9} {'KB/idle':>8} {'slope':>6} {'stores µs':>9}"
    )
    print(head)
    print("-" * len(head))
    for n, by_server in results.items():
        bare_rate = by_server.get("bare", {}).get("saturated", {}).get("msgs_per_s")
        for name in ("handoff", "scaled", "scaled2", "bare"):
            r = by_server.get(name)
            if r is None:
                continue
            sat, lat, idle = r["saturated"], r["latency"], r["idle"]
            ratio = sat["msgs_per_s"] / bare_rate if bare_rate else None
            print(
                f"{n:>5} {name:<8} {sat['msgs_per_s']:>10.0f} {_f(ratio, '>6.2f')} "
                f"{100 * sat['server_cpu_util']:>5.0f} "
                f"{_f(sat['server_cpu_us_per_msg'], '>10.0f')} "
                f"{_f(lat['u2a']['p50_ms'], '>8.2f')} {_f(lat['u2a']['p99_ms'], '>8.2f')} "
                f"{_f(lat['a2u']['p50_ms'], '>8.2f')} {_f(lat['a2u']['p99_ms'], '>8.2f')} "
                f"{lat['msgs_per_s']:>9.0f} {idle['kb_per_widget']:>8.1f} "
                f"{idle['kb_per_widget_slope']:>6.1f} "
                f"{_f(sat.get('stores_cpu_us_per_msg'), '>9.0f')}"
            )
    print(
        "(latencies in ms; CPU% = server CPU time / wall time while saturated; "
        "µs CPU/msg = server CPU per relayed message while saturated;\n"
        " KB/idle = server RSS growth from connecting and binding N widgets, over N; "
        "slope = the same over the second half only;\n"
        " stores µs = CPU of the PostgreSQL backends and Redis per relayed message while "
        "saturated, not in µs CPU/msg;\n"
        " scaled2: CPU is both processes' together, both on CPU 0 with the load generator "
        "on CPU 1; PostgreSQL and Redis float)"
    )
    print_scaled(results)
    print()
    print("Targets (issue 2), for handoff:")
    for n, by_server in results.items():
        ours, bare = by_server.get("handoff"), by_server.get("bare")
        if ours is None:
            continue
        marks = []
        if bare is not None and n >= 1000:
            ratio = ours["saturated"]["msgs_per_s"] / bare["saturated"]["msgs_per_s"]
            marks.append(
                f"saturated {ratio:.2f}x yardstick (target >= {TARGET_RATIO:.1f}x: "
                f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})"
            )
        p99 = ours["latency"]["u2a"]["p99_ms"]
        if p99 is not None:
            marks.append(
                f"p99 u→a {p99:.2f} ms at {args.rate:g}/s (target <= "
                f"{TARGET_P99_MS:g} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'})"
            )
        kb, slope = ours["idle"]["kb_per_widget"], ours["idle"]["kb_per_widget_slope"]
        marks.append(
            f"idle {kb:.1f} KB/widget, slope {slope:.1f} (target <= "
            f"{TARGET_IDLE_KB:g} KB: {'met' if kb <= TARGET_IDLE_KB else 'MISSED'})"
        )
        for mark in marks:
            print(f"  {n:>5} pairs: {mark}")
    loadgen_busy = [
        (n, name, r["saturated"]["loadgen_cpu_util"])
        for n, by_server in results.items()
        for name, r in by_server.items()
        if r["saturated"]["loadgen_cpu_util"] > 0.9
    ]
    for n, by_server in results.items():
        for name, r in by_server.items():
            lag = r["latency"].get("send_lag", {}).get("p99_ms")
            if lag is not None and lag > 5.0:
                print(
                    f"  note: load generator emits ran up to {lag:.1f} ms late (p99) against "
                    f"{name} at {n} pairs; the offered rate was uneven"
                )
    for n, name, util in loadgen_busy:
        print(
            f"  note: the load generator was {100 * util:.0f}% busy against {name} at {n} "
            "pairs; that run may be client-bound"
        )


def print_scaled(results: dict[int, dict[str, dict[str, Any]]]) -> None:
    """What PostgreSQL and Redis cost per message, and what two processes relay together."""
    lines = []
    for n, by_server in results.items():
        embedded, scaled = by_server.get("handoff"), by_server.get("scaled")
        if embedded and scaled:
            ours = embedded["saturated"]["server_cpu_us_per_msg"]
            theirs = scaled["saturated"]["server_cpu_us_per_msg"]
            stores = scaled["saturated"].get("stores_cpu_us_per_msg") or 0.0
            if ours and theirs:
                ratio = theirs / ours
                verdict = "met" if ratio <= TARGET_SCALED_CPU else "MISSED"
                lines.append(
                    f"  {n:>5} pairs: scaled/embedded server CPU per message {ratio:.2f}x "
                    f"({theirs:.0f} / {ours:.0f} µs; target <= {TARGET_SCALED_CPU:g}x: "
                    f"{verdict}); with the stores' CPU {(theirs + stores) / ours:.2f}x"
                )
        two = by_server.get("scaled2")
        if two:
            sat = two["saturated"]
            line = (
                f"  {n:>5} pairs: two processes relayed {sat['msgs_per_s']:.0f} msg/s together "
                f"({two.get('cross_pairs', 0)} of {two['pairs']} pairs across processes)"
            )
            for other in ("scaled", "handoff"):
                if by_server.get(other):
                    rate = by_server[other]["saturated"]["msgs_per_s"]
                    line += f", {sat['msgs_per_s'] / rate:.2f}x {other}"
            lines.append(line)
    if lines:
        print()
        print("Scale-out (issue 11):")
        print("\n".join(lines))
