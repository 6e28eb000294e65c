"""How long from a station's request to the provider's alert.

Starts the real server (`python wsgi.py`, gevent by default) with a fresh demo clinic,
connects Dr. Lindqvist's dashboard over Socket.IO (websocket), and has the station ask
for a session again and again. Each sample is the time from just before
POST /api/v1/requests to the moment request_created for that request reaches the
provider's socket; the station then cancels, so the next request is a new one.

    python -m bench.request_latency [--requests 100] [--async-mode gevent]
        [--database-url postgresql://…] [--redis-url redis://…]

Prints p50 and p99 in milliseconds and writes them to bench/results/request_latency.json.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

from bench.results_file import add_server_options, provenance, write_result
from tests.server import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "request_latency.json"
TIMEOUT = 10.0


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of them at or below."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Dashboard:
    """The provider's socket: when each request_created arrived, by request id."""

    def __init__(self, url: str, token: str):
        self.arrived: dict[int, float] = {}
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("request_created", self._alerted)
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _alerted(self, data: dict) -> None:
        at = time.perf_counter()
        with self._changed:
            self.arrived[data["id"]] = at
            self._changed.notify_all()

    def wait(self, request_id: int) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: request_id in self.arrived, TIMEOUT):
                raise RuntimeError(f"request {request_id} never reached the provider")
            return self.arrived[request_id]


def measure(server: LiveServer, count: int, warmup: int) -> list[float]:
    station = requests.Session()
    station.headers["Authorization"] = f"Bearer {server.token('station')}"
    provider_token = server.token("lindqvist")
    provider_id = server.provider_id(provider_token, "Dr. Ben Lindqvist")
    server.api("PUT", "/providers/me/availability", provider_token, {"available": True})
    dashboard = Dashboard(server.url, provider_token)
    api = server.url + "/api/v1"
    samples = []
    try:
        for n in range(warmup + count):
            started = time.perf_counter()
            r = station.post(api + "/requests", json={"provider_id": provider_id}, timeout=TIMEOUT)
            if r.status_code != 201:
                raise RuntimeError(f"request failed: {r.status_code} {r.text}")
            request_id = r.json()["id"]
            arrived = dashboard.wait(request_id)
            if n >= warmup:
                samples.append((arrived - started) * 1000)
            r = station.post(f"{api}/requests/{request_id}/cancel", timeout=TIMEOUT)
            if r.status_code != 200:
                raise RuntimeError(f"cancel failed: {r.status_code} {r.text}")
    finally:
        dashboard.sio.disconnect()
    return samples


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests first")
    add_server_options(parser)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = LiveServer(
            Path(workdir),
            async_mode=args.async_mode,
            database_url=args.database_url,
            redis_url=args.redis_url,
        )
        try:
            server.start()
            samples = measure(server, args.requests, args.warmup)
        finally:
            server.stop()

    result = {
        "benchmark": "request_latency",
        "what": "POST /api/v1/requests sent → request_created received on the provider's socket",
        "requests": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url else None,
        **provenance(),
    }
    write_result(result, args.output)
    print(
        f"request → alert over {result['requests']} requests "
        f"({result['async_mode']}, {result['database']}"
        f"{', redis' if result['message_queue'] else ''}): "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"(min {result['min_ms']}, max {result['max_ms']})"
    )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
