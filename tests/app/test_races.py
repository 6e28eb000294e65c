"""Racing callers: exactly one transition wins, the others get 409 with the winning state.

Each caller is its own thread with its own test client and bearer token, released together
by a barrier. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, SessionRequest, User
from clinicqueue import UNAVAILABLE_NOTE
from tests.app.helpers import count_visits, request_row

ROUNDS = 20
WINNING_STATE = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}


def race(app, calls: list[tuple]) -> list[tuple[str, int, dict]]:
    """Fire (name, method, path, token, json) calls at once; returns (name, status, body)."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def fire(call):
        name, method, path, token, body = call
        client = app.test_client()  # one per thread: test clients are not shared
        headers = {"Authorization": f"Bearer {token}"}
        barrier.wait()
        response = client.open("/api/v1" + path, method=method, headers=headers, json=body)
        return name, response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(fire, calls))


@pytest.fixture
def tokens(make_user, api):
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    return provider, requester, api.token(provider), api.token(requester)


def _open_requests(app, requester_id: int, provider_id: int) -> list[str]:
    with app.app_context():
        states = db.session.scalars(
            select(SessionRequest.state).where(
                SessionRequest.requester_id == requester_id,
                SessionRequest.provider_id == provider_id,
                SessionRequest.state == "pending",
            )
        ).all()
        db.session.rollback()
        return list(states)


def test_accept_cancel_and_decline_racing_on_one_request_exactly_one_wins(app, api, tokens):
    provider, requester, p_token, r_token = tokens
    accepted = 0

    for round_no in range(ROUNDS):
        created = api.post("/requests", r_token, json={"provider_id": provider.id})
        assert created.status_code == 201, (round_no, created.get_json())
        request_id = created.get_json()["id"]

        results = race(
            app,
            [
                ("accept", "POST", f"/requests/{request_id}/accept", p_token, None),
                ("decline", "POST", f"/requests/{request_id}/decline", p_token, {"note": "Busy"}),
                ("cancel", "POST", f"/requests/{request_id}/cancel", r_token, None),
            ],
        )

        statuses = sorted(status for _, status, _ in results)
        assert statuses == [200, 409, 409], (round_no, results)
        [(winner, _, body)] = [r for r in results if r[1] == 200]
        state = WINNING_STATE[winner]
        assert body["state"] == state
        for name, status, loser in results:
            if status == 409:
                assert loser["error"]["code"] == "conflict", loser
                assert loser["error"]["state"] == state, (round_no, name, loser)
                assert loser["error"]["request"]["state"] == state
                assert loser["error"]["request"]["id"] == request_id

        row = request_row(app, request_id)
        assert row["state"] == state
        if winner == "accept":
            accepted += 1
            assert row["visit_id"] is not None
        else:
            assert row["visit_id"] is None
        assert row["decline_note"] == ("Busy" if winner == "decline" else None)
        assert count_visits(app) == accepted  # a visit only when accept won, and only one
        if winner == "accept":  # one live session per pair: end it before the next round
            assert api.post(f"/visits/{row['visit_id']}/end", p_token).status_code == 200

        if winner == "decline":  # a declined request blocks the next one until dismissed
            assert api.post(f"/requests/{request_id}/dismiss", r_token).status_code == 200


def test_two_simultaneous_requests_from_one_requester_create_exactly_one(app, api, tokens):
    provider, requester, _, r_token = tokens

    for round_no in range(ROUNDS // 2):
        body = {"provider_id": provider.id}
        results = race(
            app,
            [
                ("first", "POST", "/requests", r_token, body),
                ("second", "POST", "/requests", r_token, body),
            ],
        )

        statuses = sorted(status for _, status, _ in results)
        assert statuses == [201, 409], (round_no, results)
        [(_, _, created)] = [r for r in results if r[1] == 201]
        [(_, _, refused)] = [r for r in results if r[1] == 409]
        assert created["state"] == "pending"
        assert refused["error"]["code"] == "conflict"
        assert refused["error"]["reason"] == "pending"
        assert _open_requests(app, requester.id, provider.id) == ["pending"]

        assert api.post(f"/requests/{created['id']}/cancel", r_token).status_code == 200

    with app.app_context():
        total = db.session.scalar(select(func.count(SessionRequest.id)))
        db.session.rollback()
    assert total == ROUNDS // 2


def test_request_racing_the_provider_turning_unavailable_is_never_left_pending(app, api, tokens):
    provider, requester, p_token, r_token = tokens

    for round_no in range(ROUNDS // 2):
        results = race(
            app,
            [
                ("ask", "POST", "/requests", r_token, {"provider_id": provider.id}),
                ("away", "PUT", "/providers/me/availability", p_token, {"available": False}),
            ],
        )
        outcome = {name: (status, body) for name, status, body in results}
        assert outcome["away"] == (200, {"available": False}), (round_no, outcome)
        assert outcome["ask"][0] == 201, (round_no, outcome)
        assert _open_requests(app, requester.id, provider.id) == [], (round_no, outcome)
        request_id = outcome["ask"][1]["id"]
        row = request_row(app, request_id)
        assert row["state"] == "declined"
        assert row["decline_note"] == UNAVAILABLE_NOTE

        api.post(f"/requests/{request_id}/dismiss", r_token)
        api.put("/providers/me/availability", p_token, json={"available": True})

    with app.app_context():
        assert db.session.get(User, provider.id).available is True
        db.session.rollback()


def test_dismisses_racing_on_one_declined_request_exactly_one_wins(app, api, tokens, socket_client):
    provider, requester, p_token, r_token = tokens
    screen = socket_client(auth={"token": r_token})  # the requester's own dashboard
    assert screen.is_connected()

    for round_no in range(ROUNDS // 2):
        created = api.post("/requests", r_token, json={"provider_id": provider.id})
        assert created.status_code == 201, (round_no, created.get_json())
        request_id = created.get_json()["id"]
        declined = api.post(f"/requests/{request_id}/decline", p_token, json={"note": "Busy"})
        assert declined.status_code == 200, (round_no, declined.get_json())
        screen.get_received()

        dismiss = ("dismiss", "POST", f"/requests/{request_id}/dismiss", r_token, None)
        results = race(app, [dismiss] * 3)

        statuses = sorted(status for _, status, _ in results)
        assert statuses == [200, 409, 409], (round_no, results)
        [(_, _, won)] = [r for r in results if r[1] == 200]
        assert (won["id"], won["state"], won["dismissed"]) == (request_id, "declined", True)
        for _, status, lost in results:
            if status == 409:
                assert lost["error"]["code"] == "conflict", (round_no, lost)
                assert lost["error"]["state"] == "declined", (round_no, lost)
                assert lost["error"]["request"]["id"] == request_id
                assert lost["error"]["request"]["dismissed"] is True
        assert request_row(app, request_id)["dismissed"] is True
        updates = [
            event["args"][0]
            for event in screen.get_received()
            if event["name"] == "request_updated" and event["args"][0]["id"] == request_id
        ]
        assert len(updates) == 1, (round_no, updates)
        assert updates[0]["dismissed"] is True
