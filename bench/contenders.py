"""The servers the Socket.IO benchmarks (fanout, connect_storm, memory) put side by side.

- `Anteroom`: the real server as `make run` starts it (tests/server.py's LiveServer), one
  instance or two sharing a database with a Redis of their own as the message queue, in
  any async mode. Every client is a requester's dashboard: the demo station's account
  with an API token, so on connect it joins requester:<id> and the directory and is sent
  two snapshots. The change is Dr. Lindqvist turning available or unavailable
  (PUT /api/v1/providers/me/availability), which reaches every requester's dashboard as
  one `availability_changed` on the directory stream. All clients share one account, so
  the per-user socket cap (MAX_SOCKETS_PER_USER, 8) is lifted for the run; nothing else
  about the server changes.
- `Node`: bench/node/server.js, a bare Socket.IO 4.8 server doing the same on the wire
  (join a room, two snapshots on connect, one broadcast on an HTTP trigger), with payload
  sizes copied from what the harness saw Anteroom send.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from bench.sio_harness import Target, auth_json
from tests.server import LiveServer, free_port

NODE_DIR = Path(__file__).resolve().parent / "node"
EVENT = "availability_changed"
SNAPSHOTS = 2  # a requester's dashboard: its own stream and the directory


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of them at or below."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def versions() -> dict:
    from importlib.metadata import version

    found = {
        name: version(name)
        for name in (
            "flask",
            "flask-socketio",
            "python-socketio",
            "python-engineio",
            "gevent",
            "gevent-websocket",
            "eventlet",
            "simple-websocket",
        )
    }
    try:
        found["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        found["socket.io (node)"] = subprocess.run(
            ["node", "-p", "require('socket.io/package.json').version"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return found


class Redis:
    """A throwaway redis-server on a free port: nobody else's channel, nothing saved."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Anteroom:
    name = "anteroom"

    def __init__(self, async_mode: str = "gevent", instances: int = 1, extra_env=None):
        self.async_mode = async_mode
        self.instances = instances
        self.extra_env = {"MAX_SOCKETS_PER_USER": "1000000", **(extra_env or {})}
        self.workdir = Path(tempfile.mkdtemp(prefix="anteroom-bench-"))
        self.redis: Redis | None = None
        self.servers: list[LiveServer] = []
        self.available = False

    @property
    def label(self) -> str:
        if self.instances == 1:
            return f"anteroom {self.async_mode}"
        return f"anteroom {self.async_mode} ×{self.instances} (redis)"

    def start(self) -> Anteroom:
        if self.instances > 1:
            self.redis = Redis()
        first = LiveServer(
            self.workdir / "a",
            async_mode=self.async_mode,
            redis_url=self.redis.url if self.redis else None,
            extra_env=self.extra_env,
            media_worker=False,
        )
        self.servers.append(first)
        first.start()
        for n in range(1, self.instances):
            more = LiveServer(
                self.workdir / f"i{n}",
                async_mode=self.async_mode,
                database_url=first.env()["DATABASE_URL"],
                redis_url=self.redis.url,
                extra_env=self.extra_env,
                media_worker=False,
                prepare=False,
            )
            self.servers.append(more)
            more.start()
        self.client_auth = auth_json(first.token("station"))
        self.provider_token = first.token("lindqvist")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.provider_token}"
        return self

    def targets(self, count: int, start: int = 0) -> list[Target]:
        """Clients split evenly between the instances."""
        return [
            Target(
                "127.0.0.1", self.servers[(start + n) % len(self.servers)].port, self.client_auth
            )
            for n in range(count)
        ]

    def trigger(self) -> None:
        """One queue change: Dr. Lindqvist turns (un)available."""
        self.available = not self.available
        r = self.http.put(
            self.servers[0].url + "/api/v1/providers/me/availability",
            json={"available": self.available},
            timeout=30,
        )
        r.raise_for_status()

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.servers]

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        if self.redis:
            self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Node:
    name = "node"
    label = "node socket.io"
    async_mode = None
    instances = 1

    def __init__(self, event_bytes: int = 120, snapshot_bytes: int = 600):
        self.event_bytes = event_bytes
        self.snapshot_bytes = snapshot_bytes
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Node:
        if not (NODE_DIR / "node_modules" / "socket.io").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                check=True,
            )
        env = {
            **os.environ,
            "PORT": str(self.port),
            # Sizes of Anteroom's frames less their Socket.IO framing (`42["name",` … `]`).
            "EVENT_BYTES": str(max(0, self.event_bytes - len(EVENT) - 6)),
            "SNAPSHOT_BYTES": str(max(0, self.snapshot_bytes - 16)),
            "SNAPSHOTS": str(SNAPSHOTS),
        }
        self.process = subprocess.Popen(
            ["node", "server.js"], cwd=NODE_DIR, env=env, stdout=subprocess.DEVNULL
        )
        self.http = requests.Session()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.http.get(self.url + "/stats", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the node server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def targets(self, count: int, start: int = 0) -> list[Target]:
        return [Target("127.0.0.1", self.port, auth_json("bench")) for _ in range(count)]

    def trigger(self) -> None:
        self.http.post(self.url + "/broadcast", timeout=30).raise_for_status()

    def pids(self) -> list[int]:
        return [self.process.pid]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def contenders(modes: list[str], two_instances: bool, node: bool) -> list[tuple[str, dict]]:
    """(kind, options) for each server a run compares, Anteroom's first (Node copies the
    payload sizes Anteroom's run saw)."""
    chosen = [("anteroom", {"async_mode": m, "instances": 1}) for m in modes]
    if two_instances:
        chosen.append(("anteroom", {"async_mode": modes[0], "instances": 2}))
    if node:
        chosen.append(("node", {}))
    return chosen


def matrix_args(
    description: str, output: Path, repeats: int, quick_repeats: int, argv=None
) -> argparse.Namespace:
    """The options fan-out and connect storm share: which N, async modes and contenders, how
    many repeats; --quick is N=100,1000 on gevent alone, with quick_repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--clients", default="100,500,1000,2000", help="N, comma-separated")
    parser.add_argument("--modes", default="gevent,eventlet,threading")
    parser.add_argument("--two-instances", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--node", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--processes", type=int, default=2, help="harness worker processes")
    parser.add_argument(
        "--quick", action="store_true", help=f"N=100,1000, gevent, {quick_repeats} repeats"
    )
    parser.add_argument("--label", default="")
    parser.add_argument("--output", type=Path, default=output)
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.modes, args.repeats = "100,1000", "gevent", quick_repeats
    args.clients = [int(n) for n in args.clients.split(",")]
    args.modes = args.modes.split(",")
    return args
