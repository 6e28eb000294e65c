"""A clinic with a booked visit whose patient (a guest, by their link) and provider are in
the call: the setting of the chat, attachment and notes tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from app.extensions import db
from app.models import AuditEvent, Participant, Role
from app.services.clinics import add_member, create_clinic
from app.services.guests import link_token
from tests.conftest import Auth


def make_clinic(app, make_user, api) -> SimpleNamespace:
    """A clinic with two providers and a scheduler; `p` is the first provider's token."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    scheduler = make_user(Role.SCHEDULER, name="Sam Scheduler")
    with app.app_context():
        clinic_id = create_clinic("Wound care", "Riverside Health", "Europe/London").id
        for user in (provider, colleague, scheduler):
            add_member(clinic_id, user.email)
    return SimpleNamespace(
        id=clinic_id,
        provider=provider,
        colleague=colleague,
        scheduler=scheduler,
        p=api.token(provider),
    )


def book(api, clinic, patient: str = "Jo Bloggs", minutes_ahead: float = 3) -> int:
    start = (datetime.now(UTC) + timedelta(minutes=minutes_ahead)).replace(microsecond=0)
    body = {
        "clinic_id": clinic.id,
        "start": start.isoformat(),
        "patient": {"name": patient, "email": "patient@example.org"},
    }
    response = api.post("/visits", clinic.p, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def patient_of(app, visit_id: int) -> int:
    with app.app_context():
        return db.session.scalars(
            db.select(Participant.id).where(
                Participant.visit_id == visit_id, Participant.role == "patient"
            )
        ).one()


def guest_browser(app, visit_id: int) -> SimpleNamespace:
    """The patient's browser through their link: its client, its room page's CSRF token
    and its participant id."""
    with app.app_context():
        token = link_token(db.session.get(Participant, patient_of(app, visit_id)))
    browser = app.test_client()
    page = browser.get(f"/join/{token}")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
    return SimpleNamespace(
        client=browser, csrf=csrf.group(1), participant_id=patient_of(app, visit_id)
    )


def staff_browser(app, user):
    browser = app.test_client()
    Auth(browser).login(user)
    return browser


def in_call(app, api, clinic, socket_client, patient: str = "Jo Bloggs") -> SimpleNamespace:
    """A visit starting in 3 minutes with its patient and its provider both in the call,
    each with a Socket.IO connection (received events cleared)."""
    visit_id = book(api, clinic, patient)
    guest = guest_browser(app, visit_id)
    guest.socket = socket_client(flask_client=guest.client)
    assert guest.socket.emit("join_visit", {"visit_id": visit_id}, callback=True)["presence"] == (
        "waiting"
    )
    host = SimpleNamespace(client=staff_browser(app, clinic.provider))
    assert host.client.get(f"/visits/{visit_id}").status_code == 200
    host.socket = socket_client(flask_client=host.client)
    ack = host.socket.emit("join_visit", {"visit_id": visit_id}, callback=True)
    assert ack["presence"] == "admitted", ack
    assert presence_of(app, guest.participant_id) == "admitted"
    # Admitted, the room page joins again to take its place in the call (room.js).
    again = guest.socket.emit("join_visit", {"visit_id": visit_id}, callback=True)
    assert again["presence"] == "admitted"
    guest.socket.get_received()
    host.socket.get_received()
    return SimpleNamespace(visit_id=visit_id, guest=guest, host=host)


def presence_of(app, participant_id: int) -> str:
    with app.app_context():
        return db.session.get(Participant, participant_id).presence


def set_presence(app, participant_id: int, presence: str) -> None:
    with app.app_context():
        db.session.get(Participant, participant_id).presence = presence
        db.session.commit()


def received(socket, name: str) -> list[dict]:
    return [e["args"][0] for e in socket.get_received() if e["name"] == name]


def audit_actions(app, visit_id: int) -> list[tuple[str, str, dict]]:
    with app.app_context():
        return [
            (e.action, e.actor_kind, e.detail)
            for e in db.session.scalars(
                db.select(AuditEvent).where(AuditEvent.visit_id == visit_id).order_by(AuditEvent.id)
            )
        ]
