"""What the multi tier runs besides the web instances: nginx with deploy/nginx.conf, a Redis
of its own, a TCP relay to PostgreSQL that can be cut, and a crowd of Socket.IO clients.

Everything listens on loopback, on free ports, in a temporary folder, and is a child of
the test process (never a daemon), so a failed run leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import socketio

from tests.server import ROOT, LiveServer, free_port, stop_process, wait_for_port

DEPLOY_NGINX = ROOT / "deploy" / "nginx.conf"
# Short versions in CI; `make bench` (or ANTEROOM_FAULT_SCALE=full) runs the sizes.
FULL = os.environ.get("ANTEROOM_FAULT_SCALE") == "full"
CLIENTS = 500 if FULL else 100
RACES = 10_000 if FULL else 200


# nginx ------------------------------------------------------------------------------------------
def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that the test's clients trust (and nobody else)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def render_site(conf: str, port: int, redirect_port: int, backends: list[int], cert, key) -> str:
    """deploy/nginx.conf with the test's ports, instances and certificate: nothing else
    changes, so the file the README shows is the file under test."""
    example = ["127.0.0.1:5000", "127.0.0.1:5002"]
    assert all(address in conf for address in example), "deploy/nginx.conf changed its backends"
    for address, backend in zip(example, backends, strict=True):
        conf = conf.replace(f"server {address} ", f"server 127.0.0.1:{backend} ")
    conf = re.sub(r"^\s*listen \[::\]:.*\n", "", conf, flags=re.M)  # loopback only
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{redirect_port};")
    conf = conf.replace("listen 443 ssl", f"listen 127.0.0.1:{port} ssl")
    conf = re.sub(r"ssl_certificate .*;", f"ssl_certificate {cert};", conf)
    conf = re.sub(r"ssl_certificate_key .*;", f"ssl_certificate_key {key};", conf)
    return conf


@dataclass
class Nginx:
    """Debian's nginx in the foreground, with its own prefix, pid file and logs."""

    folder: Path
    backends: list[int]
    port: int = 0
    process: subprocess.Popen | None = None
    cert: Path | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
        self.folder.mkdir(parents=True, exist_ok=True)
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / "temp" / temp).mkdir(parents=True, exist_ok=True)
        self.cert, key = self_signed_certificate(self.folder)
        self.port = free_port()
        site = render_site(
            DEPLOY_NGINX.read_text(), self.port, free_port(), self.backends, self.cert, key
        )
        (self.folder / "anteroom.conf").write_text(site)
        f = self.folder
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers may read the temp folder
        (f / "nginx.conf").write_text(
            f"""{user}worker_processes 1;
worker_rlimit_nofile 8192;
pid {f}/nginx.pid;
error_log {f}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format upstream '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {f}/access.log upstream;
    client_body_temp_path {f}/temp/body;
    proxy_temp_path {f}/temp/proxy;
    fastcgi_temp_path {f}/temp/fastcgi;
    uwsgi_temp_path {f}/temp/uwsgi;
    scgi_temp_path {f}/temp/scgi;
    include {f}/anteroom.conf;
}}
"""
        )
        self.log = open(f / "stderr.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "-p", str(f), "-c", str(f / "nginx.conf"), "-g", "daemon off;"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, self.process, "nginx")
        except RuntimeError as exc:
            logs = self.read("stderr.log") + self.read("error.log")
            raise RuntimeError(f"{exc}: {logs}") from exc
        return self

    def read(self, name: str) -> str:
        path = self.folder / name
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        if getattr(self, "log", None):
            self.log.close()

    def session(self) -> requests.Session:
        """An HTTP client that trusts this nginx's certificate."""
        http = requests.Session()
        http.trust_env = False  # REQUESTS_CA_BUNDLE would replace the certificate below
        http.verify = str(self.cert)
        return http

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


# A database connection that can be cut ---------------------------------------------------------
class TcpRelay:
    """127.0.0.1:port forwarded to PostgreSQL by tests/multi/relay.py. cut() kills the
    relay: every relayed connection drops and new ones are refused; restore() starts it
    again on the same port."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> TcpRelay:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.multi.relay", str(self.port), str(self.target_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "the database relay")
        return self

    @property
    def cut_off(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def cut(self) -> None:
        if not self.cut_off:
            self.process.kill()
            self.process.wait(timeout=10)

    def restore(self) -> None:
        if self.cut_off:
            self.start()

    def stop(self) -> None:
        self.cut()


# Instances -------------------------------------------------------------------------------------
def kill(server: LiveServer) -> None:
    """kill -9: no exit handler, no goodbye to its sockets."""
    server.process.kill()
    server.process.wait(timeout=10)


def restart(server: LiveServer) -> None:
    """Start a killed instance again on the same port and database (nginx knows it there)."""
    if server.process is not None and server.process.poll() is None:
        return
    server.log.close()
    server.prepare = False
    server.start()


# A crowd of dashboards -------------------------------------------------------------------------
@dataclass
class Screen:
    """One versioned stream as live.js keeps it: the snapshot, then each event in version
    order; a gap asks for a fresh snapshot (resync), an older event or snapshot is ignored."""

    stream: str
    version: int = -1
    state: dict = field(default_factory=dict)
    gaps: int = 0

    def snapshot(self, message: dict) -> None:
        if message["version"] < self.version:
            return
        self.version = message["version"]
        data = message["data"]
        if self.stream.startswith("provider:"):
            self.state = {
                "available": data["available"],
                "pending": {r["id"] for r in data["requests"]},
            }
        else:
            self.state = {
                "requests": {r["id"]: r["state"] for r in data["requests"]},
                "sessions": {v["id"] for v in data["sessions"]},
            }

    def event(self, name: str, data: dict) -> bool:
        """Apply it; False when a version is missing (the caller resyncs)."""
        version = data.get("version", 0)
        if version <= self.version:
            return True
        if version != self.version + 1 or self.version < 0:
            self.gaps += 1
            return False
        self.version = version
        if self.stream.startswith("provider:"):
            if name == "availability_changed":
                self.state["available"] = data["available"]
            elif name in ("request_created", "request_updated"):
                if data["state"] == "pending":
                    self.state["pending"].add(data["id"])
                else:
                    self.state["pending"].discard(data["id"])
        elif name == "request_updated":
            requests_ = self.state["requests"]
            if data["state"] == "pending" or (
                data["state"] in ("declined", "expired") and not data.get("dismissed")
            ):
                requests_[data["id"]] = data["state"]
            else:
                requests_.pop(data["id"], None)
            if data["state"] == "accepted" and data.get("visit_id"):
                self.state["sessions"].add(data["visit_id"])
        return True


class PatientClient(socketio.AsyncClient):
    """python-socketio's reconnection gives each attempt 1 s to be connected, then drops it
    and tries again later; socket.io-client in the browsers waits 20 s. With hundreds of
    dashboards arriving at one instance at once, 1 s only makes them queue again."""

    async def connect(self, *args, wait_timeout: float = 20, **kwargs):
        return await super().connect(*args, wait_timeout=wait_timeout, **kwargs)


class Dashboard:
    """One person's Socket.IO connection through nginx (WebSocket, reconnecting by itself
    as socket.io-client does), keeping their dashboard stream like the page does."""

    def __init__(self, url: str, token: str, stream: str, ssl_context: ssl.SSLContext):
        self.url, self.token = url, token
        self.screen = Screen(stream)
        self.connects = 0
        self.disconnected_at: float | None = None
        self.reconnected_at: float | None = None
        self.sio = PatientClient(
            reconnection=True,
            reconnection_delay=0.5,
            reconnection_delay_max=2,
            websocket_extra_options={"ssl": ssl_context},
        )
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)
        self.sio.on("connect_error", self._refused)
        self.refusals: list = []
        self.sio.on("snapshot", self._snapshot)
        self.sio.on("stale", self._stale)
        self.stales = 0
        for name in ("request_created", "request_updated", "availability_changed"):
            self.sio.on(name, self._handler(name))

    async def connect(self, attempts: int = 3) -> None:
        """Connect, trying again as a page does if the handshake fails (a crowd arriving
        at once on a loaded machine)."""
        for attempt in range(attempts):
            try:
                await self.sio.connect(
                    self.url, auth={"token": self.token}, transports=["websocket"]
                )
                return
            except socketio.exceptions.ConnectionError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1)

    async def _connected(self) -> None:
        self.connects += 1
        if self.connects > 1:
            self.reconnected_at = time.monotonic()

    async def _disconnected(self, reason=None) -> None:
        self.disconnected_at = time.monotonic()

    async def _refused(self, data=None) -> None:
        self.refusals.append((time.monotonic(), data))

    async def _snapshot(self, message: dict) -> None:
        if message.get("stream") == self.screen.stream:
            self.screen.snapshot(message)

    async def _stale(self, data=None) -> None:
        """The server may have lost events: ask again, as live.js does (without its delay)."""
        self.stales += 1
        await self.sio.emit("resync", {"stream": self.screen.stream})

    def _handler(self, name: str):
        async def handle(data: dict) -> None:
            if data.get("stream") != self.screen.stream:
                return
            if not self.screen.event(name, data):
                await self.sio.emit("resync", {"stream": self.screen.stream})

        return handle

    async def close(self) -> None:
        await self.sio.shutdown()  # disconnects, and stops any reconnection in progress
        if self.sio.eio.http is not None and not self.sio.eio.http.closed:
            await self.sio.eio.http.close()


async def gather_in_batches(coroutines, size: int = 50) -> list:
    """Run them `size` at a time (500 handshakes at once would only queue in the kernel)."""
    results = []
    coroutines = list(coroutines)
    for start in range(0, len(coroutines), size):
        results += await asyncio.gather(*coroutines[start : start + size])
    return results
