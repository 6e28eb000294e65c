"""The real server in a subprocess, for the realserver and browser tiers and bench/.

`LiveServer.start()` migrates and seeds a fresh database through the real CLI
(`flask db upgrade`, `flask demo`), then runs `python wsgi.py` exactly as `make run` does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            FLASK_APP="wsgi",
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
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

    def start(self) -> LiveServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if self.prepare:
            if self.database_url and self.database_url.startswith("postgres"):
                self.database_url = isolated_schema_url(self.database_url, f"live_{self.port}")
            self.flask("db", "upgrade")
            self.flask("demo")
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
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.read_log()}")

    def read_log(self) -> str:
        return (self.workdir / "server.log").read_text()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if getattr(self, "log", None):
            self.log.close()

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


def isolated_schema_url(url: str, schema: str) -> str:
    """A fresh PostgreSQL schema for one server, so tiers sharing the `test` database never
    see each other's rows; the URL points the server's connections at it."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in plain else "?"
    return f"{plain}{separator}options=-csearch_path%3D{schema}"


def server_database_url() -> str | None:
    """PostgreSQL for the server when the suite runs against it; otherwise its own SQLite."""
    return os.environ.get("TEST_DATABASE_URL")
