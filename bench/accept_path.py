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

With each, the server processes' CPU time per accept (user + system, from /proc): wall
times move with whatever else the machine runs, this much less. (PostgreSQL's own CPU is
not in it.)

With `--instances N` (N > 1), N web instances share the one database (as tests/multi and
bench/contenders.py start them) and Redis as the Socket.IO message queue (a throwaway
redis-server unless `--redis-url` names one); provider i and its requester use instance
i mod N, so the accepts are spread evenly.

Between rounds each provider ends the session (POST /visits/<id>/end), so its requester
may ask again. Nothing else is measured.

    python -m bench.accept_path [--providers 50] [--rounds 10] [--single 50]
        [--database-url postgresql://…] [--redis-url redis://…] [--instances N]
        [--label TEXT]

Prints a table and writes bench/results/accept_path.json (or --output).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.crowd import Crowd, make_crowd
from bench.request_latency import percentile
from bench.results_file import add_server_options, provenance, write_result
from tests.server import LiveServer, RedisServer

RESULTS = Path(__file__).resolve().parent / "results" / "accept_path.json"
TIMEOUT = 30.0
# Each request's timers (the repeated alert after 30 s, the email after 2 min, the expiry
# after 10) are jobs the server runs later, whatever became of the request; with the
# defaults they fired in the middle of later rounds, so a round's numbers depended on how
# slow the rounds before it had been. Due after the run here: not on the accept path.
TIMERS_AFTER_THE_RUN = {
    "REQUEST_ALERT_REPEAT_SECONDS": "3600",
    "REQUEST_ESCALATE_AFTER_SECONDS": "7200",
    "REQUEST_EXPIRE_AFTER_SECONDS": "10800",
}


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


class RawCaller:
    """The same calls on one http.client connection (keep-alive): a fraction of the client
    CPU of requests, whose cost per call the 50 providers' threads otherwise take from the
    cores the server runs on."""

    def __init__(self, base: str, token: str):
        url = urlsplit(base)
        self.address = (url.hostname, url.port)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        data = json.dumps(body).encode() if body is not None else b""
        headers = {**self.headers, "Content-Type": "application/json"} if data else self.headers
        for attempt in (1, 2):
            reused = self.connection is not None
            if not reused:
                self.connection = http.client.HTTPConnection(*self.address, timeout=TIMEOUT)
            try:
                self.connection.request("POST", "/api/v1" + path, body=data, headers=headers)
                response = self.connection.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the idle keep-alive connection (its read timeout)
                # before this request reached it: once more on a new one.
                self.connection.close()
                self.connection = None
                if not reused or attempt == 2:
                    raise
        if response.status != expect:
            raise RuntimeError(f"POST {path}: {response.status} {raw[:300]!r}")
        return json.loads(raw) if raw else {}


CLIENTS = {"requests": Caller, "http.client": RawCaller}


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
    """CPU seconds the server processes have used together (Linux /proc): what an accept
    costs them, whatever else the machine is running (wall times move with the load; this
    does not)."""

    def __init__(self, pids: list[int]):
        self.paths = [Path(f"/proc/{pid}/stat") for pid in pids]
        self.spent = 0.0
        # And this process's own (the clients' threads), which shares the same cores.
        self.client_spent = 0.0

    def now(self) -> float:
        ticks = 0
        for path in self.paths:
            fields = path.read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


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
        before, client_before = cpu.now(), time.process_time()
        results = accept_at_once(providers, request_ids)
        cpu.spent += cpu.now() - before
        cpu.client_spent += time.process_time() - client_before
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


def run(
    servers: list[LiveServer],
    crowd: Crowd,
    rounds: int,
    single: int,
    warmup: int,
    Caller=Caller,  # noqa: N803 (a class)
) -> dict:
    """Provider i and its requester call instance i mod len(servers)."""
    urls = [servers[i % len(servers)].url for i in range(len(crowd.providers))]
    providers = [Caller(url, p.token) for url, p in zip(urls, crowd.providers, strict=True)]
    requesters = [Caller(url, r.token) for url, r in zip(urls, crowd.requesters, strict=True)]
    ids = [p.id for p in crowd.providers]
    pids = [server.process.pid for server in servers]
    cpu_alone, cpu_at_once = ServerCpu(pids), ServerCpu(pids)
    measure_at_once(providers, requesters, ids, warmup, cpu_at_once)  # caches, pools
    cpu_at_once.spent = cpu_at_once.client_spent = 0.0
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
            "client_cpu_ms_per_accept": round(cpu_at_once.client_spent / len(latencies) * 1000, 2),
            "accepts_per_s": round(len(latencies) / sum(walls), 1),
            "round_accepts_per_s_median": round(statistics.median(throughputs), 1),
            "round_wall_ms_median": round(statistics.median(walls) * 1000, 1),
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def start_servers(workdir: Path, args) -> tuple[list[LiveServer], RedisServer | None]:
    """One instance, or `args.instances` on one database and one Redis (the first one
    migrates and seeds it; the others only serve)."""
    redis_url, redis = args.redis_url, None
    if args.instances > 1 and not redis_url:
        redis = RedisServer().start()
        redis_url = redis.url
    servers: list[LiveServer] = []
    try:
        for n in range(args.instances):
            server = LiveServer(
                workdir / f"instance-{n}",
                async_mode=args.async_mode,
                database_url=servers[0].env()["DATABASE_URL"] if servers else args.database_url,
                redis_url=redis_url,
                extra_env=TIMERS_AFTER_THE_RUN,
                media_worker=False,  # not on this path
                prepare=not servers,
            )
            servers.append(server)
            server.start()
    except BaseException:
        stop_servers(servers, redis)
        raise
    return servers, redis


def stop_servers(servers: list[LiveServer], redis: RedisServer | None) -> None:
    for server in reversed(servers):  # the first last: it drops its PostgreSQL schema
        server.stop()
    if redis is not None:
        redis.stop()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=50, help="and as many requesters")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of N accepts at once")
    parser.add_argument("--single", type=int, default=50, help="accepts measured alone")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    add_server_options(parser)
    parser.add_argument(
        "--instances", type=int, default=1, help="web instances on one database and Redis"
    )
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="requests",
        help="the providers' HTTP client (http.client: less client CPU on shared cores)",
    )
    parser.add_argument("--label", default="", help="stored with the result")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if args.instances < 1:
        parser.error("--instances must be at least 1")
    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        servers, redis = start_servers(Path(workdir), args)
        try:
            crowd = make_crowd(servers[0], args.providers)
            measured = run(
                servers, crowd, args.rounds, args.single, args.warmup, CLIENTS[args.client]
            )
        finally:
            stop_servers(servers, redis)

    result = {
        "benchmark": "accept_path",
        "what": "POST /api/v1/requests/<id>/accept sent → its 200 received; "
        "alone, and N providers at once",
        "label": args.label,
        "providers": args.providers,
        "rounds": args.rounds,
        "instances": args.instances,
        "client": args.client,
        **measured,
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url or args.instances > 1 else None,
        "server_env": TIMERS_AFTER_THE_RUN,
        **provenance(),
    }
    write_result(result, args.output)
    alone, at_once = result["alone"], result["at_once"]
    where = f"{result['database']}{', redis' if result['message_queue'] else ''}"
    if args.instances > 1:
        where += f", {args.instances} instances"
    print(f"accept path ({result['async_mode']}, {where}), load {result['loadavg_before']}")
    print(
        f"{'':<16}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'accepts/s':>11}{'CPU ms':>9}"
        f"{'client CPU ms':>15}"
    )
    print(
        f"{'one alone':<16}{alone['p50_ms']:>9}{alone['p99_ms']:>9}{alone['max_ms']:>9}"
        f"{'':>11}{alone['server_cpu_ms_per_accept']:>9}"
    )
    print(
        f"{f'{args.providers} at once':<16}{at_once['p50_ms']:>9}{at_once['p99_ms']:>9}"
        f"{at_once['max_ms']:>9}{at_once['accepts_per_s']:>11}"
        f"{at_once['server_cpu_ms_per_accept']:>9}{at_once['client_cpu_ms_per_accept']:>15}"
    )
    print(
        "(CPU ms: the server processes' CPU time per accept, user + system, all instances;"
        " client CPU ms: this process's, whose threads are the providers)"
    )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
