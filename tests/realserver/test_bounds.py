"""What one client can hold or break: request bodies, stalled and vanished uploads, junk
Socket.IO frames, and a chatty socket.

A server of its own with small bounds: a 2-second read timeout, 64 KB bodies, 10 socket
events a minute per connection. Requests that python's HTTP clients would never send are
written on raw sockets; Socket.IO frames that python-socketio would never send are written
on a raw WebSocket (websocket-client), frame by frame.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import websocket

from tests.realserver.live import WAIT, LiveClient, start_server
from tests.server import DEMO, DEMO_DIRECTORY, DEMO_PASSWORD, LiveServer

pytestmark = pytest.mark.realserver

READ_TIMEOUT = 2  # REQUEST_READ_TIMEOUT_SECONDS
MAX_BODY = 64 * 1024  # MAX_BODY_BYTES
EVENTS_PER_MINUTE = 10  # SOCKET_EVENT_LIMIT
DEEP = 5000  # levels of JSON nesting, far past the parser's recursion limit


@pytest.fixture(scope="module")
def bounded(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("bounded"),
        extra_env={
            "REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
            "MAX_BODY_BYTES": str(MAX_BODY),
            "SOCKET_EVENT_LIMIT": f"{EVENTS_PER_MINUTE}/minute",
            "SOCKETIO_CHANNEL": f"anteroom-bounded-{os.getpid()}",
        },
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token(bounded) -> str:
    return bounded.token("station")


# Raw HTTP -----------------------------------------------------------------------------------------
def start_request(
    server: LiveServer,
    path: str,
    length: int,
    body: bytes = b"",
    method: str = "POST",
    token: str | None = None,
) -> socket.socket:
    """A request whose headers declare `length` bytes, of which only `body` is sent (so far)."""
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    conn.sendall(head.encode() + b"\r\n" + body)
    return conn


def read_response(conn: socket.socket, timeout: float) -> tuple[int, dict]:
    """The status and JSON body of the answer on `conn`."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return int(lines[0].split()[1]), json.loads(body)


class Log:
    """What the server logs from now on."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.start = len(server.read_log())

    def since(self) -> str:
        return self.server.read_log()[self.start :]

    def settled(self, quiet: float = 0.5) -> str:
        """Everything logged since, once nothing new has come for `quiet` seconds (a second
        line about the same event follows the first at once)."""
        deadline = time.monotonic() + WAIT
        seen = self.since()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.since()
            if now == seen:
                break
            seen = now
        return seen

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while text not in self.since():
            assert time.monotonic() < deadline, f"no log line about {text!r}: {self.since()!r}"
            time.sleep(0.05)
        return self.settled()


def cut_off(conn: socket.socket, began: float, timeout: float) -> tuple[float, bytes]:
    """Seconds from `began` until the server closed `conn`, and what it sent before."""
    conn.settimeout(timeout)
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return time.monotonic() - began, received


def test_a_stalled_upload_gets_408_after_the_read_timeout_while_others_are_served(bounded):
    log = Log(bounded)
    stalled = start_request(bounded, "/api/v1/tokens", length=100, body=b'{"email": "sta')
    began = time.monotonic()
    try:
        other = requests.get(bounded.url + "/auth/login", timeout=WAIT)
        served_after = time.monotonic() - began
        status, body = read_response(stalled, timeout=READ_TIMEOUT + 3)
        answered_after = time.monotonic() - began
    finally:
        stalled.close()
        logged = log.settled()

    assert other.status_code == 200
    assert served_after < READ_TIMEOUT  # before the stalled one was even given up on
    assert (status, body["error"]["code"]) == (408, "timeout")
    assert READ_TIMEOUT - 0.5 <= answered_after <= READ_TIMEOUT + 3
    [line] = logged.splitlines()
    assert "stalled" in line and "POST /api/v1/tokens" in line


def test_a_client_that_stalls_in_its_headers_gets_408_and_leaves_one_log_line(bounded):
    log = Log(bounded)
    conn = socket.create_connection(("127.0.0.1", bounded.port), timeout=WAIT)
    try:
        conn.sendall(b"GET /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        after, answer = cut_off(conn, time.monotonic(), timeout=READ_TIMEOUT + 3)
    finally:
        conn.close()

    assert READ_TIMEOUT - 0.5 <= after <= READ_TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert len(log.settled().splitlines()) == 1  # a line, not a traceback


def test_an_idle_keep_alive_connection_is_closed_after_the_read_timeout(bounded):
    conn = socket.create_connection(("127.0.0.1", bounded.port), timeout=WAIT)
    try:
        conn.sendall(b"GET /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        began = time.monotonic()
        conn.settimeout(WAIT)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")  # kept alive after the answer
        try:
            idle_for, _ = cut_off(conn, began, timeout=READ_TIMEOUT + 3)
        except TimeoutError:
            idle_for = None
    finally:
        conn.close()

    assert idle_for is not None, "the idle connection was still open"
    assert READ_TIMEOUT - 0.5 <= idle_for <= READ_TIMEOUT + 3


def test_a_client_that_goes_away_mid_upload_leaves_one_log_line(bounded):
    log = Log(bounded)
    gone = start_request(bounded, "/api/v1/tokens", length=1000, body=b'{"email": "sta')

    gone.close()

    [line] = log.wait_for("went away").splitlines()
    assert "POST /api/v1/tokens" in line


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/current")],
    ids=["a view that reads the body", "a view that never reads it"],
)
def test_a_declared_length_over_the_limit_gets_413_before_any_body_is_sent(bounded, method, path):
    token = bounded.token("station")  # its own: the DELETE would revoke it if it went through
    conn = start_request(bounded, path, length=10 * MAX_BODY, method=method, token=token)
    began = time.monotonic()
    try:
        status, body = read_response(conn, timeout=WAIT)
    finally:
        conn.close()

    assert (status, body["error"]["code"]) == (413, "too_large")
    assert time.monotonic() - began < READ_TIMEOUT  # not a wait for the body that never came
    assert bounded.api("GET", "/tokens", token).status_code == 200


def chunked(body: bytes) -> Iterator[bytes]:
    """A body sent in pieces with no declared length (requests sends it chunked)."""
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


def sign_in_body(padding: int) -> bytes:
    """A sign-in whose credentials come last: a body cut short is not valid JSON."""
    credentials = {"email": DEMO["station"], "password": DEMO_PASSWORD}
    return b" " * padding + json.dumps(credentials).encode()


def test_a_chunked_body_over_the_limit_gets_413(bounded):
    r = requests.post(
        bounded.url + "/api/v1/tokens",
        data=chunked(sign_in_body(2 * MAX_BODY)),
        headers={"Content-Type": "application/json"},
        timeout=WAIT,
    )

    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_a_chunked_body_under_the_limit_is_accepted_whole(bounded):
    body = sign_in_body(MAX_BODY - 1024)
    r = requests.post(
        bounded.url + "/api/v1/tokens",
        data=chunked(body),
        headers={"Content-Type": "application/json"},
        timeout=WAIT,
    )

    assert r.status_code == 201, r.text
    assert r.json()["token"]


# Raw Socket.IO frames -----------------------------------------------------------------------------
class RawSocket:
    """One Engine.IO v4 WebSocket, spoken to frame by frame."""

    def __init__(self, server: LiveServer):
        url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, timeout=WAIT)
        opened = self.ws.recv()
        assert opened.startswith("0{") and "sid" in json.loads(opened[1:]), opened

    def send(self, frame: str) -> None:
        self.ws.send(frame)

    def receive(self, prefix: str) -> str:
        """The next frame starting with `prefix`; pings are answered, others skipped."""
        deadline = time.monotonic() + WAIT
        while True:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no frame starting {prefix!r} within {WAIT}s") from None
            if frame == "2":
                self.ws.send("3")
            elif frame.startswith(prefix):
                return frame

    def connect(self, auth: str) -> object:
        """Send a CONNECT packet with this auth (JSON text); the server's answer: the
        connected sid's packet, or the refusal's data."""
        self.send("40" + auth)
        frame = self.receive("4")
        while not frame.startswith(("40", "44")):
            frame = self.receive("4")
        return json.loads(frame[2:])

    def ack(self, ack_id: int) -> object:
        """The acknowledgement of the event sent with `ack_id`."""
        return json.loads(self.receive(f"43{ack_id}[")[len(f"43{ack_id}") :])[0]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def raw(bounded) -> Iterator[Callable[[], RawSocket]]:
    """Factory: raw() → a new RawSocket, closed when the test ends."""
    made: list[RawSocket] = []

    def make() -> RawSocket:
        made.append(RawSocket(bounded))
        return made[-1]

    yield make
    for ws in made:
        ws.close()


NESTED = "[" * DEEP + "]" * DEEP


def test_junk_socket_frames_get_an_error_ack_and_the_connection_stays_usable(bounded, token, raw):
    log = Log(bounded)
    ws = raw()
    assert "sid" in ws.connect(json.dumps({"token": token}))

    ws.send('421["join_visit",7]')  # a payload that is not an object
    assert ws.ack(1)["error"]["code"] == "invalid"
    ws.send(f'422["resync",{NESTED}]')  # past the JSON parser's recursion limit
    assert ws.ack(2)["error"]["code"] == "invalid"
    ws.send("42garbage")  # not JSON, and nobody waits for an answer
    ws.send("423garbage")  # not JSON, with an ack id
    assert ws.ack(3)["error"]["code"] == "invalid"
    ws.send('424["nope",{}]')  # no such event
    assert ws.ack(4)["error"]["code"] == "not_found"

    ws.send(f'425["resync",{{"stream":"{DEMO_DIRECTORY}"}}]')
    assert ws.ack(5) == {"ok": True}
    assert "Traceback" not in log.settled()


@pytest.mark.parametrize(
    "auth",
    ['"a string"', '["a", "list"]', f'{{"token": {NESTED}}}', '{"token": 123}'],
    ids=["string", "list", "nested 5000 deep", "token not text"],
)
def test_a_connect_frame_with_unreadable_auth_is_refused_as_unauthorized(bounded, raw, auth):
    log = Log(bounded)
    ws = raw()

    assert ws.connect(auth) == {"message": "unauthorized"}

    assert "Traceback" not in log.settled()


def test_a_connection_past_its_event_limit_is_refused_while_another_is_answered(bounded, token):
    chatty, quiet = LiveClient(bounded.url, token), LiveClient(bounded.url, token)
    try:
        chatty.connect()
        quiet.connect()
        for _ in range(EVENTS_PER_MINUTE):
            assert chatty.call("resync", {"stream": DEMO_DIRECTORY}) == {"ok": True}

        refused = chatty.call("resync", {"stream": DEMO_DIRECTORY})

        assert refused["error"]["code"] == "too_many_requests"
        assert refused["error"]["retry_after"] > 0
        assert quiet.call("resync", {"stream": DEMO_DIRECTORY}) == {"ok": True}
        assert chatty.sio.connected
    finally:
        chatty.disconnect()
        quiet.disconnect()
