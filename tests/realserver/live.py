"""A python-socketio client that keeps every event it receives, and fresh accounts to use it.

python-socketio's sync client hands each incoming message to its own thread, so the order
events are recorded in is not the order they came over the wire. Tests therefore reason
with what the server promises instead: every versioned stream numbers its events 1, 2, 3…,
so "everything up to version n arrived, and none of it was X" is a complete statement.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import requests
import socketio

from app.cli import DEMO_USERS
from tests.server import DEMO, ROOT, LiveServer, server_database_url

WAIT = 10.0  # seconds: generous for a loaded CI machine; a passing wait returns at once
PASSWORD = "realserver-password"


@dataclass
class Received:
    event: str
    data: dict
    at: float  # time.perf_counter() when the handler ran


@dataclass
class LiveClient:
    """One Socket.IO connection (websocket transport only), recording everything it hears."""

    url: str
    token: str | None
    received: list[Received] = field(default_factory=list)
    refusal: object = None
    # Sent with the handshake: a browser's Cookie (and User-Agent), see cookie_headers().
    headers: dict = field(default_factory=dict)
    disconnected_at: float | None = None  # time.monotonic() when the connection closed
    sio: socketio.Client = field(init=False)

    def __post_init__(self):
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._closed)

    # Connection ----------------------------------------------------------------------------
    def connect(self) -> LiveClient:
        auth = {"token": self.token} if self.token is not None else None
        self.sio.connect(
            self.url,
            headers=self.headers,
            auth=auth,
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        return self

    def disconnect(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    @property
    def sid(self) -> str:
        return self.sio.get_sid()

    def call(self, event: str, data: dict) -> dict:
        """Emit and return the server's acknowledgement."""
        return self.sio.call(event, data, timeout=WAIT)

    def _record(self, event: str, data=None) -> None:
        with self._changed:
            self.received.append(Received(event, data, time.perf_counter()))
            self._changed.notify_all()

    def _refused(self, data=None) -> None:
        with self._changed:
            self.refusal = data
            self._changed.notify_all()

    def _closed(self, reason=None) -> None:
        with self._changed:
            self.disconnected_at = time.monotonic()
            self._changed.notify_all()

    # Waiting ---------------------------------------------------------------------------------
    def _wait_until(self, found, timeout: float, describe: str):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = found()
                if result is not None:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(r.event, r.data) for r in self.received]
                    raise AssertionError(f"no {describe} within {timeout}s; received: {seen}")
                self._changed.wait(remaining)

    def events(self, event: str, **fields) -> list[dict]:
        """Every `event` received so far whose data has these top-level fields."""
        with self._changed:
            return [
                r.data
                for r in self.received
                if r.event == event and all(r.data.get(k) == v for k, v in fields.items())
            ]

    def wait_for(self, event: str, timeout: float = WAIT, where=None, **fields) -> dict:
        """The first `event` whose data has these fields (and satisfies `where`)."""

        def found():
            for data in self.events(event, **fields):
                if where is None or where(data):
                    return data
            return None

        return self._wait_until(found, timeout, f"{event} {fields or ''}")

    def snapshot(self, stream: str, newer_than: int = -1) -> dict:
        """The latest snapshot of `stream`, waiting for one newer than `newer_than`."""

        def found():
            shots = [s for s in self.events("snapshot", stream=stream) if s["version"] > newer_than]
            return shots[-1] if shots else None

        return self._wait_until(found, WAIT, f"snapshot of {stream} after v{newer_than}")

    def history(self, stream: str, since: int, until: int) -> list[tuple[str, dict]]:
        """Every event on `stream` with since < version <= until, in version order.

        Waits until each of those versions has arrived; fails if one arrives twice.
        """
        wanted = range(since + 1, until + 1)

        def found():
            got = [
                (r.event, r.data)
                for r in self.received
                if r.event != "snapshot"
                and isinstance(r.data, dict)
                and r.data.get("stream") == stream
                and since < r.data.get("version", 0) <= until
            ]
            versions = sorted(d["version"] for _, d in got)
            assert len(versions) == len(set(versions)), f"{stream}: a version came twice: {got}"
            if versions == list(wanted):
                return sorted(got, key=lambda item: item[1]["version"])
            return None

        return self._wait_until(found, WAIT, f"{stream} versions {since + 1}..{until}")

    def wait_refused(self) -> object:
        return self._wait_until(lambda: self.refusal, WAIT, "connect_error")

    def wait_disconnected(self, timeout: float = WAIT) -> float:
        """When (time.monotonic()) the server closed this connection, waiting for it."""
        return self._wait_until(lambda: self.disconnected_at, timeout, "disconnect")


def disconnect_all(clients: list[LiveClient]) -> None:
    """Disconnect every client together: against the threading server each disconnect
    takes a few seconds."""
    closing = [threading.Thread(target=client.disconnect) for client in clients]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


# Accounts --------------------------------------------------------------------------------------
@dataclass
class Account:
    id: int  # 0 where unknown (demo accounts other than providers)
    email: str
    name: str
    role: str
    token: str
    services: list[dict]

    @property
    def service(self) -> dict | None:
        return self.services[0] if self.services else None


_SEED = """
import json, sys
from app import create_app
from app.services import tokens, users
app = create_app()
made = {}
with app.app_context():
    password, specs = json.load(sys.stdin)
    hashed = users.hash_password(password)
    users.hash_password = lambda _: hashed  # one argon2 run for the batch, not one each
    for email, name, role, services in specs:
        user = users.create_user(email, name, role, password, services)
        token, _ = tokens.issue_token(user)
        services = [{"id": s.id, "name": s.name} for s in user.services]
        made[email] = {"id": user.id, "token": token, "services": services}
print(json.dumps(made))
"""


class Accounts:
    """Fresh accounts on one server, so each test has streams that nobody else writes to.

    `flask users create` costs a Python start-up and an argon2 hash each (about 1.5 s), so
    accounts are made a batch at a time by one process calling the services that the
    command and POST /api/v1/tokens call.
    """

    BATCH = 12  # of each role

    def __init__(self, server: LiveServer):
        self.server = server
        self._serial = itertools.count(1)
        self._ready: dict[str, list[Account]] = {"provider": [], "requester": []}
        self._lock = threading.Lock()

    def provider(self, available: bool = False) -> Account:
        account = self._take("provider")
        if available:
            set_available(self.server, account, True)
        return account

    def requester(self) -> Account:
        return self._take("requester")

    def _take(self, role: str) -> Account:
        with self._lock:
            if not self._ready[role]:
                self._seed()
            return self._ready[role].pop(0)

    def _seed(self) -> None:
        specs = []
        for _ in range(self.BATCH):
            n = next(self._serial)
            specs.append(
                [f"provider{n}@example.org", f"Dr. Provider {n}", "provider", ["Check-up"]]
            )
            specs.append([f"requester{n}@example.org", f"Station {n}", "requester", []])
        made = subprocess.run(
            [sys.executable, "-c", _SEED],
            cwd=ROOT,
            env=self.server.env(),
            input=json.dumps([PASSWORD, specs]),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        created = json.loads(made.stdout.strip().splitlines()[-1])
        for email, name, role, _services in specs:
            user = created[email]
            self._ready[role].append(
                Account(user["id"], email, name, role, user["token"], user["services"])
            )


def start_server(workdir, **options) -> LiveServer:
    """A started LiveServer on the suite's database (PostgreSQL when TEST_DATABASE_URL is
    set) and Redis (when REDIS_URL is set)."""
    server = LiveServer(
        workdir=workdir,
        database_url=options.pop("database_url", server_database_url()),
        redis_url=options.pop("redis_url", os.environ.get("REDIS_URL")),
        **options,
    )
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


# Browsers -----------------------------------------------------------------------------------------
def sign_in(server: LiveServer, email: str, password: str = PASSWORD) -> requests.Session:
    """A browser's cookie session, signed in through the real form."""
    http = requests.Session()
    page = http.get(server.url + "/auth/login", timeout=WAIT)
    response = http.post(
        server.url + "/auth/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
        timeout=WAIT,
    )
    assert response.ok and "/auth/login" not in response.url, response.status_code
    return http


def sign_out(server: LiveServer, http: requests.Session) -> None:
    """Press "Sign out" on a page, as the browser would (the form carries the CSRF token)."""
    page = http.get(server.url + "/", timeout=WAIT)
    response = http.post(
        server.url + "/auth/logout", data={"csrf_token": csrf_token(page.text)}, timeout=WAIT
    )
    assert response.ok and response.url.endswith("/auth/login"), response.status_code


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def cookie_headers(http: requests.Session) -> dict:
    """What this browser sends with a request (or a Socket.IO handshake): its cookies and
    its User-Agent. A copy outlives whatever later happens to the session."""
    cookies = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return {"Cookie": cookies, "User-Agent": http.headers["User-Agent"]}


# Steps every test needs ---------------------------------------------------------------------------
def set_available(server: LiveServer, provider: Account, available: bool) -> None:
    r = server.api("PUT", "/providers/me/availability", provider.token, {"available": available})
    assert r.status_code == 200, r.text


def ask(server: LiveServer, requester: Account, provider: Account) -> dict:
    """The requester asks the provider for a session now; returns the created request."""
    body = {"provider_id": provider.id}
    if len(provider.services) > 1:
        body["service_id"] = provider.services[0]["id"]
    r = server.api("POST", "/requests", requester.token, body)
    assert r.status_code == 201, r.text
    return r.json()


def accepted_visit(server: LiveServer, provider: Account, requester: Account) -> int:
    """An accepted request's visit id, with the provider left available."""
    set_available(server, provider, True)
    request = ask(server, requester, provider)
    r = server.api("POST", f"/requests/{request['id']}/accept", provider.token)
    assert r.status_code == 200, r.text
    return r.json()["visit_id"]


def demo_account(server: LiveServer, who: str) -> Account:
    """A `flask demo` account; its id is known for providers (from the directory) only."""
    email = DEMO[who]
    name, role = next((n, str(r)) for e, n, r, _ in DEMO_USERS if e == email)
    token = server.token(who)
    listed = next(
        (p for p in server.api("GET", "/providers", token).json() if p["name"] == name), {}
    )
    return Account(listed.get("id", 0), email, name, role, token, listed.get("services", []))
