"""Memory per idle connected dashboard, and how many one instance holds before fan-out
gets slow.

For each server (Anteroom per async mode, one instance; the bare Node.js Socket.IO server
for comparison), the server's resident memory (VmRSS in /proc/<pid>/status) is read with
10 dashboards connected, then with `--idle` more connected and left idle for a few
seconds; the difference over `--idle` is the memory of one idle connection (its socket,
Engine.IO and Socket.IO session, rooms, registry entry, and the async mode's task or
thread). Then clients are added `--step` at a time, and at each size one change is fanned
out `--repeats` times (as bench/fanout.py measures it), until the p99 passes `--limit-ms`
(1 s), a client cannot connect, or `--max-clients` is reached.

    python -m bench.memory [--modes gevent] [--idle 1000] [--step 1000]
        [--max-clients 12000] [--no-node] [--quick]

Prints a table and writes bench/results/memory.json (or --output).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.contenders import (
    EVENT,
    SNAPSHOTS,
    Anteroom,
    Node,
    load,
    percentile,
    rss_bytes,
    versions,
)
from bench.results_file import provenance, write_result
from bench.sio_harness import Harness

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
WARM = 10


def rss(server) -> int:
    return sum(rss_bytes(pid) for pid in server.pids())


def measure(server, harness: Harness, args) -> dict:
    errors = harness.connect(server.targets(WARM), SNAPSHOTS)
    if errors:
        raise RuntimeError(f"warm-up clients failed: {errors[0]}")
    harness.fanout(EVENT, server.trigger)
    time.sleep(2)
    before = rss(server)
    errors = harness.connect(server.targets(args.idle, WARM), SNAPSHOTS)
    if errors:
        raise RuntimeError(f"{len(errors)} idle clients failed: {errors[0]}")
    time.sleep(5)
    after = rss(server)
    per_client = (after - before) / args.idle
    print(
        f"  {server.label:<24} RSS {before / 2**20:.1f} → {after / 2**20:.1f} MiB with "
        f"{args.idle} idle clients: {per_client / 1024:.1f} KiB each  load {load()[0]}",
        flush=True,
    )
    connected, steps, holds = WARM + args.idle, [], None
    while True:
        samples, lost = [], 0
        for _ in range(args.repeats):
            sent, arrivals, _ = harness.fanout(EVENT, server.trigger, timeout=60)
            got = [(a - sent) / 1e6 for a in arrivals if a is not None]
            lost += len(arrivals) - len(got)
            samples += got
            time.sleep(0.5)
        step = {
            "clients": connected,
            "p50_ms": round(percentile(samples, 50), 1),
            "p99_ms": round(percentile(samples, 99), 1),
            "max_ms": round(max(samples), 1),
            "lost": lost,
            "rss_mib": round(rss(server) / 2**20, 1),
            "load_1min": load()[0],
        }
        steps.append(step)
        print(
            f"  {server.label:<24} N={connected:<6} p50 {step['p50_ms']:>8} p99 "
            f"{step['p99_ms']:>8} ms  RSS {step['rss_mib']} MiB  lost {lost}  "
            f"load {step['load_1min']}",
            flush=True,
        )
        if step["p99_ms"] > args.limit_ms or lost:
            break
        holds = connected
        if connected + args.step > args.max_clients:
            break
        errors = harness.connect(server.targets(args.step, connected), SNAPSHOTS)
        if errors:
            step["connect_errors"] = len(errors)
            step["first_error"] = errors[0]
            print(f"  {len(errors)} of {args.step} more clients failed: {errors[0]}")
            break
        connected += args.step
        time.sleep(2)
    return {
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "idle_clients": args.idle,
        "kib_per_idle_client": round(per_client / 1024, 1),
        "steps": steps,
        "most_clients_under_limit": holds,
        "reached_max_clients": holds is not None and holds + args.step > args.max_clients,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="gevent")
    parser.add_argument("--node", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--max-clients", type=int, default=12000)
    parser.add_argument("--limit-ms", type=float, default=1000.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2, help="harness worker processes")
    parser.add_argument("--quick", action="store_true", help="--max-clients 3000, no node")
    parser.add_argument("--label", default="")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_clients, args.node = 3000, False
    started_load = load()
    results = []
    servers = [Anteroom(mode) for mode in args.modes.split(",")]
    if args.node:
        servers.append(Node())
    for server in servers:
        harness = Harness(args.processes)
        try:
            server.start()
            results.append({"server": server.label, **measure(server, harness, args)})
        finally:
            harness.stop()
            server.stop()
    result = {
        "benchmark": "memory",
        "what": "RSS per idle dashboard; most dashboards before fan-out p99 passes the limit",
        "label": args.label,
        "parameters": {
            "idle": args.idle,
            "step": args.step,
            "max_clients": args.max_clients,
            "limit_ms": args.limit_ms,
            "repeats": args.repeats,
            "harness_processes": args.processes,
        },
        "results": results,
        "load_before": started_load,
        "load_after": load(),
        "versions": versions(),
        **provenance(),
    }
    write_result(result, args.output)
    print(f"\nmemory per idle client, and capacity at fan-out p99 ≤ {args.limit_ms:.0f} ms")
    print(f"{'server':<28}{'KiB/client':>11}{'holds':>8}  (p99 at the last step)")
    for r in results:
        print(
            f"{r['server']:<28}{r['kib_per_idle_client']:>11}{r['most_clients_under_limit']!s:>8}"
            f"  {r['steps'][-1]['p99_ms']} ms at {r['steps'][-1]['clients']}"
        )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
