"""How much a flood of wrong passwords slows everyone else down.

Starts the real server (`python wsgi.py`, gevent by default) with a fresh demo clinic.
A bystander (Dr. Lindqvist, bearer token, one keep-alive HTTP session) reads
GET /api/v1/providers again and again: first on a quiet server, then while 8 clients
hammer POST /api/v1/tokens with wrong passwords for the station's account. Each wrong
password costs one argon2id verification (the real cost parameters). The sign-in rate
limits are switched off for this run (RATELIMIT_ENABLED=false), so every attempt really
hashes: this measures the hashing, not the limiter.

    python -m bench.signin_flood [--samples 300] [--attackers 8] [--async-mode gevent]

Prints the bystander's p50 and p99 in milliseconds, quiet and under the flood, and the
flood's rate; writes them to bench/results/signin_flood.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.request_latency import percentile
from bench.results_file import provenance, write_result
from tests.server import DEMO, LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "signin_flood.json"
TIMEOUT = 30.0


def bystander(server: LiveServer, token: str, samples: int) -> list[float]:
    """Milliseconds for each of `samples` GET /api/v1/providers, one after another."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = server.url + "/api/v1/providers"
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = session.get(url, timeout=TIMEOUT)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"bystander failed: {response.status_code} {response.text}")
    return timings


class Flood:
    """`attackers` threads posting wrong passwords until stopped; counts the answers."""

    def __init__(self, server: LiveServer, attackers: int):
        self.url = server.url + "/api/v1/tokens"
        self.stop = threading.Event()
        self.answers: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._attack, args=(n,)) for n in range(attackers)]

    def _attack(self, n: int) -> None:
        session = requests.Session()
        attempt = 0
        while not self.stop.is_set():
            attempt += 1
            body = {"email": DEMO["station"], "password": f"wrong-{n}-{attempt}"}
            status = session.post(self.url, json=body, timeout=TIMEOUT).status_code
            with self.lock:
                self.answers[status] = self.answers.get(status, 0) + 1

    def __enter__(self) -> Flood:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        time.sleep(1.0)  # every attacker has a hash under way before we measure
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        self.seconds = time.perf_counter() - self.started


def summary(timings: list[float]) -> dict:
    return {
        "samples": len(timings),
        "p50_ms": round(percentile(timings, 50), 2),
        "p99_ms": round(percentile(timings, 99), 2),
        "max_ms": round(max(timings), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="bystander requests per phase")
    parser.add_argument("--attackers", type=int, default=8)
    parser.add_argument(
        "--async-mode", default="gevent", choices=["gevent", "eventlet", "threading"]
    )
    parser.add_argument("--label", default="", help="a note stored with the result")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = LiveServer(
            Path(workdir),
            async_mode=args.async_mode,
            extra_env={"RATELIMIT_ENABLED": "false"},
        )
        try:
            server.start()
            token = server.token("lindqvist")
            bystander(server, token, 20)  # warm up connections and caches
            quiet = bystander(server, token, args.samples)
            with Flood(server, args.attackers) as flood:
                flooded = bystander(server, token, args.samples)
        finally:
            server.stop()

    attempts = sum(flood.answers.values())
    result = {
        "benchmark": "signin_flood",
        "what": "bystander GET /api/v1/providers, quiet and while attackers post wrong passwords",
        "label": args.label,
        "quiet": summary(quiet),
        "flood": summary(flooded),
        "attackers": args.attackers,
        "attempts_per_second": round(attempts / flood.seconds, 1),
        "attempt_answers": {str(k): v for k, v in sorted(flood.answers.items())},
        "async_mode": args.async_mode,
        **provenance(),
    }
    write_result(result, args.output)
    print(
        f"bystander quiet: p50 {result['quiet']['p50_ms']} ms, p99 {result['quiet']['p99_ms']} ms; "
        f"under {args.attackers} attackers ({result['attempts_per_second']} wrong passwords/s): "
        f"p50 {result['flood']['p50_ms']} ms, p99 {result['flood']['p99_ms']} ms"
    )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
