"""Request → provider alert while 1,000 dashboards are connected.

Starts the real server (`python wsgi.py`, gevent by default) with the demo clinic plus
P providers and P requesters (bench/crowd.py), and connects `--dashboards` dashboards
over websocket with bench/sio_harness.py (raw asyncio clients in worker processes: they
connect with a bearer token, take their snapshots and answer pings): half of them the
providers' (P of them each), half the requesters'. Each provider also has one measuring
dashboard (python-socketio client, websocket, as in bench/request_latency.py).

Requesters then ask at a steady rate (`--rate` per second for `--seconds`), open loop:
request k is sent at start + k/rate whatever became of the earlier ones, by requester
k mod P to its own provider. Each sample is the time from just before
POST /api/v1/requests to the moment `request_created` for that request reaches the
provider's measuring dashboard; the requester then cancels, so its next request is new.

The per-user socket cap (MAX_SOCKETS_PER_USER, 8) is lifted for the run (each account
holds dashboards/(2P) + 1 sockets); nothing else about the server changes.

    python -m bench.request_alert_under_load [--dashboards 1000] [--rate 5] [--seconds 30]
        [--pairs 20] [--database-url postgresql://…] [--redis-url redis://…] [--label TEXT]

Prints p50/p99 and writes bench/results/request_alert_under_load.json (or --output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.crowd import make_crowd
from bench.request_latency import Dashboard, percentile
from bench.results_file import add_server_options, provenance, write_result
from bench.sio_harness import Harness, Target, auth_json
from tests.server import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "request_alert_under_load.json"
TIMEOUT = 30.0
PROVIDER_SNAPSHOTS = 3  # its own stream, the directory, its clinic's schedule
REQUESTER_SNAPSHOTS = 2  # its own stream, the directory


def connect_dashboards(server: LiveServer, harness: Harness, crowd, count: int) -> int:
    """count dashboards, half providers' and half requesters'; returns how many connected."""
    half = count // 2
    failed = 0
    for members, expect, n in (
        (crowd.providers, PROVIDER_SNAPSHOTS, half),
        (crowd.requesters, REQUESTER_SNAPSHOTS, count - half),
    ):
        targets = [
            Target("127.0.0.1", server.port, auth_json(members[k % len(members)].token))
            for k in range(n)
        ]
        errors = harness.connect(targets, expect)
        if errors:
            print(f"{len(errors)} dashboards could not connect, first: {errors[0]}")
        failed += len(errors)
    return count - failed


def ask_at_rate(server: LiveServer, crowd, dashboards, rate: float, seconds: float):
    """Open loop: request k at start + k/rate. Returns the samples (ms) and the failures."""
    api = server.url + "/api/v1"
    pairs = len(crowd.providers)
    sessions = []
    for requester in crowd.requesters:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {requester.token}"
        sessions.append(http)
    locks = [threading.Lock() for _ in range(pairs)]  # one request of a pair at a time
    samples: list[float] = []
    failures: list[str] = []

    def one(k: int) -> None:
        i = k % pairs
        with locks[i]:
            try:
                started = time.perf_counter()
                r = sessions[i].post(
                    api + "/requests", json={"provider_id": crowd.providers[i].id}, timeout=TIMEOUT
                )
                if r.status_code != 201:
                    raise RuntimeError(f"request: {r.status_code} {r.text[:200]}")
                request_id = r.json()["id"]
                arrived = dashboards[i].wait(request_id)
                samples.append((arrived - started) * 1000)
                r = sessions[i].post(f"{api}/requests/{request_id}/cancel", timeout=TIMEOUT)
                if r.status_code != 200:
                    raise RuntimeError(f"cancel: {r.status_code} {r.text[:200]}")
            except Exception as exc:  # counted and reported, the run goes on
                failures.append(str(exc))

    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=pairs) as pool:
        start = time.perf_counter()
        for k in range(total):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, k)
    return samples, failures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dashboards", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=20, help="providers, and as many requesters")
    parser.add_argument("--processes", type=int, default=2, help="harness worker processes")
    add_server_options(parser)
    parser.add_argument("--label", default="", help="stored with the result")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    per_account = -(-args.dashboards // (2 * args.pairs)) + 1
    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = LiveServer(
            Path(workdir),
            async_mode=args.async_mode,
            database_url=args.database_url,
            redis_url=args.redis_url,
            extra_env={"MAX_SOCKETS_PER_USER": str(max(8, per_account))},
            media_worker=False,
        )
        harness = None
        dashboards = []
        try:
            server.start()
            crowd = make_crowd(server, args.pairs)
            harness = Harness(args.processes)
            connected = connect_dashboards(server, harness, crowd, args.dashboards)
            dashboards = [Dashboard(server.url, p.token) for p in crowd.providers]
            time.sleep(1.0)  # let the connect burst settle
            load_before = os.getloadavg()
            samples, failures = ask_at_rate(server, crowd, dashboards, args.rate, args.seconds)
            load_after = os.getloadavg()
        finally:
            for dashboard in dashboards:
                dashboard.sio.disconnect()
            if harness is not None:
                harness.stop()
            server.stop()

    if not samples:
        raise RuntimeError(f"no request reached its provider: {failures[:3]}")
    result = {
        "benchmark": "request_alert_under_load",
        "what": "POST /api/v1/requests sent → request_created received on the provider's "
        "socket, requests at a steady rate while N dashboards are connected",
        "label": args.label,
        "dashboards": args.dashboards,
        "dashboards_connected": connected,
        "measuring_dashboards": len(dashboards),
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "pairs": args.pairs,
        "requests": len(samples),
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "p50_ms": round(percentile(samples, 50), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "mean_ms": round(statistics.fmean(samples), 1),
        "max_ms": round(max(samples), 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url else None,
        **provenance(),
    }
    write_result(result, args.output)
    print(
        f"request → alert with {connected} dashboards connected, {args.rate}/s for "
        f"{args.seconds:g} s ({result['async_mode']}, {result['database']}"
        f"{', redis' if result['message_queue'] else ''}; load {result['loadavg_before']}): "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
        f"over {len(samples)} requests, {len(failures)} failed"
    )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
