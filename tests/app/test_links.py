"""The telehealth connector and the six ways to hand out a visit's links: email or SMS
now, the patient's and the staff link to copy, the .ics, and a QR code."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from icalendar import Calendar

from app.extensions import db
from app.models import AuditEvent, Role
from app.services.clinics import add_member, create_clinic
from app.services.jobs import run_due
from tests.app.helpers import assert_error
from tests.mail import body_of

HOST_URL = "https://meet.example.com/host/dr-okafor?key=abc"
GUEST_URL = "https://meet.example.com/room/dr-okafor"


@pytest.fixture
def clinic(app, make_user, api):
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    scheduler = make_user(Role.SCHEDULER)
    with app.app_context():
        clinic_id = create_clinic("Wound care", "Riverside Health", "Europe/London").id
        for user in (provider, scheduler):
            add_member(clinic_id, user.email)
    return SimpleNamespace(
        id=clinic_id, provider=provider, p=api.token(provider), s=api.token(scheduler)
    )


def book(api, clinic, **extra) -> dict:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = {
        "clinic_id": clinic.id,
        "start": start.isoformat(),
        "patient": {"name": "Jo Bloggs", "email": "jo@example.org"},
        **extra,
    }
    response = api.post("/visits", clinic.p, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def register_room(api, clinic):
    response = api.put(
        "/providers/me/external-room",
        clinic.p,
        json={"label": "Zoom room", "host_url": HOST_URL, "guest_url": GUEST_URL},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# The external room ----------------------------------------------------------------------


def test_a_provider_registers_an_external_room_and_can_remove_it(api, clinic):
    room = register_room(api, clinic)

    assert (room["label"], room["host_url"], room["guest_url"]) == (
        "Zoom room",
        HOST_URL,
        GUEST_URL,
    )
    assert api.get("/providers/me/external-room", clinic.p).get_json()["guest_url"] == GUEST_URL
    assert api.call("DELETE", "/providers/me/external-room", clinic.p).status_code == 204
    assert_error(api.get("/providers/me/external-room", clinic.p), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host_url": "http://meet.example.com/h", "guest_url": GUEST_URL}, "host_url"),
        ({"host_url": HOST_URL, "guest_url": "javascript:alert(1)"}, "guest_url"),
        ({"host_url": HOST_URL}, "guest_url"),
        ({"host_url": HOST_URL, "guest_url": "https://" + "x" * 2000}, "guest_url"),
    ],
)
def test_room_links_must_be_https(api, clinic, body, field):
    error = assert_error(api.put("/providers/me/external-room", clinic.p, json=body), 422)

    assert field in error["fields"]


def test_a_visit_in_the_external_room_invites_with_its_guest_link(app, api, clinic, mailbox):
    register_room(api, clinic)

    row = book(api, clinic, external=True)
    with app.app_context():
        run_due()
    [message] = mailbox.wait_for(1)

    assert row["external"] is True
    assert GUEST_URL in body_of(message, "plain")
    assert "/join/" not in body_of(message, "plain")
    links = api.get(f"/visits/{row['id']}/links", clinic.s).get_json()
    assert links == {"patient_link": GUEST_URL, "staff_link": HOST_URL, "external": True}


def test_an_external_visit_needs_a_registered_room(api, clinic):
    body = {
        "clinic_id": clinic.id,
        "start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "patient": {"name": "Jo", "email": "jo@example.org"},
        "external": True,
    }

    error = assert_error(api.post("/visits", clinic.p, json=body), 422, "invalid")

    assert "external_room" in error["fields"]


# The six ways ---------------------------------------------------------------------------


def test_the_links_to_copy_are_the_patients_own_and_the_staff_room(app, api, clinic):
    row = book(api, clinic)

    links = api.get(f"/visits/{row['id']}/links", clinic.s).get_json()

    assert re.fullmatch(r"http://\S+/join/[A-Za-z0-9_-]{43}", links["patient_link"])
    assert links["staff_link"].endswith(f"/visits/{row['id']}")
    assert links["external"] is False
    with app.app_context():
        actions = [
            e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))
        ]
    assert actions[-1] == "links"


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_sending_the_link_now_goes_out_by_the_channel_asked(
    app, api, clinic, mailbox, caplog, channel
):
    import logging

    caplog.set_level(logging.INFO, logger="app")
    row = book(
        api, clinic, patient={"name": "Jo", "email": "jo@example.org", "mobile": "+44 7911 123456"}
    )
    with app.app_context():
        run_due()  # the invitations themselves
    mailbox.clear()
    caplog.clear()

    response = api.post(f"/visits/{row['id']}/send", clinic.s, json={"channel": channel})

    assert response.status_code == 202
    with app.app_context():
        assert run_due() == 1
    if channel == "email":
        [message] = mailbox.wait_for(1)
        assert "/join/" in body_of(message, "plain")
    else:
        assert any("SMS to +447911123456" in r.getMessage() for r in caplog.records)


def test_sending_by_a_channel_the_patient_has_no_contact_for_is_refused(api, clinic):
    row = book(api, clinic)  # email only

    error = assert_error(
        api.post(f"/visits/{row['id']}/send", clinic.s, json={"channel": "sms"}), 422
    )

    assert "mobile" in error["message"]
    assert_error(api.post(f"/visits/{row['id']}/send", clinic.s, json={"channel": "fax"}), 422)


def test_the_ics_downloads_as_a_calendar_entry(api, clinic):
    row = book(api, clinic)

    response = api.get(f"/visits/{row['id']}/appointment.ics", clinic.s)

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    [event] = Calendar.from_ical(response.data).walk("VEVENT")
    expected = datetime.fromisoformat(row["scheduled_for"].replace("Z", "+00:00"))
    assert event.decoded("dtstart") == expected


@pytest.mark.parametrize(
    ("kind", "mimetype", "magic"),
    [("svg", "image/svg+xml", b"<?xml"), ("png", "image/png", b"\x89PNG")],
)
def test_the_qr_code_of_the_patients_link(api, clinic, kind, mimetype, magic):
    row = book(api, clinic)

    response = api.get(f"/visits/{row['id']}/qr.{kind}", clinic.s)

    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.data.startswith(magic)


@pytest.mark.parametrize("path", ["links", "appointment.ics", "qr.svg"])
def test_another_clinics_visit_links_do_not_exist_for_you(api, clinic, make_user, path):
    row = book(api, clinic)
    stranger = api.token(make_user(Role.SCHEDULER))

    assert_error(api.get(f"/visits/{row['id']}/{path}", stranger), 404, "not_found")


def test_the_qr_code_carries_exactly_the_patients_link(app, api, clinic):
    import segno

    row = book(api, clinic)
    link = api.get(f"/visits/{row['id']}/links", clinic.s).get_json()["patient_link"]

    png = api.get(f"/visits/{row['id']}/qr.png", clinic.s).data

    import io

    expected = io.BytesIO()
    segno.make(link, error="m").save(expected, kind="png", scale=8, border=2)
    assert png == expected.getvalue()


def test_an_admin_reads_a_visits_audit_trail_and_nobody_else_does(app, api, clinic, make_user):
    row = book(api, clinic)
    api.get(f"/visits/{row['id']}", clinic.s)  # a view, audited
    admin = api.token(make_user(Role.ADMIN))

    trail = api.get(f"/visits/{row['id']}/audit", admin).get_json()

    assert [e["action"] for e in trail] == ["book", "view"]
    assert trail[0]["actor"]["kind"] == "user" and "Dr. Ada Okafor" in trail[0]["actor"]["label"]
    assert all(len(e["hash"]) == 64 for e in trail)
    assert_error(api.get(f"/visits/{row['id']}/audit", clinic.s), 403, "forbidden")
    assert_error(api.get("/visits/424242/audit", admin), 404, "not_found")
