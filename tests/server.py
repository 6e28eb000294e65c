"""The real server in a subprocess, for the realserver and browser tiers and bench/.

`LiveServer.start()` migrates and seeds a fresh database through the real CLI
(`flask db upgrade`, `flask demo`; on SQLite, once per test process, then a copy of that
file for each server), then runs `python wsgi.py` exactly as `make run` does,
with the media worker (`python -m media.worker`, the self-test's echo peer) beside it on a
port of its own.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "anteroom-demo"
DEMO = {
    "admin": "admin@example.org",
    "okafor": "okafor@example.org",  # two services
    "lindqvist": "lindqvist@example.org",  # one service
    "station": "station@example.org",
    "scheduler": "scheduler@example.org",
}
# `flask demo` puts everyone in one organisation, the first row of a freshly migrated
# database (or schema): its directory stream (app.realtime.publish.directory_stream).
DEMO_DIRECTORY = "directory:1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def stop_process(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Redis ------------------------------------------------------------------------------------------
@dataclass
class RedisServer:
    """A Redis of the tier's own, started as .ci/run starts the shared one (no persistence)
    but in the foreground and on a free port, so restarting it disturbs nobody else."""

    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, self.process, "redis-server")
        return self

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class LiveServer:
    workdir: Path
    async_mode: str = "gevent"
    database_url: str | None = None
    redis_url: str | None = None
    extra_env: dict = field(default_factory=dict)
    port: int = 0
    # False for a second instance on a database another LiveServer already prepared:
    # keep database_url as given (that server's env()["DATABASE_URL"]), skip migrate and seed.
    prepare: bool = True
    process: subprocess.Popen | None = None
    # The PostgreSQL schema this server made for itself; dropped when it stops.
    schema: str | None = None
    # The media worker beside it (False: none, so the self-test finds it down).
    media_worker: bool = True
    worker_port: int = 0
    worker: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            ANTEROOM_ENV="test",
            SECRET_KEY="realserver-secret",
            ANTEROOM_INSTANCE_PATH=str(self.workdir / "instance"),
            DATABASE_URL=self.database_url or f"sqlite:///{self.workdir / 'server.db'}",
            SOCKETIO_ASYNC_MODE=self.async_mode,
            PORT=str(self.port),
            MEDIA_WORKER_URL=f"http://127.0.0.1:{self.worker_port or free_port()}",
            FLASK_APP="wsgi",
            PYTHONUNBUFFERED="1",
            # The suite signs in and asks for sessions far faster than people do, all from
            # 127.0.0.1; tests of these limits start a server with the limit they exercise.
            SIGN_IN_ADDRESS_LIMIT="10000/minute",
            REQUEST_CREATION_LIMIT="10000/minute",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(coverage_env(self.async_mode))
        env.update(self.extra_env)
        return env

    def flask(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def migrate_and_seed(self) -> None:
        """What `make run` does before it serves: `flask db upgrade`, then `flask demo`."""
        self.flask("db", "upgrade")
        self.flask("demo")

    def start(self) -> LiveServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.worker_port = self.worker_port or free_port()
        if self.prepare:
            if self.database_url is None:
                shutil.copyfile(seeded_sqlite(), self.workdir / "server.db")
            else:
                if self.database_url.startswith("postgres"):
                    self.schema = f"live_{self.port}"
                    self.database_url = isolated_schema_url(self.database_url, self.schema)
                self.migrate_and_seed()
        if self.media_worker:
            self.worker_log = open(self.workdir / "worker.log", "w")  # noqa: SIM115
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "media.worker"],
                cwd=ROOT,
                env=self.env(),
                stdout=self.worker_log,
                stderr=subprocess.STDOUT,
            )
        self.log = open(self.workdir / "server.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "wsgi.py"],
            cwd=ROOT,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.read_log()}")
            try:
                if requests.get(self.url + "/auth/login", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start: {self.read_log()}")
        if self.worker is not None:
            self._wait_for_worker(deadline)
        return self

    def _wait_for_worker(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"media worker exited: {self.read_log('worker.log')}")
            try:
                requests.get(f"http://127.0.0.1:{self.worker_port}/health", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"media worker did not start: {self.read_log('worker.log')}")

    def read_log(self, name: str = "server.log") -> str:
        return (self.workdir / name).read_text()

    def stop(self) -> None:
        for process in (self.process, self.worker):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for log in ("log", "worker_log"):
            if getattr(self, log, None):
                getattr(self, log).close()
        if self.schema:
            drop_schema(self.database_url, self.schema)
            self.schema = None

    # API helpers ---------------------------------------------------------------
    def token(self, who: str, password: str = DEMO_PASSWORD) -> str:
        email = DEMO.get(who, who)
        r = requests.post(self.url + "/api/v1/tokens", json={"email": email, "password": password})
        r.raise_for_status()
        return r.json()["token"]

    def api(self, method: str, path: str, token: str, json=None) -> requests.Response:
        return requests.request(
            method,
            self.url + "/api/v1" + path,
            json=json,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    def provider_id(self, token: str, name_prefix: str) -> int:
        providers = self.api("GET", "/providers", token).json()
        return next(p["id"] for p in providers if p["name"].startswith(name_prefix))


_seeded: Path | None = None


def seeded_sqlite() -> Path:
    """A SQLite database migrated and seeded through the CLI (migrate_and_seed) once per
    test process, which each server on the embedded default starts from a copy of: the
    file each would have made itself, without two CLI processes per start."""
    global _seeded
    if _seeded is None or not _seeded.exists():
        folder = Path(tempfile.mkdtemp(prefix="anteroom-seeded-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "demo.db"
        LiveServer(workdir=folder, database_url=f"sqlite:///{path}").migrate_and_seed()
        assert not path.with_name(path.name + "-wal").exists()  # all of it is in the file
        _seeded = path
    return _seeded


def coverage_env(async_mode: str) -> dict:
    """Under `make test COVERAGE=1`, coverage starts in each subprocess with the pytest
    process's configuration (COVERAGE_PROCESS_CONFIG, base64 JSON). That measures threads
    only ([tool.coverage.run] concurrency); a server under gevent or eventlet switches
    greenlets too, so its copy adds the mode, or coverage would mix up their call stacks."""
    inherited = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if not inherited or async_mode == "threading":
        return {}
    config = json.loads(base64.b64decode(inherited))
    config["concurrency"] = [*config.get("concurrency", ["thread"]), async_mode]
    return {"COVERAGE_PROCESS_CONFIG": base64.b64encode(json.dumps(config).encode()).decode()}


def isolated_schema_url(url: str, schema: str) -> str:
    """A fresh PostgreSQL schema for one server, so tiers sharing the `test` database never
    see each other's rows; the URL points the server's connections at it.

    The schema's comment names its owner (this host and process). LiveServer.stop() drops
    it; a run killed before it could stop leaves it behind, to be swept away here.
    """
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:  # one transaction: never seen without its owner
        conn.execute("SET LOCAL lock_timeout = '10s'")  # an error rather than a hang
        drop_stale_schemas(conn)
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{_owner()}'")
    separator = "&" if "?" in plain else "?"
    return f"{plain}{separator}options=-csearch_path%3D{schema}"


def _owner() -> str:
    """A live schema's comment: the host and process that made it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_stale_schemas(conn) -> None:
    """Drop the live_* schemas of test processes on this host that are gone (a crash, a
    kill), and unowned ones. Other hosts' schemas are left to them."""
    rows = conn.execute(
        "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace"
        " WHERE nspname LIKE %s",
        ("live\\_%",),
    ).fetchall()
    host = socket.gethostname()
    for schema, owner in rows:
        owner_host, _, pid = (owner or "").rpartition(":")
        if owner is None or (owner_host == host and not _running(pid)):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _running(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True  # someone else's process, or not a pid we wrote: leave it be
    return True


def server_database_url() -> str | None:
    """PostgreSQL for the server when the suite runs against it; otherwise its own SQLite."""
    return os.environ.get("TEST_DATABASE_URL")
