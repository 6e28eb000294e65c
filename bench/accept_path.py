"""How fast providers accept requests, one alone and many at once.

Starts the real server (`python wsgi.py`, gevent by default) with the demo clinic plus
N providers and N requesters (bench/crowd.py: each provider offers one service and belongs
to the demo clinic). Each sample is the time from just before
POST /api/v1/requests/<id>/accept to its 200 answer, from the provider's own keep-alive
HTTP session (bearer token).

- alone: one provider accepts while nothing else happens (`--single` times);
- at once: every requester asks its own provider, then all N providers accept at the same
  moment (threads released by one barrier); `--rounds` times. Throughput is the accepts of
  a round over the time from the first accept sent to the last answered.

With each, the server process's CPU time per accept (user + system, from /proc): wall
times move with whatever else the machine runs, this much less. (PostgreSQL's own CPU is
not in it.)

Between rounds each provider ends the session (POST /visits/<id>/end), so its requester
may ask again. Nothing else is measured.

    python -m bench.accept_path [--providers 50] [--rounds 10] [--single 50]
        [--database-url postgresql://…] [--redis-url redis://…] [--label TEXT]

Prints a table and writes bench/results/accept_path.json (or --output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.crowd import Crowd, make_crowd
from bench.request_latency import percentile
from bench.results_file import add_server_options, provenance, write_result
from tests.server import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "accept_path.json"
TIMEOUT = 30.0


class Caller:
    """One account's keep-alive HTTP session with its bearer token."""

    def __init__(self, base: str, token: str):
        self.api = base + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        r = self.http.post(self.api + path, json=body, timeout=TIMEOUT)
        if r.status_code != expect:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}


def ask(requester: Caller, provider_id: int) -> int:
    return requester.post("/requests", {"provider_id": provider_id}, expect=201)["id"]


def accept(provider: Caller, request_id: int) -> tuple[float, float, int]:
    """(sent, answered) in perf_counter seconds, and the new visit's id."""
    sent = time.perf_counter()
    visit_id = provider.post(f"/requests/{request_id}/accept")["visit_id"]
    return sent, time.perf_counter(), visit_id


def end(provider: Caller, visit_id: int) -> None:
    provider.post(f"/visits/{visit_id}/end")


class ServerCpu:
    """CPU seconds the server process has used (Linux /proc): what an accept costs it,
    whatever else the machine is running (wall times move with the load; this does not)."""

    def __init__(self, pid: int):
        self.path = Path(f"/proc/{pid}/stat")
        self.spent = 0.0

    def now(self) -> float:
        fields = self.path.read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_alone(providers: list[Caller], requesters: list[Caller], ids, count: int, cpu):
    samples = []
    for n in range(count):
        i = n % len(providers)
        request_id = ask(requesters[i], ids[i])
        before = cpu.now()
        sent, answered, visit_id = accept(providers[i], request_id)
        cpu.spent += cpu.now() - before
        samples.append((answered - sent) * 1000)
        end(providers[i], visit_id)
    return samples


def accept_at_once(providers: list[Caller], request_ids: list[int]) -> list:
    """Every provider accepts its request at the same moment (threads behind one barrier)."""
    barrier = threading.Barrier(len(providers))
    results: list = [None] * len(providers)

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = accept(providers[i], request_ids[i])
        except Exception as exc:  # reported by the caller, after every thread is done
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(providers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def measure_at_once(providers: list[Caller], requesters: list[Caller], ids, rounds: int, cpu):
    """Per round: every requester asks, then every provider accepts at once."""
    latencies, walls = [], []
    n = len(providers)
    for _ in range(rounds):
        request_ids = [ask(requesters[i], ids[i]) for i in range(n)]
        before = cpu.now()
        results = accept_at_once(providers, request_ids)
        cpu.spent += cpu.now() - before
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"{len(failed)} accepts failed, first: {failed[0]}")
        latencies += [(answered - sent) * 1000 for sent, answered, _ in results]
        walls.append(max(a for _, a, _ in results) - min(s for s, _, _ in results))
        for i, (_, _, visit_id) in enumerate(results):
            end(providers[i], visit_id)
    return latencies, walls


def summary(samples: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(samples, 50), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "mean_ms": round(statistics.fmean(samples), 1),
        "max_ms": round(max(samples), 1),
        "samples": len(samples),
    }


def run(server: LiveServer, crowd: Crowd, rounds: int, single: int, warmup: int) -> dict:
    providers = [Caller(server.url, p.token) for p in crowd.providers]
    requesters = [Caller(server.url, r.token) for r in crowd.requesters]
    ids = [p.id for p in crowd.providers]
    cpu_alone, cpu_at_once = ServerCpu(server.process.pid), ServerCpu(server.process.pid)
    measure_at_once(providers, requesters, ids, warmup, cpu_at_once)  # caches, pools
    cpu_at_once.spent = 0.0
    load_before = os.getloadavg()
    alone = measure_alone(providers, requesters, ids, single, cpu_alone)
    latencies, walls = measure_at_once(providers, requesters, ids, rounds, cpu_at_once)
    throughputs = [len(providers) / w for w in walls]
    return {
        "alone": {
            **summary(alone),
            "server_cpu_ms_per_accept": round(cpu_alone.spent / len(alone) * 1000, 2),
        },
        "at_once": {
            **summary(latencies),
            "server_cpu_ms_per_accept": round(cpu_at_once.spent / len(latencies) * 1000, 2),
            "accepts_per_s": round(len(latencies) / sum(walls), 1),
            "round_accepts_per_s_median": round(statistics.median(throughputs), 1),
            "round_wall_ms_median": round(statistics.median(walls) * 1000, 1),
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=50, help="and as many requesters")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of N accepts at once")
    parser.add_argument("--single", type=int, default=50, help="accepts measured alone")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    add_server_options(parser)
    parser.add_argument("--label", default="", help="stored with the result")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = LiveServer(
            Path(workdir),
            async_mode=args.async_mode,
            database_url=args.database_url,
            redis_url=args.redis_url,
            media_worker=False,  # not on this path
        )
        try:
            server.start()
            crowd = make_crowd(server, args.providers)
            measured = run(server, crowd, args.rounds, args.single, args.warmup)
        finally:
            server.stop()

    result = {
        "benchmark": "accept_path",
        "what": "POST /api/v1/requests/<id>/accept sent → its 200 received; "
        "alone, and N providers at once",
        "label": args.label,
        "providers": args.providers,
        "rounds": args.rounds,
        **measured,
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url else None,
        **provenance(),
    }
    write_result(result, args.output)
    alone, at_once = result["alone"], result["at_once"]
    where = f"{result['database']}{', redis' if result['message_queue'] else ''}"
    print(f"accept path ({result['async_mode']}, {where}), load {result['loadavg_before']}")
    print(f"{'':<16}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'accepts/s':>11}{'CPU ms':>9}")
    print(
        f"{'one alone':<16}{alone['p50_ms']:>9}{alone['p99_ms']:>9}{alone['max_ms']:>9}"
        f"{'':>11}{alone['server_cpu_ms_per_accept']:>9}"
    )
    print(
        f"{f'{args.providers} at once':<16}{at_once['p50_ms']:>9}{at_once['p99_ms']:>9}"
        f"{at_once['max_ms']:>9}{at_once['accepts_per_s']:>11}"
        f"{at_once['server_cpu_ms_per_accept']:>9}"
    )
    print("(CPU ms: the server process's CPU time per accept, user + system)")
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
