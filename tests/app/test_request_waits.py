"""Never leave a requester wondering: their place in the provider's queue and the estimated
wait, kept live; the provider's repeated alert, the escalation email, and the expiry.

The background jobs run with the tests' own clock (`run_due(now)`); history is written as
request rows answered in the past, the way real answers leave them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, Role, SessionRequest
from app.services.jobs import claim_one, run_due, run_job
from app.services.request_timers import remind_provider
from app.services.session_requests import expire_request
from config import Config, ConfigError
from tests.app.helpers import assert_error, open_requests_of, request_row


@pytest.fixture
def queue(app, make_user, api, socket_client):
    """An available provider, three requesters (A, B, C) with tokens, and a fourth
    requester whose past requests make the provider's history."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor", services=["General"], available=True)
    requesters = [make_user(Role.REQUESTER, name=f"Station {n}") for n in "ABC"]
    return SimpleNamespace(
        provider=provider,
        p=api.token(provider),
        requesters=requesters,
        tokens=[api.token(r) for r in requesters],
        past=make_user(Role.REQUESTER, name="Station Past"),
        socket=lambda token: socket_client(auth={"token": token}),
    )


def answered_before(app, queue, seconds: list[float], days_ago: float = 0, **row) -> None:
    """Requests to the provider answered in the past, each after `seconds` of waiting."""
    answered_at = datetime.now(UTC) - timedelta(days=days_ago, minutes=5)
    with app.app_context():
        for waited in seconds:
            values = {"state": "accepted", **row}
            db.session.add(
                SessionRequest(
                    requester_id=queue.past.id,
                    provider_id=queue.provider.id,
                    created_at=answered_at - timedelta(seconds=waited),
                    updated_at=answered_at,
                    **values,
                )
            )
        db.session.commit()


def ask(api, queue, who: int) -> dict:
    response = api.post("/requests", queue.tokens[who], json={"provider_id": queue.provider.id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def read(api, queue, who: int, request_id: int) -> dict:
    response = api.get(f"/requests/{request_id}", queue.tokens[who])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def place(body: dict) -> tuple:
    return body.get("position"), body.get("estimated_wait_seconds")


def updates(sc) -> list[dict]:
    return [e["args"][0] for e in sc.get_received() if e["name"] == "request_updated"]


def created_at(app, request_id: int) -> datetime:
    with app.app_context():
        at = db.session.get(SessionRequest, request_id).created_at
        db.session.rollback()
        return at


def run_jobs(app, at: datetime) -> int:
    with app.app_context():
        return run_due(at)


# Place in line and estimated wait -------------------------------------------------------


def test_each_pending_request_knows_its_place_and_its_estimated_wait(app, api, queue):
    answered_before(app, queue, [60, 90, 120, 100_000])  # one very slow answer: the median

    made = [ask(api, queue, who) for who in range(3)]

    # The answer to asking says it at once.
    assert place(made[0]) == (1, 105)
    assert [place(read(api, queue, who, made[who]["id"])) for who in range(3)] == [
        (1, 105),
        (2, 210),
        (3, 315),
    ]
    # So does the requester's own dashboard snapshot.
    [mine] = open_requests_of(app, queue.requesters[2].id)
    assert place(mine) == (3, 315)


def test_with_too_little_recent_history_the_estimate_is_unknown(app, api, queue):
    answered_before(app, queue, [60, 90])  # two recent answers: fewer than 3
    answered_before(app, queue, [30, 30, 30], days_ago=20)  # beyond the 14 days looked at
    # Declined because the provider went away is not an answer (it would make a third).
    answered_before(app, queue, [5], state="declined", decline_reason="unavailable")

    body = read(api, queue, 0, ask(api, queue, 0)["id"])

    assert body["position"] == 1
    assert "estimated_wait_seconds" in body and body["estimated_wait_seconds"] is None


def test_the_needed_history_is_configurable(app, api, queue, monkeypatch):
    monkeypatch.setitem(app.config, "REQUEST_WAIT_MIN_ANSWERS", 2)
    answered_before(app, queue, [60, 90])

    assert place(ask(api, queue, 0)) == (1, 75)


def test_an_answered_request_carries_no_place_in_line(app, api, queue):
    request_id = ask(api, queue, 0)["id"]
    api.post(f"/requests/{request_id}/accept", queue.p)

    body = read(api, queue, 0, request_id)

    assert body["state"] == "accepted"
    assert "position" not in body and "estimated_wait_seconds" not in body


@pytest.mark.parametrize("how", ["accept", "decline", "cancel"])
def test_everyone_behind_moves_up_live_when_the_first_stops_waiting(app, api, queue, how):
    answered_before(app, queue, [60, 60, 60])
    first, second, third = (ask(api, queue, who)["id"] for who in range(3))
    sockets = [queue.socket(token) for token in queue.tokens]
    for sc in sockets:
        sc.get_received()

    token = queue.tokens[0] if how == "cancel" else queue.p
    assert api.post(f"/requests/{first}/{how}", token).status_code == 200

    [own] = updates(sockets[0])
    assert own["state"] != "pending" and "position" not in own
    [moved_b] = updates(sockets[1])
    [moved_c] = updates(sockets[2])
    assert (moved_b["id"], moved_b["state"]) == (second, "pending")
    assert moved_c["id"] == third
    # An answer adds to the history (a quick one here: median of 0, 60, 60, 60 is 60).
    assert place(moved_b) == (1, 60)
    assert place(moved_c) == (2, 120)
    # Each on the requester's own stream, at the next version.
    assert moved_b["stream"] == f"requester:{queue.requesters[1].id}"
    assert place(read(api, queue, 2, third)) == (2, 120)


def test_nobody_else_hears_of_a_queue_they_are_not_in(app, api, queue, make_user):
    first = ask(api, queue, 0)["id"]
    ask(api, queue, 1)
    elsewhere = make_user(Role.PROVIDER, available=True)
    bystander_token = api.token(make_user(Role.REQUESTER))
    api.post("/requests", bystander_token, json={"provider_id": elsewhere.id})
    bystander = queue.socket(bystander_token)
    bystander.get_received()

    api.post(f"/requests/{first}/accept", queue.p)

    assert bystander.get_received() == []


def test_a_requester_cannot_read_another_requesters_request(app, api, queue, make_user):
    theirs = ask(api, queue, 0)["id"]
    other_provider_token = api.token(make_user(Role.PROVIDER))

    assert_error(api.get(f"/requests/{theirs}", queue.tokens[1]), 404, "not_found")
    assert_error(api.get(f"/requests/{theirs}", other_provider_token), 404, "not_found")
    assert api.get(f"/requests/{theirs}", queue.p).get_json()["position"] == 1


# The provider's alert repeats; then an email --------------------------------------------


def test_the_providers_alert_repeats_while_nobody_answers(app, api, queue, socket_client):
    request_id = ask(api, queue, 0)["id"]
    start = created_at(app, request_id)
    provider = socket_client(auth={"token": queue.p})
    provider.get_received()

    def reminders(at: datetime) -> list[dict]:
        run_jobs(app, at)
        return [e["args"][0] for e in provider.get_received() if e["name"] == "request_reminded"]

    assert reminders(start + timedelta(seconds=29)) == []
    [reminder] = reminders(start + timedelta(seconds=30))
    assert (reminder["id"], reminder["state"]) == (request_id, "pending")
    assert reminder["stream"] == f"provider:{queue.provider.id}"
    assert reminders(start + timedelta(seconds=31)) == []  # once per repeat
    assert len(reminders(start + timedelta(seconds=61))) == 1

    api.post(f"/requests/{request_id}/accept", queue.p)

    assert reminders(start + timedelta(seconds=95)) == []
    with app.app_context():  # the chain of reminders ended with the answer
        assert (
            db.session.scalar(
                select(func.count(Job.id)).where(
                    Job.kind == "request_remind", Job.done_at.is_(None)
                )
            )
            == 0
        )
        db.session.rollback()


def test_a_reminder_run_again_after_its_lease_ran_out_is_not_repeated(
    app, api, queue, socket_client
):
    request_id = ask(api, queue, 0)["id"]
    at = created_at(app, request_id) + timedelta(seconds=30)
    provider = socket_client(auth={"token": queue.p})
    provider.get_received()

    with app.app_context():
        job_id = claim_one(at)
        job = db.session.get(Job, job_id)
        remind_provider(job, at)  # the first attempt, slow to finish
        remind_provider(db.session.get(Job, job_id), at)  # a second one, after its lease
        run_job(job_id, at)
        next_reminders = db.session.scalar(
            select(func.count(Job.id)).where(Job.kind == "request_remind", Job.done_at.is_(None))
        )
        db.session.rollback()

    assert [e["name"] for e in provider.get_received()] == ["request_reminded"]  # once
    assert next_reminders == 1  # one chain, never two


def test_an_unanswered_request_is_escalated_to_the_provider_by_email_once(app, api, queue, mailbox):
    request_id = ask(api, queue, 0)["id"]
    start = created_at(app, request_id)

    run_jobs(app, start + timedelta(seconds=119))
    assert mailbox.messages == []
    run_jobs(app, start + timedelta(minutes=2))
    run_jobs(app, start + timedelta(minutes=3))

    [message] = mailbox.wait_for(1)
    assert message["To"] == queue.provider.email
    assert message["Subject"] == "Station A is waiting for your answer"
    body = message.get_body(("plain",)).get_content()
    assert "still waiting for your answer" in body and "/provider" in body
    assert len(mailbox.messages) == 1


def test_an_answered_request_is_never_escalated(app, api, queue, mailbox):
    request_id = ask(api, queue, 0)["id"]
    start = created_at(app, request_id)
    api.post(f"/requests/{request_id}/decline", queue.p, json={})

    run_jobs(app, start + timedelta(minutes=3))

    assert mailbox.messages == []


def test_an_escalation_the_mail_server_refused_is_tried_again(app, api, queue, mailbox):
    request_id = ask(api, queue, 0)["id"]
    start = created_at(app, request_id)
    mailbox.down = True
    run_jobs(app, start + timedelta(minutes=2))
    mailbox.down = False

    run_jobs(app, start + timedelta(minutes=3))

    assert len(mailbox.wait_for(1)) == 1


# Expiry ---------------------------------------------------------------------------------


def test_an_unanswered_request_expires_once_and_the_requester_is_told(app, api, queue):
    first = ask(api, queue, 0)["id"]
    second = ask(api, queue, 1)["id"]
    start = created_at(app, first)
    waiting, behind, provider = (
        queue.socket(queue.tokens[0]),
        queue.socket(queue.tokens[1]),
        queue.socket(queue.p),
    )
    for sc in (waiting, behind, provider):
        sc.get_received()
    # Only the first is old enough to expire: the second was asked later.
    with app.app_context():
        db.session.execute(
            db.update(Job)
            .where(Job.kind == "request_expire", Job.payload["request_id"].as_integer() == second)
            .values(due_at=start + timedelta(minutes=20))
        )
        db.session.commit()

    run_jobs(app, start + timedelta(minutes=10))

    assert request_row(app, first)["state"] == "expired"
    [told] = updates(waiting)
    assert (told["id"], told["state"], told["provider"]["name"]) == (
        first,
        "expired",
        "Dr. Ada Okafor",
    )
    [gone] = updates(provider)
    assert (gone["id"], gone["state"]) == (first, "expired")
    [moved] = updates(behind)
    assert (moved["id"], place(moved)) == (second, (1, None))

    run_jobs(app, start + timedelta(minutes=15))  # never twice
    assert updates(waiting) == []
    # It stays on the requester's screen until read, and does not block asking again.
    assert [(r["id"], r["state"]) for r in open_requests_of(app, queue.requesters[0].id)] == [
        (first, "expired")
    ]
    again = ask(api, queue, 0)
    assert again["state"] == "pending"
    assert [r["id"] for r in open_requests_of(app, queue.requesters[0].id)] == [again["id"]]


def test_an_expired_request_can_be_dismissed(app, api, queue):
    request_id = ask(api, queue, 0)["id"]
    run_jobs(app, created_at(app, request_id) + timedelta(minutes=10))

    response = api.post(f"/requests/{request_id}/dismiss", queue.tokens[0])

    assert response.status_code == 200
    assert response.get_json()["dismissed"] is True
    assert open_requests_of(app, queue.requesters[0].id) == []


def test_accepting_after_the_expiry_is_a_conflict_with_the_state_that_won(app, api, queue):
    request_id = ask(api, queue, 0)["id"]
    run_jobs(app, created_at(app, request_id) + timedelta(minutes=10))

    error = assert_error(api.post(f"/requests/{request_id}/accept", queue.p), 409, "conflict")

    assert error["state"] == "expired"
    assert request_row(app, request_id)["visit_id"] is None


def test_the_expiry_after_an_accept_changes_nothing(app, api, queue):
    request_id = ask(api, queue, 0)["id"]
    api.post(f"/requests/{request_id}/accept", queue.p)
    requester = queue.socket(queue.tokens[0])
    requester.get_received()

    run_jobs(app, created_at(app, request_id) + timedelta(minutes=10))

    assert request_row(app, request_id)["state"] == "accepted"
    assert updates(requester) == []


def accept_racing_expiry(app, api, queue, request_id: int, expiry: datetime):
    """The provider's accept and the expiry job's effect, released together; the accept's
    answer. (The job's claim runs it once: test_an_unanswered_request_expires_once….)"""
    barrier = threading.Barrier(2, timeout=30)
    answer = {}

    def accept():
        client = app.test_client()  # one per thread: test clients are not shared
        barrier.wait()
        answer["response"] = api.post(f"/requests/{request_id}/accept", queue.p, client=client)

    def expire():
        with app.app_context():
            barrier.wait()
            expire_request(request_id, expiry)  # what the request_expire job does

    threads = [threading.Thread(target=accept), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answer["response"]


def test_accept_racing_the_expiry_has_exactly_one_winner(app, api, queue):
    for round_no in range(8):
        request_id = ask(api, queue, 0)["id"]
        expiry = created_at(app, request_id) + timedelta(minutes=10)

        response = accept_racing_expiry(app, api, queue, request_id, expiry)

        state = request_row(app, request_id)["state"]
        if response.status_code == 200:
            assert state == "accepted", round_no
            api.post(f"/visits/{response.get_json()['visit_id']}/end", queue.p)
        else:
            error = assert_error(response, 409, "conflict")
            assert (state, error["state"]) == ("expired", "expired"), round_no


# Settings ------------------------------------------------------------------------------


def test_an_escalation_after_the_expiry_is_refused_at_start():
    env = {"ANTEROOM_ENV": "test", "SECRET_KEY": "x"}

    with pytest.raises(ConfigError, match="REQUEST_ESCALATE_AFTER_SECONDS must be shorter"):
        Config.from_env(
            {**env, "REQUEST_ESCALATE_AFTER_SECONDS": "600", "REQUEST_EXPIRE_AFTER_SECONDS": "600"}
        )
    config = Config.from_env({**env, "REQUEST_EXPIRE_AFTER_SECONDS": "900"})
    expire, escalate = config.REQUEST_EXPIRE_AFTER, config.REQUEST_ESCALATE_AFTER
    assert (expire, escalate) == (timedelta(minutes=15), timedelta(minutes=2))
