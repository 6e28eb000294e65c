"""Two web instances on one database, joined by Redis as their Socket.IO message queue.

A station and a provider connected to different instances must not notice: every emit
(to a stream, to a call room, to one connection) reaches them through Redis.
"""

from __future__ import annotations

import os

import pytest

from tests.realserver.live import Accounts, ask, demo_account, set_available, start_server
from tests.server import LiveServer

pytestmark = [
    pytest.mark.realserver,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="REDIS_URL is not set: two web instances need Redis as their message queue",
    ),
]


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """Instance A migrates and seeds the database; B serves the same one."""
    a = start_server(tmp_path_factory.mktemp("instance-a"))
    b = LiveServer(
        workdir=tmp_path_factory.mktemp("instance-b"),
        database_url=a.env()["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        prepare=False,
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


def test_deployments_sharing_one_redis_never_hear_each_other(instances, connect, tmp_path_factory):
    """Another clinic on the same Redis (its own database and SOCKETIO_CHANNEL) must not
    receive this clinic's events, though its provider ids and room names are the same."""
    a, _ = instances
    other = start_server(
        tmp_path_factory.mktemp("other-clinic"), extra_env={"SOCKETIO_CHANNEL": "other-clinic"}
    )
    try:
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
    finally:
        other.stop()
