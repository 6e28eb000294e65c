"""Two web instances on one database, joined by Redis as their Socket.IO message queue.

A station and a provider connected to different instances must not notice: every emit
(to a stream, to a call room, to one connection) reaches them through Redis. What one
instance decides about a person (signed out, too many wrong passwords) holds on the other.
"""

from __future__ import annotations

import os
import uuid

import pytest
import requests

from tests.realserver.live import (
    PASSWORD,
    WAIT,
    Accounts,
    LiveClient,
    ask,
    cookie_headers,
    demo_account,
    set_available,
    sign_in,
    sign_out,
    start_server,
)
from tests.server import DEMO, DEMO_DIRECTORY, DEMO_PASSWORD, LiveServer

pytestmark = [
    pytest.mark.realserver,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="REDIS_URL is not set: two web instances need Redis as their message queue",
    ),
]


SWEEP_SECONDS = 2  # AUTHORITY_CHECK_SECONDS (the default)
FAILURES_PER_MINUTE = 3  # SIGN_IN_FAILURE_LIMIT


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """Instance A migrates and seeds the database; B serves the same one, both on a
    Socket.IO channel of their own (so no other test run's messages reach them)."""
    env = {
        "SOCKETIO_CHANNEL": f"anteroom-redis-{os.getpid()}",
        "SIGN_IN_FAILURE_LIMIT": f"{FAILURES_PER_MINUTE}/minute",
    }
    a = start_server(tmp_path_factory.mktemp("instance-a"), extra_env=env)
    b = LiveServer(
        workdir=tmp_path_factory.mktemp("instance-b"),
        database_url=a.env()["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        prepare=False,
        extra_env=env,
    )
    try:
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()


def test_request_through_one_instance_alerts_a_provider_on_the_other(instances, connect):
    a, b = instances
    provider = demo_account(a, "okafor")
    requester = demo_account(b, "station")
    on_a = connect(provider, a)
    on_b = connect(requester, b)
    set_available(a, provider, True)
    on_b.wait_for("availability_changed", provider_id=provider.id, available=True)

    request = ask(b, requester, provider)

    alert = on_a.wait_for("request_created", id=request["id"])
    assert alert["requester"]["name"] == "Riverside Station"
    assert alert["service"]["name"] == provider.services[0]["name"]
    accepted = a.api("POST", f"/requests/{request['id']}/accept", provider.token)
    assert accepted.status_code == 200, accepted.text
    visit_id = on_b.wait_for("request_updated", id=request["id"], state="accepted")["visit_id"]

    # The call room spans the instances too: peer_joined, and a signal to one connection.
    assert on_a.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    assert on_b.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    on_a.wait_for("peer_joined", sid=on_b.sid)
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    relay = {"visit_id": visit_id, "to": on_b.sid, "data": offer}
    assert on_a.call("signal", relay) == {"ok": True}
    assert on_b.wait_for("signal", data=offer)["from"] == on_a.sid


def test_both_instances_number_a_stream_the_same_way(instances, connect):
    a, b = instances
    provider = demo_account(a, "lindqvist")
    requester = demo_account(b, "station")
    stream = f"provider:{provider.id}"
    on_a, on_b = connect(provider, a), connect(provider, b)
    start = on_a.snapshot(stream)["version"]
    assert on_b.snapshot(stream)["version"] == start

    set_available(b, provider, True)
    request = ask(a, requester, provider)

    for screen in (on_a, on_b):
        history = screen.history(stream, since=start, until=start + 2)
        assert [event for event, _ in history] == ["availability_changed", "request_created"]
        assert history[1][1]["id"] == request["id"]


@pytest.fixture(scope="module")
def other_clinic(tmp_path_factory):
    """Another deployment on the same Redis: its own database and SOCKETIO_CHANNEL."""
    other = start_server(
        tmp_path_factory.mktemp("other-clinic"),
        extra_env={
            "SOCKETIO_CHANNEL": f"other-clinic-{os.getpid()}",
            "SIGN_IN_FAILURE_LIMIT": f"{FAILURES_PER_MINUTE}/minute",
        },
    )
    yield other
    other.stop()


def test_deployments_sharing_one_redis_never_hear_each_other(instances, other_clinic, connect):
    """Another clinic on the same Redis (its own database and SOCKETIO_CHANNEL) must not
    receive this clinic's events, though its provider ids and room names are the same."""
    a, _ = instances
    other = other_clinic
    here = demo_account(a, "lindqvist")
    there = demo_account(other, "lindqvist")
    assert here.id == there.id  # same room name, provider:<id>, on both deployments
    requester = Accounts(a).requester()  # fresh: no earlier request to this provider
    on_other = connect(there, other)
    stream = f"provider:{there.id}"
    start = on_other.snapshot(stream)["version"]

    set_available(a, here, True)
    ask(a, requester, here)
    set_available(other, there, True)  # a sentinel on the other deployment's own stream

    history = on_other.history(stream, since=start, until=start + 1)
    assert [event for event, _ in history] == ["availability_changed"]
    assert on_other.events("request_created") == []


def test_signing_out_on_one_instance_closes_the_browsers_socket_on_the_other(instances):
    a, b = instances
    browser = sign_in(a, DEMO["scheduler"], DEMO_PASSWORD)
    page = LiveClient(b.url, None, headers=cookie_headers(browser))
    try:
        page.connect().snapshot(DEMO_DIRECTORY)

        sign_out(a, browser)

        # B's sweep closes it (A can only close its own sockets); the page heard why first,
        # through the queue (the sweep's own notice may follow it).
        page.wait_disconnected(timeout=SWEEP_SECONDS + 5)
        assert page.events("signed_out")[0] == {"reason": "signed_out"}
    finally:
        page.disconnect()


def ask_token(server: LiveServer, email: str, password: str) -> requests.Response:
    body = {"email": email, "password": password}
    return requests.post(server.url + "/api/v1/tokens", json=body, timeout=WAIT)


def fail_sign_in(server: LiveServer, email: str) -> None:
    """Enough wrong passwords for this account from this address to lock it."""
    for _ in range(FAILURES_PER_MINUTE):
        wrong = ask_token(server, email, "not-the-password")
        assert wrong.status_code == 401, wrong.text


def fresh_email() -> str:
    # Sign-in counts outlive a test run by a minute: a new account never meets old ones.
    return f"lock-{uuid.uuid4().hex[:12]}@example.org"


def test_wrong_passwords_on_one_instance_lock_the_account_on_the_other(instances):
    a, b = instances
    email = fresh_email()
    a.flask(
        "users", "create", "--email", email, "--name", "Harbour Desk", "--role", "requester",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    fail_sign_in(a, email)

    locked = ask_token(b, email, PASSWORD)  # even the right password waits

    assert locked.status_code == 429, locked.text
    assert locked.json()["error"]["code"] == "too_many_requests"
    assert int(locked.headers["Retry-After"]) > 0
    assert ask_token(b, DEMO["scheduler"], DEMO_PASSWORD).status_code == 201  # nobody else


def test_wrong_passwords_at_another_clinic_on_the_same_redis_lock_nothing_here(
    instances, other_clinic
):
    a, _ = instances
    email = fresh_email()  # the same address at both clinics, an account at neither
    fail_sign_in(other_clinic, email)

    here = ask_token(a, email, "not-the-password")

    assert here.status_code == 401, here.text  # a wrong password here, not a lock
