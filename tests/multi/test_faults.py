"""Faults under load, behind nginx: an instance killed with -9, Redis restarted, the
database cut for a few seconds. After each, every dashboard shows what the database holds,
and no request was lost, duplicated or half-written.

Sizes: CLIENTS dashboards (100; 500 with ANTEROOM_FAULT_SCALE=full).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.multi.support import CLIENTS, Dashboard, gather_in_batches, kill
from tests.realserver.live import WAIT, Account, ask, set_available

pytestmark = pytest.mark.multi

CONVERGE_SECONDS = 10  # the bound: from the kill to every screen right
CUT_SECONDS = 3
LIVE_VISIT_STATES = ("scheduled", "open", "in_call")


# What the database says each screen should show -----------------------------------------------
def truth(db: psycopg.Connection, stream: str) -> dict:
    kind, _, ident = stream.partition(":")
    ident = int(ident)
    if kind == "provider":
        available = db.execute("SELECT available FROM users WHERE id = %s", (ident,)).fetchone()
        pending = db.execute(
            "SELECT id FROM session_requests WHERE provider_id = %s AND state = 'pending'",
            (ident,),
        ).fetchall()
        return {"available": available[0], "pending": {row[0] for row in pending}}
    shown = db.execute(
        "SELECT id, state FROM session_requests WHERE requester_id = %s AND (state = 'pending'"
        " OR (state IN ('declined', 'expired') AND dismissed_at IS NULL))",
        (ident,),
    ).fetchall()
    sessions = db.execute(
        "SELECT v.id FROM visits v JOIN participants p ON p.visit_id = v.id"
        " WHERE p.user_id = %s AND p.role = 'patient' AND v.source = 'request'"
        " AND v.state = ANY(%s)",
        (ident, list(LIVE_VISIT_STATES)),
    ).fetchall()
    return {"requests": dict(shown), "sessions": {row[0] for row in sessions}}


def wrong_screens(database_url: str, dashboards: list[Dashboard]) -> list[str]:
    with psycopg.connect(database_url) as db:
        return [
            d.screen.stream
            for d in dashboards
            if not d.sio.connected or d.screen.state != truth(db, d.screen.stream)
        ]


async def until_right(database_url: str, dashboards: list[Dashboard], deadline: float) -> float:
    """Wait until every screen equals the database; returns when (time.monotonic())."""
    while True:
        wrong = await asyncio.to_thread(wrong_screens, database_url, dashboards)
        if not wrong:
            return time.monotonic()
        if time.monotonic() > deadline:
            sample = [(d.screen.stream, d.sio.connected, d.screen.state, d.refusals[-3:])
                      for d in dashboards if d.screen.stream in wrong[:3]]  # fmt: skip
            raise AssertionError(f"{len(wrong)} screens still wrong: {sample}")
        await asyncio.sleep(0.25)


def integrity(database_url: str, provider_ids: list[int]) -> None:
    """Nothing half-written: every accepted request has its own visit, every visit from a
    request belongs to exactly one accepted request, and no pair has two open requests."""
    with psycopg.connect(database_url) as db:
        orphans = db.execute(
            "SELECT v.id FROM visits v WHERE v.source = 'request' AND v.host_id = ANY(%s)"
            " AND (SELECT count(*) FROM session_requests r WHERE r.visit_id = v.id"
            "      AND r.state = 'accepted') <> 1",
            (provider_ids,),
        ).fetchall()
        assert orphans == [], "visits without exactly one accepted request"
        no_visit = db.execute(
            "SELECT id FROM session_requests WHERE provider_id = ANY(%s)"
            " AND state = 'accepted' AND visit_id IS NULL",
            (provider_ids,),
        ).fetchall()
        assert no_visit == [], "accepted requests without a visit"
        doubled = db.execute(
            "SELECT requester_id, provider_id FROM session_requests WHERE provider_id = ANY(%s)"
            " AND state IN ('pending', 'accepted') GROUP BY 1, 2 HAVING count(*) > 1",
            (provider_ids,),
        ).fetchall()
        assert doubled == [], "a request made twice"


def through(cluster, method: str, path: str, token: str, json=None) -> requests.Response:
    return cluster.nginx_http.request(
        method,
        cluster.nginx.url + "/api/v1" + path,
        json=json,
        headers={"Authorization": f"Bearer {token}"},
        timeout=WAIT,
    )


def until_done(cluster, method: str, path: str, token: str, json=None, within: float = 15):
    """Send it through nginx as a careful client does: a 502 or 503 (nothing was done, or
    the caller cannot know) is sent again; any other answer is final. Returns every status."""
    statuses = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            response = through(cluster, method, path, token, json)
        except (requests.ConnectionError, requests.Timeout):
            statuses.append(0)  # no answer: done or not, the caller cannot know
            time.sleep(0.2)
            continue
        statuses.append(response.status_code)
        if response.status_code not in (502, 503, 504):
            return statuses
        assert response.status_code != 503 or response.json()["error"]["code"] == "unavailable"
        time.sleep(0.2)
    raise AssertionError(f"{method} {path}: no final answer in {within}s: {statuses}")


@pytest.fixture
def crowd(healed):
    """crowd(n): n available providers and n requesters, fresh, on the healed cluster."""
    cluster = healed
    cluster.nginx_http = cluster.nginx.session()

    def make(n: int):
        cluster.accounts.BATCH = max(cluster.accounts.BATCH, n)
        providers = [cluster.accounts.provider() for _ in range(n)]
        requesters = [cluster.accounts.requester() for _ in range(n)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: set_available(cluster.instances[p.id % 2], p, True), providers))
        return cluster, providers, requesters

    return make


def dashboards_for(cluster, people: list[Account]) -> list[Dashboard]:
    context = cluster.nginx.ssl_context()
    return [
        Dashboard(
            cluster.nginx.url,
            person.token,
            f"{person.role}:{person.id}",
            context,
        )
        for person in people
    ]


async def connect_all(dashboards: list[Dashboard]) -> None:
    await gather_in_batches(d.connect() for d in dashboards)
    deadline = time.monotonic() + WAIT
    while any(d.screen.version < 0 for d in dashboards):
        assert time.monotonic() < deadline, "some dashboards got no snapshot"
        await asyncio.sleep(0.05)


async def close_all(dashboards: list[Dashboard]) -> None:
    await gather_in_batches(d.close() for d in dashboards)


# kill -9 ------------------------------------------------------------------------------------
def test_killing_an_instance_moves_its_dashboards_to_the_other_with_nothing_lost(crowd):
    cluster, providers, requesters = crowd(CLIENTS // 2)
    a, b = cluster.instances
    quarter = len(providers) // 2
    # Before: the first quarter of pairs have a pending request; during the outage those
    # are accepted, and the next quarter ask for the first time.
    pending = [
        ask((a, b)[n % 2], requesters[n], providers[n])["id"] for n in range(quarter)
    ]  # fmt: skip
    database_url = a.env()["DATABASE_URL"]

    async def scenario():
        dashboards = dashboards_for(cluster, providers + requesters)
        await connect_all(dashboards)
        try:
            killed_at = time.monotonic()
            kill(a)

            def outage_traffic():
                with ThreadPoolExecutor(16) as pool:
                    accepts = pool.map(
                        lambda n: until_done(
                            cluster, "POST", f"/requests/{pending[n]}/accept", providers[n].token
                        ),
                        range(quarter),
                    )
                    asks = pool.map(
                        lambda n: until_done(
                            cluster, "POST", "/requests", requesters[n].token,
                            {"provider_id": providers[n].id},
                        ),
                        range(quarter, 2 * quarter),
                    )  # fmt: skip
                    return list(accepts), list(asks)

            accepts, asks = await asyncio.to_thread(outage_traffic)
            right_at = await until_right(database_url, dashboards, killed_at + CONVERGE_SECONDS)
            moved = [d for d in dashboards if d.connects > 1]
            lost = sorted(d.disconnected_at - killed_at for d in moved)
            back = sorted(d.reconnected_at - killed_at for d in moved)
            if moved:
                print(
                    f"\nkill -9 with {len(dashboards)} dashboards: {len(moved)} moved; dropped"
                    f" after {lost[len(lost) // 2]:.2f} s (median), {lost[-1]:.2f} s (last);"
                    f" connected again after {back[len(back) // 2]:.2f} s, {back[-1]:.2f} s;"
                    f" every screen right after {right_at - killed_at:.2f} s"
                )
            assert right_at - killed_at <= CONVERGE_SECONDS
            assert moved, "nginx sent no dashboard to the killed instance"
            assert len(moved) < len(dashboards), "nginx sent every dashboard to one instance"
            # A 409 after a retry is the first try having won on the dying instance.
            assert all(s[-1] in (200, 409) for s in accepts), accepts
            assert all(s[-1] in (201, 409) for s in asks), asks
        finally:
            await close_all(dashboards)

    asyncio.run(scenario())

    with psycopg.connect(database_url) as db:
        states = dict(db.execute(
            "SELECT id, state FROM session_requests WHERE id = ANY(%s)", (pending,)
        ).fetchall())  # fmt: skip
        assert set(states.values()) == {"accepted"}
        asked = db.execute(
            "SELECT count(*) FROM session_requests WHERE requester_id = ANY(%s)",
            ([r.id for r in requesters[quarter : 2 * quarter]],),
        ).fetchone()[0]
        assert asked == quarter  # each asked once: none lost, none twice
    integrity(database_url, [p.id for p in providers])


# Redis restarted ---------------------------------------------------------------------------
def test_restarting_redis_fails_no_accept_and_every_dashboard_catches_up(crowd):
    n = 20
    cluster, providers, requesters = crowd(n)
    a, b = cluster.instances
    pending = [ask((a, b)[k % 2], requesters[k], providers[k])["id"] for k in range(n)]
    database_url = a.env()["DATABASE_URL"]

    async def scenario():
        dashboards = dashboards_for(cluster, providers + requesters)
        await connect_all(dashboards)
        try:
            answers = []

            def accept_all():
                for k in range(n):  # a steady flow, alternating instances
                    server = (a, b)[k % 2]
                    path = f"/requests/{pending[k]}/accept"
                    answers.append(server.api("POST", path, providers[k].token).status_code)
                    time.sleep(0.1)

            flow = threading.Thread(target=accept_all)
            flow.start()
            await asyncio.sleep(0.4)
            cluster.redis.stop()
            await asyncio.sleep(1.0)
            cluster.redis.start()
            await asyncio.to_thread(flow.join)
            assert answers == [200] * n  # no accept failed for want of Redis

            # Events cross instances again once each instance's listener is back (it retries
            # after 1, 2, 4 s): a change on one instance reaches dashboards held by both.
            resumed_by = time.monotonic() + 15
            while True:
                set_available(a, providers[0], False)
                set_available(b, providers[0], True)
                await asyncio.sleep(0.5)
                if (await asyncio.to_thread(wrong_screens, database_url, dashboards[:1])) == []:
                    break
                assert time.monotonic() < resumed_by, "events did not resume"

            # Events published while Redis was down never arrived, and most streams have
            # nothing new to say. Each instance broadcasts `stale` once it is subscribed
            # again, and every screen asks for a fresh snapshot (resync) without waiting
            # for its stream's next event.
            await until_right(database_url, dashboards, time.monotonic() + CONVERGE_SECONDS)
            assert all(d.stales > 0 for d in dashboards)

            # Afterwards, events flow as before: each screen follows its stream's next one.
            for k in range(1, n):
                set_available((a, b)[k % 2], providers[k], True)  # the provider's stream
            for k in range(n):  # the requester's stream: ask the next provider too
                ask((a, b)[k % 2], requesters[k], providers[(k + 1) % n])
            await until_right(database_url, dashboards, time.monotonic() + CONVERGE_SECONDS)
            stales, gaps = sum(d.stales for d in dashboards), sum(d.screen.gaps for d in dashboards)
            print(f"\nRedis restart: {stales} stale notices, {gaps} gaps")
        finally:
            await close_all(dashboards)

    asyncio.run(scenario())
    integrity(database_url, [p.id for p in providers])


# The database cut ------------------------------------------------------------------------------
def test_a_database_cut_is_a_clean_503_and_everything_recovers(crowd):
    n = 20
    cluster, providers, requesters = crowd(n)
    a, b = cluster.instances
    pending = [ask((a, b)[k % 2], requesters[k], providers[k])["id"] for k in range(n)]
    database_url = a.env()["DATABASE_URL"]

    answers: list[tuple[int, int, dict]] = []

    def accept_through_nginx(k: int) -> None:
        response = through(cluster, "POST", f"/requests/{pending[k]}/accept", providers[k].token)
        answers.append((k, response.status_code, response.json()))

    for k in range(n // 4):
        accept_through_nginx(k)
    cluster.database.cut()
    cut_at = time.monotonic()
    for k in range(n // 4, n):  # spread over CUT_SECONDS
        accept_through_nginx(k)
        time.sleep(
            max(0.0, cut_at + CUT_SECONDS * (k + 1 - n // 4) / (n - n // 4) - time.monotonic())
        )
    during = time.monotonic() - cut_at
    cluster.database.restore()

    statuses = [status for _, status, _ in answers]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[: n // 4] == [200] * (n // 4)
    refused = [(k, body) for k, status, body in answers if status == 503]
    assert len(refused) == n - n // 4, "every accept during the cut is a 503"
    for _, body in refused:
        assert body == {
            "error": {
                "code": "unavailable",
                "message": "The service is briefly unavailable. Please try again in a moment.",
            }
        }
    print(f"\ndatabase cut: {len(refused)} clean 503s in {during:.2f} s")

    # Nothing half-written, and full recovery: each refused accept, sent again, is done.
    integrity(database_url, [p.id for p in providers])
    for k, _ in refused:
        assert until_done(cluster, "POST", f"/requests/{pending[k]}/accept",
                          providers[k].token)[-1] in (200, 409)  # fmt: skip
    with psycopg.connect(database_url) as db:
        states = db.execute(
            "SELECT DISTINCT state FROM session_requests WHERE id = ANY(%s)", (pending,)
        ).fetchall()
    assert states == [("accepted",)]
    integrity(database_url, [p.id for p in providers])
    fresh = ask(b, requesters[0], providers[-1])  # a new request on the other instance too
    assert fresh["state"] == "pending"
