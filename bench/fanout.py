"""Fan-out: N connected dashboards and one queue change; how long until every one has it.

For each server (Anteroom in each async mode, two Anteroom instances over Redis with the
clients split between them, and the bare Node.js Socket.IO 4.8 server of bench/node/),
N requester dashboards connect over websocket (bench/sio_harness.py: raw asyncio clients
in worker processes), then one change is made `--repeats` times: Dr. Lindqvist toggles his
availability (Node: POST /broadcast). Each sample is the time from just before the
trigger's HTTP request to the moment `availability_changed` reached one client, so a
repeat gives N samples; p50, p99 and max are over all repeats' samples. N grows in place
(100 → 500 → …): the clients of the smaller N stay connected.

    python -m bench.fanout [--clients 100,500,1000,2000] [--modes gevent,eventlet,threading]
        [--no-two-instances] [--no-node] [--repeats 5] [--quick] [--label TEXT]

Prints a table and writes bench/results/fanout.json (or --output).
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench.contenders import (
    EVENT,
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

RESULTS = Path(__file__).resolve().parent / "results" / "fanout.json"


def measure(server, harness: Harness, sizes: list[int], repeats: int) -> tuple[list[dict], dict]:
    rows, seen = [], {"event_bytes": 0, "snapshot_bytes": 0}
    connected = 0
    for n in sizes:
        errors = harness.connect(server.targets(n - connected, connected), SNAPSHOTS)
        connected = n
        if errors:  # recorded, and no larger N for this server
            rows.append({"clients": n, "connect_failures": len(errors), "first_error": errors[0]})
            print(
                f"  {server.label:<28} N={n:<5} {len(errors)} clients could not connect: "
                f"{errors[0]}",
                flush=True,
            )
            break
        seen["snapshot_bytes"] = harness.snapshot_bytes()
        time.sleep(1.0)  # let the connect burst settle
        samples, lost, per_repeat, spread = [], 0, [], []
        loads = []
        try:
            harness.fanout(EVENT, server.trigger)  # one unmeasured change first
        except requests.RequestException as e:  # recorded, and no larger N for this server
            rows.append({"clients": n, "trigger_failed": f"{type(e).__name__}: {e}"[:200]})
            print(f"  {server.label:<28} N={n:<5} the trigger failed: {e}", flush=True)
            break
        time.sleep(0.3)
        harness.cpu_seconds()
        for _ in range(repeats):
            loads.append(load()[0])
            sent, arrivals, event_bytes = harness.fanout(EVENT, server.trigger)
            seen["event_bytes"] = event_bytes
            got = [(a - sent) / 1e6 for a in arrivals if a is not None]
            lost += len(arrivals) - len(got)
            samples += got
            # The broadcast alone: from the first client's arrival, without the trigger's
            # own work (Anteroom's HTTP request and commit; nothing for Node).
            spread += [t - min(got) for t in got]
            per_repeat.append(round(percentile(got, 99), 1) if got else None)
            time.sleep(0.3)
        row = {
            "clients": n,
            "p50_ms": round(percentile(samples, 50), 1),
            "p99_ms": round(percentile(samples, 99), 1),
            "max_ms": round(max(samples), 1),
            "p99_each_repeat_ms": per_repeat,
            "p50_after_first_ms": round(percentile(spread, 50), 1),
            "p99_after_first_ms": round(percentile(spread, 99), 1),
            "lost": lost,
            "harness_cpu_s_per_change": round(harness.cpu_seconds() / repeats, 3),
            "load_1min": loads,
        }
        rows.append(row)
        print(
            f"  {server.label:<28} N={n:<5} p50 {row['p50_ms']:>7} p99 {row['p99_ms']:>7} "
            f"max {row['max_ms']:>7} ms  (after the first: p99 {row['p99_after_first_ms']})"
            f"  lost {lost}  load {loads[0]}",
            flush=True,
        )
    return rows, seen


def run(args) -> dict:
    results, seen = [], {"event_bytes": 120, "snapshot_bytes": 600}
    for kind, options in contenders(args.modes, args.two_instances, args.node):
        if kind == "node":
            server = Node(seen["event_bytes"], seen["snapshot_bytes"])
        else:
            server = Anteroom(**options)
        harness = Harness(args.processes)
        try:
            server.start()
            rows, measured = measure(server, harness, args.clients, args.repeats)
            if kind == "anteroom" and measured["event_bytes"]:
                seen = measured
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
    return {"results": results, "payload_bytes": seen}


def parse(argv=None):
    return matrix_args(__doc__.split("\n\n")[0], RESULTS, 5, 3, argv)


def print_table(result: dict) -> None:
    print(f"\nfan-out: trigger → every client has {EVENT} (ms; {result['parameters']})")
    print("p99*: p99 counted from the first client's arrival (the broadcast alone)")
    print(f"{'server':<30}{'N':>6}{'p50':>9}{'p99':>9}{'max':>9}{'p99*':>9}{'lost':>6}  load")
    for entry in result["results"]:
        for row in entry["rows"]:
            if "trigger_failed" in row:
                print(f"{entry['server']:<30}{row['clients']:>6}  the trigger failed")
                continue
            if "connect_failures" in row:
                print(
                    f"{entry['server']:<30}{row['clients']:>6}  {row['connect_failures']} "
                    "clients could not connect"
                )
                continue
            print(
                f"{entry['server']:<30}{row['clients']:>6}{row['p50_ms']:>9}{row['p99_ms']:>9}"
                f"{row['max_ms']:>9}{row['p99_after_first_ms']:>9}{row['lost']:>6}"
                f"  {row['load_1min'][0]}"
            )


def main(argv=None) -> dict:
    args = parse(argv)
    started_load = load()
    measured = run(args)
    result = {
        "benchmark": "fanout",
        "what": "trigger HTTP request sent → availability_changed received, per client",
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
