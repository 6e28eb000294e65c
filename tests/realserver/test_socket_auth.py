"""Who may open a Socket.IO connection at all."""

from __future__ import annotations

import pytest
import socketio

from tests.realserver.live import LiveClient
from tests.server import DEMO_DIRECTORY

pytestmark = pytest.mark.realserver


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-real-token"],
    ids=["no token", "empty token", "bad token"],
)
def test_connection_without_a_valid_token_is_refused(server, token):
    client = LiveClient(server.url, token)

    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()

    assert client.wait_refused() == {"message": "unauthorized"}
    assert not client.sio.connected
    assert client.received == []  # not a single snapshot leaked


def test_a_valid_token_connects_to_exactly_the_users_own_streams(server, accounts, connect):
    provider, requester = accounts.provider(), accounts.requester()
    scheduler = server.token("scheduler")
    # The demo scheduler works in the demo clinic, and so follows its schedule too.
    [clinic] = server.api("GET", "/clinics", scheduler).json()

    expected = [
        (provider, {f"provider:{provider.id}", DEMO_DIRECTORY}),
        (requester, {f"requester:{requester.id}", DEMO_DIRECTORY}),
        (scheduler, {DEMO_DIRECTORY, f"clinic:{clinic['id']}"}),
    ]
    for who, streams in expected:
        client = connect(who)
        for stream in streams:
            client.snapshot(stream)
        assert {s["stream"] for s in client.events("snapshot")} == streams
