"""Kiosk stations against the real server: a station enrolled over HTTP holds a socket,
and revoking it with the CLI (another process, the embedded default: SQLite, no Redis)
closes that socket within 10 seconds, through the server's own sweep."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.realserver.live import WAIT, LiveClient, disconnect_all
from tests.server import DEMO_DIRECTORY, LiveServer

pytestmark = pytest.mark.realserver

CLOSED_WITHIN = 10.0  # seconds, as the issue asks (the sweep runs every 2)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[LiveServer]:
    """The embedded default whatever the suite runs on: SQLite, no message queue."""
    server = LiveServer(workdir=tmp_path_factory.mktemp("stations")).start()
    yield server
    server.stop()


def create_station(server: LiveServer, name: str) -> str:
    """`flask stations create`; its enrollment code is the last line it prints."""
    result = server.flask("stations", "create", "--name", name, "--site", "Elm House")
    return result.stdout.strip().splitlines()[-1]


def enroll(server: LiveServer, code: str) -> str:
    response = requests.post(
        server.url + "/api/v1/stations/enroll", json={"code": code}, timeout=WAIT
    )
    assert response.status_code == 201, response.text
    return response.json()["station_token"]


def test_revoking_from_the_cli_closes_the_stations_socket_within_10_seconds(embedded):
    token = enroll(embedded, create_station(embedded, "Cart 1"))
    other_token = enroll(embedded, create_station(embedded, "Cart 2"))
    screens = [LiveClient(embedded.url, token), LiveClient(embedded.url, other_token)]
    try:
        revoked, other = (screen.connect() for screen in screens)
        revoked.snapshot(DEMO_DIRECTORY)

        started = time.monotonic()
        embedded.flask("stations", "revoke", "--name", "Cart 1")
        closed_at = revoked.wait_disconnected(timeout=CLOSED_WITHIN)

        assert closed_at - started <= CLOSED_WITHIN
        assert revoked.events("signed_out")  # told first, so its page goes to /kiosk
        assert other.sio.connected
        assert other.call("resync", {"stream": DEMO_DIRECTORY}) == {"ok": True}
        refused = requests.get(
            embedded.url + "/api/v1/providers",
            headers={"Authorization": f"Bearer {token}"},
            timeout=WAIT,
        )
        assert refused.status_code == 401
    finally:
        disconnect_all(screens)


def test_a_second_use_of_the_code_is_refused(embedded):
    code = create_station(embedded, "Cart 3")
    enroll(embedded, code)

    again = requests.post(
        embedded.url + "/api/v1/stations/enroll", json={"code": code}, timeout=WAIT
    )

    assert again.status_code == 422
    assert again.json()["error"]["fields"] == {"code": "Wrong, used or expired."}
