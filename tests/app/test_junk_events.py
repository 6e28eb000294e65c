"""Every Socket.IO event, sent junk by the host of a call: each answers with a clean
refusal (an error acknowledgement naming what was wrong), never a server error, and the
call carries on afterwards. New events are swept too: the list is the server's own."""

from __future__ import annotations

import pytest

from app.extensions import socketio
from app.realtime.packets import MALFORMED
from tests.app.calls import in_call, make_clinic

HUGE = "x" * 200_000
JUNK_VALUES = [None, True, -1, 2**31, 10**30, 1.5, "1", "", [1], {"a": 1}]
# Fields the events read; each is sent every junk value in turn, beside a real visit id.
FIELDS = [
    "visit_id",
    "participant_id",
    "to",
    "sid",
    "stream",
    "action",
    "text",
    "allow",
    "snapshot_id",
    "name",
    "email",
    "mobile",
    "description",
    "payload",
    "audio",
    "video",
]


def payloads(visit_id: int):
    yield None
    yield from ("text", 7, [1, 2], HUGE)
    for field in FIELDS:
        for value in JUNK_VALUES:
            yield {"visit_id": visit_id, field: value}
        yield {"visit_id": visit_id, field: HUGE}


@pytest.fixture
def call(app, api, make_user, socket_client):
    clinic = make_clinic(app, make_user, api)
    return in_call(app, api, clinic, socket_client)


def events() -> list[str]:
    names = set(socketio.server.handlers["/"]) - {"connect", "disconnect", MALFORMED, "*"}
    return sorted(names)


def test_every_event_answers_junk_with_a_clean_refusal_and_the_call_goes_on(app, call, monkeypatch):
    # The junk is the point here, not the rate: let every message through.
    monkeypatch.setitem(app.config, "SOCKET_EVENT_LIMIT", "1000000/second")
    # The host: the one whose events reach furthest into the services.
    sock = call.host.socket
    failures = []
    for name in events():
        if name in ("leave_visit", "end_visit"):
            continue  # real departures, not junk: covered by their own tests
        for body in payloads(call.visit_id):
            ack = sock.emit(name, body, callback=True)
            code = ack.get("error", {}).get("code") if isinstance(ack, dict) else None
            if not isinstance(ack, dict) or code == "server_error":
                failures.append((name, repr(body)[:80], ack))
    assert failures == []
    # Both still in the call, their sockets alive: a chat message still goes through.
    sent = call.guest.socket.emit(
        "chat_send", {"visit_id": call.visit_id, "text": "still here"}, callback=True
    )
    assert sent["message"]["text"] == "still here"
    assert sock.is_connected()
