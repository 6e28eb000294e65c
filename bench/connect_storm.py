"""Connect storm: N dashboards connect at the same moment (as after a restart); how long
until every one has its snapshots.

For each server (as bench/fanout.py: Anteroom per async mode, two instances over Redis,
the bare Node.js Socket.IO server), the harness's worker processes open N websocket
connections at one agreed instant, each authenticating as a requester's dashboard; a
client is done when both of its snapshots have arrived (Node sends two of Anteroom's
size). Each sample is the time from that instant to a client being done; "all" is the
last client's. The clients then disconnect and the storm is repeated `--repeats` times.
Each row also has the server processes' CPU time per client over its storms (from /proc:
unlike the times, it does not grow with other load on the machine).

    python -m bench.connect_storm [--clients 100,500,1000,2000] [--modes gevent,eventlet,threading]
        [--no-two-instances] [--no-node] [--repeats 3] [--quick] [--label TEXT]

Prints a table and writes bench/results/connect_storm.json (or --output).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.contenders import (
    SNAPSHOTS,
    Anteroom,
    Node,
    contenders,
    load,
    matrix_args,
    percentile,
    versions,
)
from bench.results_file import provenance, write_result
from bench.sio_harness import Harness

RESULTS = Path(__file__).resolve().parent / "results" / "connect_storm.json"


def server_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the server processes have used so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def measure(server, harness: Harness, sizes: list[int], repeats: int) -> tuple[list[dict], int]:
    rows = []
    snapshot_bytes = 0
    for n in sizes:
        samples, failed, loads, alls, errors, cpu = [], 0, [], [], [], 0.0
        for _ in range(repeats):
            loads.append(load()[0])
            cpu_before = server_cpu_seconds(server.pids())
            start, outcomes = harness.storm(server.targets(n), SNAPSHOTS)
            cpu += server_cpu_seconds(server.pids()) - cpu_before
            done = [(ready - start) / 1e6 for ready, _ in outcomes if ready is not None]
            errors += [e for ready, e in outcomes if ready is None][:3]
            failed += n - len(done)
            samples += done
            alls.append(round(max(done), 1) if len(done) == n else None)
            snapshot_bytes = harness.snapshot_bytes() or snapshot_bytes
            harness.close()
            time.sleep(1.0)  # let the server see every disconnect
        row = {
            "clients": n,
            "p50_ms": round(percentile(samples, 50), 1) if samples else None,
            "p99_ms": round(percentile(samples, 99), 1) if samples else None,
            "all_ms": round(max(samples), 1) if samples else None,
            "all_each_repeat_ms": alls,
            "failed": failed,
            "server_cpu_ms_per_client": round(1000 * cpu / (n * repeats), 2),
            "first_errors": errors[:3],
            "load_1min": loads,
        }
        rows.append(row)
        print(
            f"  {server.label:<28} N={n:<5} p50 {row['p50_ms']:>8} p99 {row['p99_ms']:>8} "
            f"all {row['all_ms']:>8} ms  failed {failed}  "
            f"server CPU {row['server_cpu_ms_per_client']} ms/client  load {loads[0]}",
            flush=True,
        )
    return rows, snapshot_bytes


def run(args) -> dict:
    results, snapshot_bytes = [], 600
    for kind, options in contenders(args.modes, args.two_instances, args.node):
        server = Node(snapshot_bytes=snapshot_bytes) if kind == "node" else Anteroom(**options)
        harness = Harness(args.processes)
        try:
            server.start()
            rows, seen = measure(server, harness, args.clients, args.repeats)
            if kind == "anteroom" and seen:
                snapshot_bytes = seen
        finally:
            harness.stop()
            server.stop()
        results.append(
            {
                "server": server.label,
                "async_mode": server.async_mode,
                "instances": server.instances,
                "rows": rows,
            }
        )
    return {"results": results, "snapshot_bytes_per_client": snapshot_bytes}


def parse(argv=None):
    return matrix_args(__doc__.split("\n\n")[0], RESULTS, 3, 2, argv)


def print_table(result: dict) -> None:
    print(
        f"\nconnect storm: N connect at once → each has its snapshots (ms; {result['parameters']})"
    )
    print(f"{'server':<30}{'N':>6}{'p50':>9}{'p99':>9}{'all':>9}{'failed':>7}{'cpu/c':>7}  load")
    for entry in result["results"]:
        for row in entry["rows"]:
            print(
                f"{entry['server']:<30}{row['clients']:>6}{row['p50_ms']!s:>9}"
                f"{row['p99_ms']!s:>9}{row['all_ms']!s:>9}{row['failed']:>7}"
                f"{row.get('server_cpu_ms_per_client')!s:>7}  {row['load_1min'][0]}"
            )


def main(argv=None) -> dict:
    args = parse(argv)
    started_load = load()
    measured = run(args)
    result = {
        "benchmark": "connect_storm",
        "what": "N clients start connecting at one instant → each has both snapshots",
        "label": args.label,
        "parameters": {
            "clients": args.clients,
            "modes": args.modes,
            "two_instances": args.two_instances,
            "repeats": args.repeats,
            "harness_processes": args.processes,
        },
        **measured,
        "load_before": started_load,
        "load_after": load(),
        "versions": versions(),
        **provenance(),
    }
    write_result(result, args.output)
    print_table(result)
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
