"""Guests join booked visits from their link: when the link works, the guest session, the
waiting room, the provider taking the patient, leaving, a colleague taking over, the end;
and how the schedule row follows every step."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import AuditEvent, Participant, Role, Visit
from app.realtime import authority
from app.services.clinics import add_member, create_clinic
from app.services.guests import link_token
from app.services.schedule import schedule_row
from tests.conftest import Auth


@pytest.fixture
def clinic(app, make_user, api):
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    third = make_user(Role.PROVIDER, name="Dr. Cy Third")
    with app.app_context():
        clinic_id = create_clinic("Wound care", "Riverside Health", "Europe/London").id
        for user in (provider, colleague, third):
            add_member(clinic_id, user.email)
    return SimpleNamespace(
        id=clinic_id, provider=provider, colleague=colleague, third=third, p=api.token(provider)
    )


def book(api, clinic, minutes_ahead: float) -> int:
    start = (datetime.now(UTC) + timedelta(minutes=minutes_ahead)).replace(microsecond=0)
    body = {
        "clinic_id": clinic.id,
        "start": start.isoformat(),
        "patient": {"name": "Jo Bloggs", "email": "jo@example.org"},
    }
    response = api.post("/visits", clinic.p, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def token_of(app, visit_id: int) -> str:
    with app.app_context():
        guest = db.session.scalars(
            db.select(Participant).where(
                Participant.visit_id == visit_id, Participant.role == "patient"
            )
        ).one()
        return link_token(guest)


def row(app, visit_id: int) -> dict:
    with app.app_context():
        found = schedule_row(db.session.get(Visit, visit_id))
        db.session.rollback()
        return found


def room_config(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="room-config">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))


@pytest.fixture
def soon(app, api, clinic):
    """A visit starting in 3 minutes: its waiting room is open, its patient online once
    they wait. `guest` is the patient's browser, already through the link."""
    visit_id = book(api, clinic, 3)
    guest = app.test_client()
    response = guest.get(f"/join/{token_of(app, visit_id)}")
    assert response.status_code == 200
    return SimpleNamespace(visit_id=visit_id, guest=guest, page=response.get_data(as_text=True))


def staff_socket(app, user, socket_client):
    browser = app.test_client()
    Auth(browser).login(user)
    return browser, socket_client(flask_client=browser)


# The link -------------------------------------------------------------------------------


def test_the_link_opens_the_waiting_room_as_the_patient(app, soon):
    config = room_config(soon.page)

    assert config["me"]["role"] == "patient"
    assert config["me"]["name"] == "Jo Bloggs"
    assert config["visit"]["id"] == soon.visit_id
    assert config["back_url"] is None
    with soon.guest.session_transaction() as session:
        assert session["guest"] == config["me"]["participant_id"]
        assert "_user_id" not in session
    cookie = [h for h in [soon.guest.get_cookie("anteroom_session")] if h][0]
    assert cookie.http_only


def test_opening_a_link_is_audited_as_the_guest(app, soon):
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEvent)
            .where(AuditEvent.visit_id == soon.visit_id)
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor_kind) for e in entries] == [
            ("book", "user"),
            ("open_link", "guest"),
        ]


def test_a_link_opened_early_shows_the_appointment_and_when_its_room_opens(app, api, clinic):
    visit_id = book(api, clinic, 24 * 60)
    guest = app.test_client()

    response = guest.get(f"/join/{token_of(app, visit_id)}")

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Your video appointment" in text and "Riverside Health" in text
    assert "The waiting room opens at" in text
    assert 'id="room-config"' not in text  # no room, no camera
    with guest.session_transaction() as session:
        assert "guest" not in session


@pytest.mark.parametrize("token", ["x" * 43, "short", "y" * 200])
def test_a_wrong_link_is_a_clear_404(client, token):
    response = client.get(f"/join/{token}")

    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "This link does not work" in text
    assert "Traceback" not in text


def test_guessing_links_is_slowed_down(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LINK_ATTEMPT_LIMIT", "3/minute")
    for _ in range(3):
        assert client.get("/join/" + "z" * 43).status_code == 404

    response = client.get("/join/" + "z" * 43)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_a_link_of_an_ended_visit_says_it_is_over(app, api, clinic, soon, socket_client):
    _, host = staff_socket(app, clinic.provider, socket_client)
    host.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    api.post(f"/visits/{soon.visit_id}/end", clinic.p)

    response = app.test_client().get(f"/join/{token_of(app, soon.visit_id)}")

    assert response.status_code == 410
    assert "This appointment is over" in response.get_data(as_text=True)


# The waiting room and the call -----------------------------------------------------------


def test_the_guest_waits_and_the_row_turns_green_with_the_waiting_time(app, soon, socket_client):
    guest = socket_client(flask_client=soon.guest)

    ack = guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)

    assert ack["presence"] == "waiting"
    found = row(app, soon.visit_id)
    assert (found["state"], found["status"]) == ("open", "patient_online")
    assert found["waiting_since"] is not None


def test_a_patient_waiting_early_is_not_online_until_five_minutes_before(
    app, api, clinic, socket_client
):
    visit_id = book(api, clinic, 20)  # the link works 30 minutes ahead
    guest = app.test_client()
    guest.get(f"/join/{token_of(app, visit_id)}")
    socket_client(flask_client=guest).emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert row(app, visit_id)["status"] == "scheduled"


def test_a_guest_follows_no_dashboard_and_reaches_no_other_visit(
    app, api, clinic, soon, socket_client
):
    other_visit = book(api, clinic, 3)
    guest = socket_client(flask_client=soon.guest)

    assert [e["name"] for e in guest.get_received()] == []  # no snapshots
    assert (
        guest.emit("resync", {"stream": "directory"}, callback=True)["error"]["code"] == "forbidden"
    )
    other = guest.emit("join_visit", {"visit_id": other_visit}, callback=True)
    assert other["error"]["code"] == "not_found"


def test_the_provider_takes_the_patient_and_the_row_shows_them_with_the_patient(
    app, clinic, soon, socket_client
):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    browser, host = staff_socket(app, clinic.provider, socket_client)

    assert browser.get(f"/visits/{soon.visit_id}").status_code == 200
    ack = host.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)

    assert ack["presence"] == "admitted"
    admitted = [
        e["args"][0]["participant"]
        for e in guest.get_received()
        if e["name"] == "participant_updated"
    ]
    assert any(p["role"] == "patient" and p["presence"] == "admitted" for p in admitted)
    found = row(app, soon.visit_id)
    assert (found["status"], found["provider_name"]) == ("session_running", "Dr. Ada Okafor")


def test_leaving_puts_the_patient_back_for_a_colleague_who_takes_them(
    app, clinic, soon, socket_client
):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    _, host = staff_socket(app, clinic.provider, socket_client)
    host.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)

    host.emit("leave_visit", {"visit_id": soon.visit_id}, callback=True)  # Leave session

    assert row(app, soon.visit_id)["status"] == "patient_online"
    colleague_browser, colleague = staff_socket(app, clinic.colleague, socket_client)
    assert colleague_browser.get(f"/visits/{soon.visit_id}").status_code == 200
    assert colleague.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)["presence"] == (
        "admitted"
    )
    found = row(app, soon.visit_id)
    assert (found["status"], found["provider_name"]) == ("session_running", "Dr. Ben Lindqvist")
    # No second provider takes a patient who is with a colleague.
    third_browser = app.test_client()
    Auth(third_browser).login(clinic.third)
    refused = third_browser.get(f"/visits/{soon.visit_id}")
    assert refused.status_code == 409
    assert "Dr. Ben Lindqvist is with the patient" in refused.get_data(as_text=True)


def test_ending_the_consultation_tells_the_guest_and_closes_their_link(
    app, api, clinic, soon, socket_client
):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    _, host = staff_socket(app, clinic.provider, socket_client)
    host.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    guest.get_received()

    assert api.post(f"/visits/{soon.visit_id}/end", clinic.p).status_code == 200

    ended = [e["args"][0] for e in guest.get_received() if e["name"] == "visit_ended"]
    assert ended == [{"visit_id": soon.visit_id, "reason": "ended"}]
    assert row(app, soon.visit_id)["status"] == "completed"
    with app.app_context():
        authority.sweep()
    assert not guest.is_connected()  # their session ended with the visit


def test_cancelling_closes_the_guests_waiting_room(app, api, clinic, soon, socket_client):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    guest.get_received()

    api.post(f"/visits/{soon.visit_id}/cancel", clinic.p)

    ended = [e["args"][0] for e in guest.get_received() if e["name"] == "visit_ended"]
    assert ended == [{"visit_id": soon.visit_id, "reason": "cancelled"}]
    assert soon.guest.get(f"/join/{token_of(app, soon.visit_id)}").status_code == 410


def test_a_provider_of_another_clinic_cannot_take_the_patient(app, clinic, soon, make_user):
    stranger = app.test_client()
    Auth(stranger).login(make_user(Role.PROVIDER))

    assert stranger.get(f"/visits/{soon.visit_id}").status_code == 404


def test_arrivals_and_takes_are_audited(app, clinic, soon, socket_client):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    colleague_browser = app.test_client()
    Auth(colleague_browser).login(clinic.colleague)
    colleague_browser.get(f"/visits/{soon.visit_id}")

    with app.app_context():
        actions = [
            (e.action, e.actor_kind)
            for e in db.session.scalars(
                db.select(AuditEvent)
                .where(AuditEvent.visit_id == soon.visit_id)
                .order_by(AuditEvent.id)
            )
        ]
    assert actions == [
        ("book", "user"),
        ("open_link", "guest"),
        ("enter", "guest"),
        ("take", "user"),
    ]


def test_guest_sockets_are_counted_apart_from_users(app, soon, socket_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_SOCKETS_PER_USER", 1)
    assert socket_client(flask_client=soon.guest).is_connected()
    assert not socket_client(flask_client=soon.guest).is_connected()  # the same guest again


def test_a_patient_waiting_early_turns_green_on_the_stream_at_five_minutes_before(
    app, api, clinic, socket_client
):
    """Nothing happens at T-5 but the time: the schedule_tick job publishes the row then."""
    from app.services.jobs import run_due

    visit_id = book(api, clinic, 25)
    with app.app_context():
        run_due()  # the invitation goes out (and its row is republished) first
    member = app.test_client()
    Auth(member).login(clinic.colleague)
    schedule = socket_client(flask_client=member)
    schedule.get_received()
    guest = app.test_client()
    guest.get(f"/join/{token_of(app, visit_id)}")
    socket_client(flask_client=guest).emit("join_visit", {"visit_id": visit_id}, callback=True)

    def statuses():
        return [
            e["args"][0]["status"]
            for e in schedule.get_received()
            if e["name"] == "visit_updated" and e["args"][0]["id"] == visit_id
        ]

    assert statuses()[-1] == "scheduled"  # waiting, but 25 minutes early
    start = datetime.fromisoformat(row(app, visit_id)["scheduled_for"].replace("Z", "+00:00"))
    with app.app_context():
        run_due(start - timedelta(minutes=5, seconds=1))
    assert statuses() == []  # not yet
    with app.app_context():
        run_due(start - timedelta(minutes=5))
    [status] = statuses()
    assert status == "patient_online"


# One-way messages to the waiting room ----------------------------------------------------


def test_staff_write_to_the_waiting_room_and_guests_read_it_live_and_on_arrival(
    app, api, clinic, soon, socket_client
):
    guest = socket_client(flask_client=soon.guest)
    guest.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    guest.get_received()

    posted = api.post(
        f"/visits/{soon.visit_id}/waiting-messages",
        clinic.p,
        json={"text": "Running 10 minutes late"},
    )

    assert posted.status_code == 201
    [live] = [e["args"][0] for e in guest.get_received() if e["name"] == "waiting_message"]
    assert (live["text"], live["author"]) == ("Running 10 minutes late", "Dr. Ada Okafor")
    # Someone arriving later reads what was written before.
    second_tab = socket_client(flask_client=soon.guest)
    ack = second_tab.emit("join_visit", {"visit_id": soon.visit_id}, callback=True)
    assert [m["text"] for m in ack["messages"]] == ["Running 10 minutes late"]
    listed = api.get(f"/visits/{soon.visit_id}/waiting-messages", clinic.p).get_json()
    assert [m["text"] for m in listed] == ["Running 10 minutes late"]


def test_guests_cannot_write_to_the_waiting_room(app, soon, socket_client):
    guest = socket_client(flask_client=soon.guest)

    sent = guest.emit("waiting_message", {"visit_id": soon.visit_id, "text": "hi"}, callback=True)
    by_page = soon.guest.post(
        f"/api/v1/visits/{soon.visit_id}/waiting-messages", json={"text": "hi"}
    )

    assert sent["error"]["code"] == "not_found"  # no such event for anyone
    assert by_page.status_code in (400, 401)


@pytest.mark.parametrize("text", ["", "   ", "x" * 501, None, 7])
def test_a_waiting_room_message_needs_some_text(api, clinic, soon, text):
    response = api.post(f"/visits/{soon.visit_id}/waiting-messages", clinic.p, json={"text": text})

    assert response.status_code == 422


def test_nobody_writes_to_another_clinics_or_a_finished_visit(api, clinic, soon, make_user):
    stranger = api.token(make_user(Role.PROVIDER))
    url = f"/visits/{soon.visit_id}/waiting-messages"

    assert api.post(url, stranger, json={"text": "hello"}).status_code == 404
    api.post(f"/visits/{soon.visit_id}/cancel", clinic.p)
    assert api.post(url, clinic.p, json={"text": "hello"}).status_code == 409
