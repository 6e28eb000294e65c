"""Versioned streams: every event is numbered, and a (re)connect always shows the truth."""

from __future__ import annotations

import pytest

from tests.realserver.live import ask, set_available

pytestmark = pytest.mark.realserver


def test_each_event_on_a_stream_advances_its_version_by_one(server, accounts, connect):
    provider = accounts.provider()
    first, second = accounts.requester(), accounts.requester()
    screen = connect(provider)
    stream = f"provider:{provider.id}"
    start = screen.snapshot(stream)["version"]

    set_available(server, provider, True)
    one = ask(server, first, provider)
    two = ask(server, second, provider)
    assert server.api("POST", f"/requests/{one['id']}/accept", provider.token).ok
    assert server.api("POST", f"/requests/{two['id']}/cancel", second.token).ok

    history = screen.history(stream, since=start, until=start + 6)
    names = [event for event, _ in history]
    assert names[:3] == ["availability_changed", "request_created", "request_created"]
    assert sorted(names[3:5]) == ["request_updated", "visit_updated"]  # accept: two events
    assert names[5] == "request_updated"  # the cancel
    assert [data["version"] for _, data in history] == list(range(start + 1, start + 7))


def test_reconnecting_provider_sees_requests_made_while_offline(server, accounts, connect):
    provider = accounts.provider(available=True)
    first, second = accounts.requester(), accounts.requester()
    stream = f"provider:{provider.id}"
    screen = connect(provider)
    earlier = ask(server, first, provider)
    last_seen = screen.wait_for("request_created", id=earlier["id"])["version"]
    assert server.api("POST", f"/requests/{earlier['id']}/cancel", first.token).ok
    last_seen = screen.wait_for("request_updated", id=earlier["id"], state="cancelled")["version"]
    screen.disconnect()

    while_offline = [ask(server, first, provider), ask(server, second, provider)]

    again = connect(provider)
    snapshot = again.snapshot(stream)
    assert snapshot["version"] == last_seen + 2  # exactly the two it missed
    shown = {r["id"]: r for r in snapshot["data"]["requests"]}
    assert set(shown) == {r["id"] for r in while_offline}  # and not the cancelled one
    assert {r["requester"]["name"] for r in shown.values()} == {first.name, second.name}
    assert snapshot["data"]["available"] is True


def test_resync_answers_with_a_fresh_snapshot_of_the_users_own_stream(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    screen = connect(requester)
    stream = f"requester:{requester.id}"
    before = screen.snapshot(stream)
    request = ask(server, requester, provider)

    assert screen.call("resync", {"stream": stream}) == {"ok": True}

    fresh = screen.snapshot(stream, newer_than=before["version"])
    assert [r["id"] for r in fresh["data"]["requests"]] == [request["id"]]


def test_resync_refuses_someone_elses_stream(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    screen = connect(requester)
    ask(server, requester, provider)

    answer = screen.call("resync", {"stream": f"provider:{provider.id}"})

    assert answer["error"]["code"] == "forbidden"
    assert screen.events("snapshot", stream=f"provider:{provider.id}") == []
