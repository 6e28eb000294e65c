"""The same end-to-end path under every supported async mode (DESIGN.md: gevent by default,
eventlet supported, threading for tools): request → alert → accept → requester told → call."""

from __future__ import annotations

import pytest

from tests.realserver.live import ask, demo_account, set_available, start_server

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module", params=["gevent", "eventlet", "threading"])
def mode_server(request, tmp_path_factory):
    if request.param == "gevent":  # the session's server already runs the default mode
        yield request.getfixturevalue("server")
        return
    server = start_server(tmp_path_factory.mktemp(request.param), async_mode=request.param)
    yield server
    server.stop()


def test_request_alert_accept_and_call_signaling(mode_server, connect):
    provider = demo_account(mode_server, "lindqvist")
    requester = demo_account(mode_server, "station")
    provider_screen = connect(provider, mode_server)
    requester_screen = connect(requester, mode_server)
    set_available(mode_server, provider, True)

    request = ask(mode_server, requester, provider)

    alert = provider_screen.wait_for("request_created", id=request["id"])
    assert alert["requester"]["name"] == "Riverside Station"
    assert alert["service"]["name"] == "Mental health check-in"
    accepted = mode_server.api("POST", f"/requests/{request['id']}/accept", provider.token)
    assert accepted.status_code == 200, accepted.text
    told = requester_screen.wait_for("request_updated", id=request["id"], state="accepted")
    visit_id = told["visit_id"]

    assert provider_screen.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    assert requester_screen.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    provider_screen.wait_for("peer_joined", sid=requester_screen.sid)
    hello = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    relay = {"visit_id": visit_id, "to": requester_screen.sid, "data": hello}
    assert provider_screen.call("signal", relay) == {"ok": True}
    assert requester_screen.wait_for("signal", data=hello)["from"] == provider_screen.sid
    ended = mode_server.api("POST", f"/visits/{visit_id}/end", provider.token)
    assert ended.status_code == 200
    requester_screen.wait_for("visit_ended", visit_id=visit_id)
