"""Two instances behind nginx (deploy/nginx.conf): whichever instance a change is made on,
every dashboard hears it; a polling client stays with the instance that holds its session;
and racing answers spread over both instances have exactly one winner each."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
import socketio

from tests.multi.support import RACES
from tests.realserver.live import WAIT, LiveClient, ask, set_available
from tests.server import DEMO_DIRECTORY

pytestmark = pytest.mark.multi


def upstreams(cluster, path_prefix: str) -> Counter:
    """Which instance nginx sent each logged request under path_prefix to."""
    found = Counter()
    for line in cluster.nginx.read("access.log").splitlines():
        match = re.search(r'"\w+ (\S+) [^"]*" \d+ upstream=(\S+)', line)
        if match and match.group(1).startswith(path_prefix):
            found[match.group(2).rsplit(":", 1)[-1]] += 1
    return found


def through_nginx(cluster, token: str) -> LiveClient:
    client = LiveClient(cluster.nginx.url, token)
    http = cluster.nginx.session()
    client.sio = socketio.Client(reconnection=False, http_session=http)
    client.sio.on("*", client._record)
    client.sio.on("connect_error", client._refused)
    client.sio.on("disconnect", client._closed)
    return client.connect()


def test_pages_and_the_api_are_served_over_tls_by_both_instances(cluster):
    http = cluster.nginx.session()
    for _ in range(6):
        response = http.get(cluster.nginx.url + "/auth/login", timeout=WAIT)
        assert response.status_code == 200
        # X-Forwarded-Proto reached the app (PROXY_COUNT=1): it knows it is served over HTTPS.
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    served = upstreams(cluster, "/auth/login")
    assert set(served) == {str(cluster.a.port), str(cluster.b.port)}, served
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(cluster.nginx.url + "/auth/login", timeout=WAIT)  # not a trusted cert


def test_events_caused_on_either_instance_reach_a_dashboard_behind_nginx(cluster):
    """The dashboard is held by one instance; one change is made directly on each instance,
    so one of them necessarily travels through Redis to reach it."""
    a, b = cluster.instances
    provider, requester = cluster.accounts.provider(), cluster.accounts.requester()
    dashboard = through_nginx(cluster, provider.token)
    try:
        stream = f"provider:{provider.id}"
        start = dashboard.snapshot(stream)["version"]

        set_available(a, provider, True)
        request = ask(b, requester, provider)

        history = dashboard.history(stream, since=start, until=start + 2)
        assert [event for event, _ in history] == ["availability_changed", "request_created"]
        assert history[1][1]["id"] == request["id"]
    finally:
        dashboard.disconnect()


def test_polling_clients_stay_with_the_instance_that_holds_their_session(cluster):
    """Long-polling (the fallback when WebSocket is blocked) sends many requests per
    session: nginx's route cookie keeps them on one instance, and the clients spread."""
    accounts = [cluster.accounts.requester() for _ in range(16)]  # all on one: 1 in 30,000
    clients = []
    try:
        for account in accounts:
            sio = socketio.Client(reconnection=False, http_session=cluster.nginx.session())
            heard = []
            sio.on("snapshot", lambda message, heard=heard: heard.append(message["stream"]))
            sio.connect(
                cluster.nginx.url,
                auth={"token": account.token},
                transports=["polling"],
                wait_timeout=WAIT,
            )
            clients.append((sio, heard))
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not all(len(h) == 2 for _, h in clients):
            time.sleep(0.05)
        time.sleep(1)  # a poll answered by the wrong instance would have ended its session
        assert all(sio.connected for sio, _ in clients)
        assert all(sorted(h) == [DEMO_DIRECTORY, f"requester:{acc.id}"]
                   for (_, h), acc in zip(clients, accounts, strict=True))  # fmt: skip
        polled = upstreams(cluster, "/socket.io/?transport=polling")
        assert len(polled) == 2, polled  # the route cookies spread them over both
        held_by = {}  # each session's polls, all on one instance
        for line in cluster.nginx.read("access.log").splitlines():
            if match := re.search(r"transport=polling\S*sid=([\w-]+).* upstream=(\S+)", line):
                held_by.setdefault(match.group(1), set()).add(match.group(2))
        assert len(held_by) >= len(accounts)
        assert all(len(upstream) == 1 for upstream in held_by.values()), held_by
    finally:
        for sio, _ in clients:
            sio.disconnect()


# Races ---------------------------------------------------------------------------------------
def ask_patiently(server, requester, provider) -> dict:
    response = requests.post(
        server.url + "/api/v1/requests",
        json={"provider_id": provider.id},
        headers={"Authorization": f"Bearer {requester.token}"},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _post(server, path: str, token: str) -> int:
    """The answer's status. Patient: the race is about who wins, not how fast, and a call
    that timed out could not be told apart from one that won or lost."""
    for _ in range(3):
        try:
            return requests.post(
                server.url + "/api/v1" + path,
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            ).status_code
        except requests.ConnectionError:
            time.sleep(0.1)  # a port exhausted for a moment under the load, not an answer
    raise AssertionError(f"POST {path} never answered")


def test_racing_answers_spread_over_both_instances_have_one_winner_each(cluster):
    """Every request gets an accept (on A), a decline (on B) and a cancel (on the instance
    the decline is not on, alternately) at once: one is 200, the others 409, and the
    database holds exactly one outcome and at most one visit per request."""
    a, b = cluster.instances
    side = math.ceil(RACES**0.5)
    crowd = cluster.accounts
    crowd.BATCH = max(crowd.BATCH, side)  # one seeding run for them all
    providers = [crowd.provider() for _ in range(side)]
    requesters = [crowd.requester() for _ in range(side)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda p: set_available(b, p, True), providers))
        pairs = [(r, p) for r in requesters for p in providers][:RACES]
        made = list(pool.map(lambda rp: ask_patiently((a, b)[rp[1].id % 2], *rp), pairs))

        def race(item):
            n, (request, (requester, provider)) = item
            rid = request["id"]
            calls = [
                (a, f"/requests/{rid}/accept", provider.token),
                (b, f"/requests/{rid}/decline", provider.token),
                ((a, b)[n % 2], f"/requests/{rid}/cancel", requester.token),
            ]
            with ThreadPoolExecutor(3) as trio:
                return rid, list(trio.map(lambda call: _post(*call), calls))

        started = time.perf_counter()
        outcomes = list(pool.map(race, enumerate(zip(made, pairs, strict=True))))
        elapsed = time.perf_counter() - started

    print(f"\n{len(outcomes)} races (3 answers each) in {elapsed:.1f} s: "
          f"{len(outcomes) / elapsed:.0f} races/s")  # fmt: skip
    wrong = [(rid, codes) for rid, codes in outcomes if sorted(codes) != [200, 409, 409]]
    assert not wrong, wrong[:10]
    winners = {rid: ("accepted", "declined", "cancelled")[codes.index(200)]
               for rid, codes in outcomes}  # fmt: skip
    assert len(set(winners.values())) == 3, Counter(winners.values())  # all three do win

    with psycopg.connect(a.env()["DATABASE_URL"]) as db:
        states = dict(db.execute(
            "SELECT id, state FROM session_requests WHERE id = ANY(%s)", (list(winners),)
        ).fetchall())  # fmt: skip
        assert states == winners
        twice = db.execute(
            "SELECT visit_id FROM session_requests WHERE visit_id IS NOT NULL"
            " GROUP BY visit_id HAVING count(*) > 1"
        ).fetchall()
        assert twice == []
        ids = [p.id for p in providers]
        visits, accepted = db.execute(
            "SELECT (SELECT count(*) FROM visits WHERE source = 'request' AND host_id = ANY(%s)),"
            " (SELECT count(*) FROM session_requests WHERE state = 'accepted'"
            "  AND visit_id IS NOT NULL AND provider_id = ANY(%s))",
            (ids, ids),
        ).fetchone()
        assert visits == accepted == Counter(winners.values())["accepted"]
