"""Redis down (restarting, say): what it carries between instances waits, but nobody's
sign-in or request fails for it. (tests/multi/test_faults.py restarts a real one.)"""

from __future__ import annotations

import json
import threading
import time

import redis
from flask_migrate import upgrade

from app.realtime.queue import STALE, RedisManager
from app.services.organisations import create_organisation
from app.services.tokens import issue_token
from app.services.users import create_user
from tests.app.helpers import separate_app
from tests.server import RedisServer, free_port

CLOSED_PORT = 1  # nothing listens there: connections are refused at once
PASSWORD = "correct horse battery staple"


def test_asking_and_signing_in_work_while_redis_is_down(tmp_path):
    database = f"sqlite:///{tmp_path / 'outage.db'}"
    env = {"REDIS_URL": f"redis://127.0.0.1:{CLOSED_PORT}/0"}
    with separate_app(database, tmp_path, env=env) as other:
        with other.app_context():
            upgrade()
            create_organisation("Riverside Health")
            provider = create_user("p@example.org", "Dr. P", "provider", PASSWORD, ["Check-up"])
            requester = create_user("r@example.org", "Station R", "requester", PASSWORD, [])
            token, _ = issue_token(requester)
            provider_id = provider.id
        client = other.test_client()

        asked = client.post(
            "/api/v1/requests",
            json={"provider_id": provider_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        wrong = client.post("/api/v1/tokens", json={"email": "r@example.org", "password": "no"})
        right = client.post("/api/v1/tokens", json={"email": "r@example.org", "password": PASSWORD})

    assert asked.status_code == 201, asked.get_data(as_text=True)  # counted in memory meanwhile
    assert wrong.status_code == 401
    assert right.status_code == 201


# Events lost meanwhile: the message queue says so (app.realtime.queue) -------------------------
def stale_notices(messages) -> list[dict]:
    return [m for m in messages if m.get("method") == "emit" and m.get("event") == STALE]


def published(watcher, until, timeout: float = 10.0) -> list[dict]:
    """What the watcher hears on the channel, until `until(messages)` or the timeout."""
    heard, deadline = [], time.monotonic() + timeout
    while not until(heard) and time.monotonic() < deadline:
        message = watcher.get_message(timeout=0.2)
        if message and message["type"] == "message":
            heard.append(json.loads(message["data"]))
    return heard


def test_a_publish_given_up_is_followed_by_a_stale_notice_once_redis_is_back():
    server = RedisServer(port=free_port())
    manager = RedisManager(server.url, channel="outage", write_only=True)
    event = {"method": "emit", "event": "request_created", "data": {}, "namespace": "/"}
    assert manager._publish(event) is None  # nobody there: given up after two tries
    assert manager.publish_failed

    server.start()
    try:
        watcher = redis.Redis.from_url(server.url).pubsub(ignore_subscribe_messages=True)
        watcher.subscribe("outage")
        assert manager._publish(event) == 1
        heard = published(watcher, stale_notices)
        assert [m.get("event") for m in heard] == ["request_created", STALE]
        assert stale_notices(heard)[0]["room"] is None  # to everyone, on every instance
        assert not manager.publish_failed

        manager._publish(event)  # and only once
        assert [m.get("event") for m in published(watcher, lambda h: len(h) == 1)] == [
            "request_created"
        ]
        watcher.close()
    finally:
        server.stop()


def test_resubscribing_after_redis_restarts_announces_stale():
    server = RedisServer().start()
    manager = RedisManager(server.url, channel="outage")
    received: list[dict] = []

    def listen():
        for data in manager._listen():
            received.append(json.loads(data))
            if stale_notices(received):
                return

    listener = threading.Thread(target=listen, daemon=True)
    try:
        listener.start()
        admin = redis.Redis.from_url(server.url)
        wait_until(lambda: admin.pubsub_numsub("outage") == [(b"outage", 1)], "the subscription")
        assert received == []  # the first subscription is no news

        server.stop()
        server.start()  # the same port; everything published in between is gone
        watcher = redis.Redis.from_url(server.url).pubsub(ignore_subscribe_messages=True)
        watcher.subscribe("outage")  # before the listener retries (after 1 s)
        assert stale_notices(published(watcher, stale_notices))  # broadcast to every instance
        listener.join(timeout=10)
        assert stale_notices(received)  # and this instance's own clients hear it too
        watcher.close()
    finally:
        server.stop()


def wait_until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
