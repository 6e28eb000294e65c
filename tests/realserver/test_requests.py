"""On-demand requests as the provider's and the requester's screens hear of them, live."""

from __future__ import annotations

import pytest

from tests.realserver.live import ask, set_available
from tests.server import DEMO_DIRECTORY

pytestmark = pytest.mark.realserver


def test_provider_is_alerted_with_who_asks_and_for_what(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    provider_screen = connect(provider)

    request = ask(server, requester, provider)

    alert = provider_screen.wait_for("request_created", id=request["id"])
    assert alert["state"] == "pending"
    assert alert["requester"]["name"] == requester.name
    assert alert["service"]["name"] == provider.service["name"]
    assert alert["stream"] == f"provider:{provider.id}"


def test_requester_hears_the_accept_with_the_visit_to_join(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    requester_screen = connect(requester)
    request = ask(server, requester, provider)
    requester_screen.wait_for("request_updated", id=request["id"], state="pending")

    r = server.api("POST", f"/requests/{request['id']}/accept", provider.token)
    assert r.status_code == 200, r.text

    update = requester_screen.wait_for("request_updated", id=request["id"], state="accepted")
    assert update["visit_id"] == r.json()["visit_id"] is not None
    visit = requester_screen.wait_for("visit_updated", id=update["visit_id"])
    assert visit["host"]["name"] == provider.name
    assert visit["state"] == "open"


def test_requester_hears_the_decline_with_the_providers_note(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    requester_screen = connect(requester)
    request = ask(server, requester, provider)
    note = "Running late today, please ask Dr. Lindqvist."

    r = server.api("POST", f"/requests/{request['id']}/decline", provider.token, {"note": note})
    assert r.status_code == 200, r.text

    update = requester_screen.wait_for("request_updated", id=request["id"], state="declined")
    assert update["decline_note"] == note
    assert update["visit_id"] is None


def test_accepting_a_request_already_cancelled_loses_with_409(server, accounts, connect):
    provider, requester = accounts.provider(available=True), accounts.requester()
    provider_screen = connect(provider)
    request = ask(server, requester, provider)
    provider_screen.wait_for("request_created", id=request["id"])
    assert server.api("POST", f"/requests/{request['id']}/cancel", requester.token).ok

    r = server.api("POST", f"/requests/{request['id']}/accept", provider.token)

    assert r.status_code == 409
    assert r.json()["error"]["state"] == "cancelled"
    cancelled = provider_screen.wait_for("request_updated", id=request["id"])
    assert cancelled["state"] == "cancelled"


def test_request_to_an_unavailable_provider_never_alerts_them(server, accounts, connect):
    provider, requester = accounts.provider(available=False), accounts.requester()
    provider_screen = connect(provider)
    stream = f"provider:{provider.id}"
    start = provider_screen.snapshot(stream)["version"]
    requester_screen = connect(requester)

    declined = ask(server, requester, provider)

    assert declined["state"] == "declined"
    assert declined["decline_note"]  # the standard "not available" note
    told = requester_screen.wait_for("request_updated", id=declined["id"])
    assert told["state"] == "declined" and told["decline_note"] == declined["decline_note"]

    # Sentinels on the provider's own stream: becoming available, then a request that does
    # reach them. Once every version up to the last has arrived, the provider's stream is
    # complete, and the declined request is nowhere in it.
    set_available(server, provider, True)
    assert server.api("POST", f"/requests/{declined['id']}/dismiss", requester.token).ok
    pending = ask(server, requester, provider)
    assert pending["state"] == "pending"
    provider_screen.wait_for("request_created", id=pending["id"])

    history = provider_screen.history(stream, since=start, until=start + 2)
    assert [event for event, _ in history] == ["availability_changed", "request_created"]
    assert [d["id"] for d in provider_screen.events("request_created")] == [pending["id"]]
    assert provider_screen.events("request_updated", id=declined["id"]) == []


def test_a_connected_requester_sees_a_provider_come_and_go(server, accounts, connect):
    provider, requester = accounts.provider(available=False), accounts.requester()
    requester_screen = connect(requester)
    listed = requester_screen.snapshot(DEMO_DIRECTORY)["data"]["providers"]
    assert next(p for p in listed if p["id"] == provider.id)["available"] is False

    set_available(server, provider, True)
    came = requester_screen.wait_for("availability_changed", provider_id=provider.id)
    set_available(server, provider, False)
    went = requester_screen.wait_for(
        "availability_changed", provider_id=provider.id, available=False
    )

    assert came["available"] is True and came["stream"] == DEMO_DIRECTORY
    assert went["version"] > came["version"]
