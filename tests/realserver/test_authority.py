"""No Socket.IO connection outlives the authority it was opened with (app.realtime.authority).

A browser's socket rides on its signed-in session, an integration's on its API token.
Signing out, revoking a token, deactivating an account, changing a role or leaving a
session idle ends that authority, and the sockets opened with it close: at once in the
process where it happened, and through the sweeper (every AUTHORITY_CHECK_SECONDS) when it
happened elsewhere, such as the CLI.

`immediate` is a server whose sweeper never runs during a test (AUTHORITY_CHECK_SECONDS is
an hour): whatever closes a socket there is the revocation itself, or the check on the
socket's next event. The session's `server` sweeps every 2 s, as deployed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import socketio

from tests.realserver.live import (
    PASSWORD,
    WAIT,
    Account,
    Accounts,
    LiveClient,
    ask,
    cookie_headers,
    disconnect_all,
    set_available,
    sign_in,
    sign_out,
    start_server,
)
from tests.server import DEMO, DEMO_DIRECTORY, DEMO_PASSWORD, LiveServer

pytestmark = pytest.mark.realserver

SWEEP_SECONDS = 2  # AUTHORITY_CHECK_SECONDS on the session's server (the default)
IDLE_SECONDS = 3  # IDLE_LOGOUT_MINUTES=0.05 on the idle server
# Time for a CLI command's change to close a socket: the sweep interval plus a loaded
# machine's slack.
SWEPT_WITHIN = SWEEP_SECONDS + 5


def _own_server(tmp_path_factory, name: str, **env: str) -> Iterator[LiveServer]:
    # Its own Socket.IO channel: on Redis, its rooms never meet another server's.
    env["SOCKETIO_CHANNEL"] = f"anteroom-{name}-{os.getpid()}"
    server = start_server(tmp_path_factory.mktemp(name), extra_env=env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def immediate(tmp_path_factory) -> Iterator[LiveServer]:
    """No sweeps during a test, and at most two sockets per user."""
    yield from _own_server(
        tmp_path_factory, "immediate", AUTHORITY_CHECK_SECONDS="3600", MAX_SOCKETS_PER_USER="2"
    )


@pytest.fixture(scope="module")
def immediate_accounts(immediate) -> Accounts:
    return Accounts(immediate)


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory) -> Iterator[LiveServer]:
    yield from _own_server(tmp_path_factory, "idle", IDLE_LOGOUT_MINUTES=str(IDLE_SECONDS / 60))


@pytest.fixture
def socket_for() -> Iterator[Callable[..., LiveClient]]:
    """Factory: socket_for(server, token or signed-in requests.Session or headers) → a
    LiveClient, not yet connected. Every one is disconnected when the test ends."""
    made: list[LiveClient] = []

    def make(server: LiveServer, credential) -> LiveClient:
        if isinstance(credential, requests.Session):
            client = LiveClient(server.url, None, headers=cookie_headers(credential))
        elif isinstance(credential, dict):
            client = LiveClient(server.url, None, headers=credential)
        else:
            client = LiveClient(server.url, credential)
        made.append(client)
        return client

    yield make
    disconnect_all(made)


def second_token(server: LiveServer, account: Account) -> tuple[str, int]:
    """Another API token for the account (a second integration), with its id."""
    r = requests.post(
        server.url + "/api/v1/tokens",
        json={"email": account.email, "password": PASSWORD},
        timeout=WAIT,
    )
    assert r.status_code == 201, r.text
    return r.json()["token"], r.json()["id"]


def assert_refused(client: LiveClient, message: str) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    assert client.wait_refused() == {"message": message}
    assert not client.sio.connected


def still_answers(client: LiveClient) -> bool:
    if not client.sio.connected:
        return False
    return client.call("resync", {"stream": DEMO_DIRECTORY}) == {"ok": True}


# Signing out and revoking, in the process where it happens ----------------------------------------
def test_signing_out_closes_the_browsers_socket_and_its_copied_cookie_stops_working(
    immediate, immediate_accounts, socket_for
):
    provider, requester = immediate_accounts.provider(), immediate_accounts.requester()
    browser = sign_in(immediate, provider.email)
    copied = cookie_headers(browser)
    page = socket_for(immediate, browser).connect()
    integration = socket_for(immediate, provider.token).connect()
    stream = f"provider:{provider.id}"
    page.snapshot(stream)
    integration.snapshot(stream)

    sign_out(immediate, browser)

    page.wait_disconnected(timeout=5)
    # Told why before being closed, so the page can go to sign-in (a closed socket alone
    # looks like a lost connection); the integration's socket is not told anything.
    assert page.events("signed_out") == [{"reason": "signed_out"}]
    assert integration.events("signed_out") == []
    assert integration.sio.connected
    set_available(immediate, provider, True)
    request = ask(immediate, requester, provider)
    integration.wait_for("request_created", id=request["id"])
    assert page.events("request_created") == []
    # The copy of the cookie taken before signing out opens neither a page nor a socket.
    again = requests.get(
        immediate.url + "/provider", headers=copied, allow_redirects=False, timeout=WAIT
    )
    assert again.status_code == 302
    assert again.headers["Location"].startswith("/auth/login")
    assert_refused(socket_for(immediate, copied), "unauthorized")


def test_revoking_a_token_closes_only_the_sockets_opened_with_it(
    immediate, immediate_accounts, socket_for
):
    requester = immediate_accounts.requester()
    other_token, other_id = second_token(immediate, requester)
    revoked = socket_for(immediate, other_token).connect()
    kept = socket_for(immediate, requester.token).connect()

    r = immediate.api("DELETE", f"/tokens/{other_id}", requester.token)

    assert r.status_code == 204, r.text
    revoked.wait_disconnected(timeout=5)
    assert still_answers(kept)
    assert immediate.api("GET", "/tokens", other_token).status_code == 401
    assert_refused(socket_for(immediate, other_token), "unauthorized")


def test_a_socket_whose_authority_ended_elsewhere_is_closed_by_its_next_event(
    immediate, immediate_accounts, socket_for
):
    """Between sweeps, the next event re-checks: the CLI deactivated the user, and this
    server (which has not swept) closes the socket instead of handling its message."""
    requester = immediate_accounts.requester()
    screen = socket_for(immediate, requester.token).connect()
    assert still_answers(screen)
    snapshots = len(screen.events("snapshot"))

    immediate.flask("users", "deactivate", "--email", requester.email)
    screen.sio.emit("resync", {"stream": DEMO_DIRECTORY})

    screen.wait_disconnected(timeout=5)
    assert len(screen.events("snapshot")) == snapshots  # the resync was not answered


# Changes made by another process: the sweeper ---------------------------------------------------
def test_deactivating_a_user_from_the_cli_closes_their_sockets_and_their_token_stops_working(
    server, accounts, socket_for
):
    provider = accounts.provider()
    integration = socket_for(server, provider.token).connect()
    page = socket_for(server, sign_in(server, provider.email)).connect()
    bystander = socket_for(server, accounts.provider().token).connect()

    server.flask("users", "deactivate", "--email", provider.email)

    integration.wait_disconnected(timeout=SWEPT_WITHIN)
    page.wait_disconnected(timeout=SWEPT_WITHIN)
    assert server.api("GET", "/tokens", provider.token).status_code == 401
    assert_refused(socket_for(server, provider.token), "unauthorized")
    assert still_answers(bystander)


def test_changing_a_role_from_the_cli_closes_the_users_sockets(server, accounts, socket_for):
    provider = accounts.provider()
    screen = socket_for(server, provider.token).connect()
    screen.snapshot(f"provider:{provider.id}")

    server.flask("users", "set-role", "--email", provider.email, "--role", "requester")

    screen.wait_disconnected(timeout=SWEPT_WITHIN)
    # Connecting again follows the new role: a station's streams, no longer the queue.
    again = socket_for(server, provider.token).connect()
    again.snapshot(f"requester:{provider.id}")
    assert again.events("snapshot", stream=f"provider:{provider.id}") == []


# The idle logout ---------------------------------------------------------------------------------
def test_an_idle_sessions_socket_closes_after_the_idle_time_while_a_kept_alive_one_stays(
    idle_server, socket_for
):
    signed_in_at = time.monotonic()
    idle = sign_in(idle_server, DEMO["okafor"], DEMO_PASSWORD)  # then nothing at all
    kept = sign_in(idle_server, DEMO["lindqvist"], DEMO_PASSWORD)
    dashboard = socket_for(idle_server, idle).connect()
    room = socket_for(idle_server, kept).connect()
    outlived = signed_in_at + IDLE_SECONDS + SWEEP_SECONDS + 1
    deadline = signed_in_at + IDLE_SECONDS + SWEEP_SECONDS + 5

    # A keepalive every second, as an open room page sends, until the idle dashboard's
    # socket is closed and the idle time (and a sweep after it) has passed.
    while time.monotonic() < outlived or dashboard.disconnected_at is None:
        assert time.monotonic() < deadline, "the idle session's socket was never closed"
        assert room.disconnected_at is None, "closed although it sent a keepalive every second"
        assert room.call("keepalive", {}) == {"ok": True}
        time.sleep(1)

    assert dashboard.disconnected_at - signed_in_at >= IDLE_SECONDS  # not before it was idle
    signed_out = idle.get(idle_server.url + "/provider", allow_redirects=False, timeout=WAIT)
    still_in = kept.get(idle_server.url + "/provider", allow_redirects=False, timeout=WAIT)
    assert (signed_out.status_code, still_in.status_code) == (302, 200)


# The per-user cap -------------------------------------------------------------------------------
def test_a_user_past_the_socket_cap_is_refused_until_one_of_theirs_closes(
    immediate, immediate_accounts, socket_for
):
    requester, someone_else = immediate_accounts.requester(), immediate_accounts.requester()
    first = socket_for(immediate, requester.token).connect()
    socket_for(immediate, requester.token).connect()

    assert_refused(socket_for(immediate, requester.token), "too_many_connections")
    assert still_answers(socket_for(immediate, someone_else.token).connect())

    first.disconnect()
    # The server forgets the closed socket as it handles the disconnect: moments later.
    deadline = time.monotonic() + WAIT
    while True:
        late = socket_for(immediate, requester.token)
        try:
            late.connect()
            break
        except socketio.exceptions.ConnectionError:
            assert late.refusal == {"message": "too_many_connections"}
            assert time.monotonic() < deadline, "a freed place was never given back"
            time.sleep(0.1)
    assert still_answers(late)
