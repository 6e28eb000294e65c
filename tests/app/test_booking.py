"""Booking visits ahead: the form's rules, the patient record, the invitations sent by the
background jobs to a real SMTP server, reminders, retries, cancel, reinvite, complete."""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Job, Participant, Patient, Role, Visit
from app.services.clinics import add_member, create_clinic
from app.services.jobs import run_due
from tests.app.helpers import assert_error
from tests.mail import attachment, body_of

LONDON = "Europe/London"


@pytest.fixture
def clinic(app, make_user, api):
    """A clinic in London with a provider and a scheduler, and a provider elsewhere."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    scheduler = make_user(Role.SCHEDULER, name="Sam Scheduler")
    outsider = make_user(Role.PROVIDER, name="Dr. Out Sider")
    with app.app_context():
        clinic = create_clinic("Wound care", "Riverside Health", LONDON)
        for user in (provider, colleague, scheduler):
            add_member(clinic.id, user.email)
        other = create_clinic("Elsewhere", "Riverside Health", "America/New_York")
        add_member(other.id, outsider.email)
        ids = SimpleNamespace(id=clinic.id, other_id=other.id)
    return SimpleNamespace(
        id=ids.id,
        other_id=ids.other_id,
        provider=provider,
        colleague=colleague,
        scheduler=scheduler,
        outsider=outsider,
        p=api.token(provider),
        s=api.token(scheduler),
        o=api.token(outsider),
    )


def in_hours(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def booking(clinic, start: datetime | None = None, **extra) -> dict:
    body = {
        "clinic_id": clinic.id,
        "start": (start or in_hours(48)).isoformat(),
        "patient": {"name": "Jo Bloggs", "email": "jo@example.org", "mrn": "MRN-1"},
    }
    body.update(extra)
    return body


def book(api, clinic, token=None, **extra) -> dict:
    response = api.post("/visits", token or clinic.s, json=booking(clinic, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rows_of(app, model, **where):
    with app.app_context():
        rows = db.session.scalars(select(model).filter_by(**where).order_by(model.id)).all()
        db.session.expunge_all()
        return rows


# Booking --------------------------------------------------------------------------------


def test_a_scheduler_books_a_visit_for_a_provider_of_the_clinic(app, api, clinic):
    start = in_hours(48)

    row = book(api, clinic, start=start, host_id=clinic.provider.id, duration_minutes=30)

    assert row["status"] == "scheduled" and row["status_label"] == "Scheduled"
    assert row["scheduled_for"] == start.isoformat().replace("+00:00", "Z")
    assert (row["host"]["name"], row["duration_minutes"]) == ("Dr. Ada Okafor", 30)
    assert row["patient"] == {"id": row["patient"]["id"], "name": "Jo Bloggs", "mrn": "MRN-1"}
    [visit] = rows_of(app, Visit, id=row["id"])
    assert (visit.source, visit.state, visit.clinic_id) == ("invite", "scheduled", clinic.id)
    people = rows_of(app, Participant, visit_id=visit.id)
    assert sorted(p.role for p in people) == ["host", "patient"]
    guest = next(p for p in people if p.role == "patient")
    assert guest.token_hash and guest.link_nonce and guest.user_id is None
    [entry] = rows_of(app, AuditEvent, visit_id=visit.id)
    assert (entry.action, entry.actor_id, entry.patient_id) == (
        "book",
        clinic.scheduler.id,
        visit.patient_id,
    )


def test_a_provider_books_for_themselves_by_default(api, clinic):
    row = book(api, clinic, token=clinic.p)

    assert row["host"]["id"] == clinic.provider.id


def test_an_invitation_and_reminders_wait_as_jobs_for_each_contact(app, api, clinic):
    row = book(
        api,
        clinic,
        start=in_hours(48),
        host_id=clinic.provider.id,
        patient={"name": "Jo Bloggs", "email": "jo@example.org", "mobile": "+44 7911 123456"},
        participants=[
            {"name": "Ann Interpreter", "email": "ann@example.org", "description": "Interpreter"}
        ],
    )

    jobs = rows_of(app, Job, visit_id=row["id"])
    kinds = sorted((j.kind, j.payload.get("channel")) for j in jobs)
    assert kinds == sorted(
        [("send_invite", "email"), ("send_invite", "sms"), ("send_invite", "email")]
        + [("send_reminder", "email"), ("send_reminder", "sms"), ("send_reminder", "email")] * 2
        + [("schedule_tick", None)]
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient": {"name": "Jo Bloggs"}}, "patient.email"),  # no contact at all
        ({"patient": {"email": "jo@example.org"}}, "patient.name"),
        ({"patient": {"name": "Jo", "email": "not-an-email"}}, "patient.email"),
        ({"patient": {"name": "Jo", "mobile": "12345"}}, "patient.mobile"),
        ({"patient": "Jo"}, "patient"),
        ({"start": "2020-01-01T10:00:00+00:00"}, "start"),  # in the past
        ({"start": "2030-01-01T10:00:00"}, "start"),  # no offset
        ({"start": "tomorrow"}, "start"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 24 * 60}, "duration_minutes"),
        ({"duration_minutes": "15"}, "duration_minutes"),
        ({"participants": [{"name": "Ann"}]}, "participants.0.email"),
        ({"participants": [{"email": "x@example.org"}] * 4}, "participants"),
    ],
)
def test_bad_input_is_named_on_its_field_and_nothing_is_saved(app, api, clinic, change, field):
    body = booking(clinic, host_id=clinic.provider.id)
    body.update(change)

    error = assert_error(api.post("/visits", clinic.s, json=body), 422, "invalid")

    assert field in error["fields"], error
    for model in (Visit, Patient, Job, AuditEvent):
        assert rows_of(app, model) == []


def test_a_scheduler_must_name_the_host(api, clinic):
    error = assert_error(api.post("/visits", clinic.s, json=booking(clinic)), 422, "invalid")

    assert "host_id" in error["fields"]


@pytest.mark.parametrize("who", ["outsider", "unknown"])
def test_only_a_provider_of_the_clinic_can_host(api, clinic, who):
    host_id = clinic.outsider.id if who == "outsider" else 424242

    response = api.post("/visits", clinic.s, json=booking(clinic, host_id=host_id))

    assert assert_error(response, 422, "invalid")["fields"]["host_id"]


def test_another_clinics_schedule_is_not_found(api, clinic):
    response = api.post("/visits", clinic.o, json=booking(clinic))

    assert_error(response, 404, "not_found")


def test_a_known_mrn_reuses_the_patient_record_with_the_new_contact_details(app, api, clinic):
    first = book(api, clinic, token=clinic.p)
    second = book(
        api,
        clinic,
        token=clinic.p,
        patient={"name": "Jo Bloggs", "mobile": "+44 7911 123456", "mrn": "MRN-1"},
    )

    assert first["patient"]["id"] == second["patient"]["id"]
    [record] = rows_of(app, Patient)
    assert (record.email, record.mobile) == ("jo@example.org", "+447911123456")
    third = book(api, clinic, token=clinic.p, patient={"name": "Jo Bloggs", "email": "j@x.org"})
    assert third["patient"]["id"] != first["patient"]["id"]  # no MRN: a record of its own


# Messages -------------------------------------------------------------------------------


def test_the_invitation_arrives_with_the_time_in_the_clinics_zone_a_link_and_an_ics(
    app, api, clinic, mailbox
):
    start = datetime(2031, 7, 1, 13, 30, tzinfo=UTC)  # 14:30 in London (summer time)
    row = book(api, clinic, token=clinic.p, start=start)

    with app.app_context():
        assert run_due() >= 1
    [message] = mailbox.wait_for(1)

    assert message["To"] == "jo@example.org"
    assert message["Subject"] == "Your video appointment with Riverside Health"
    text, html = body_of(message, "plain"), body_of(message, "html")
    for body in (text, html):
        assert "Jo Bloggs" in body
        assert "Tuesday 1 July 2031, 14:30 (Europe/London)" in body
        assert "Dr. Ada Okafor" in body
    link = re.search(r"(http://\S+/join/[A-Za-z0-9_-]{43})", text).group(1)
    assert f'href="{link}"' in html
    calendar = Calendar.from_ical(attachment(message, "appointment.ics"))
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=15)
    assert str(event.get("url")) == link
    with app.app_context():
        from app.services.schedule import schedule_row

        visit = db.session.get(Visit, row["id"])
        [patient] = [p for p in schedule_row(visit)["participants"] if p["role"] == "patient"]
        assert patient["delivery"]["state"] == "sent"


def test_each_participant_gets_their_own_link(app, api, clinic, mailbox):
    book(
        api,
        clinic,
        token=clinic.p,
        participants=[{"name": "Ann Interpreter", "email": "ann@example.org"}],
    )

    with app.app_context():
        run_due()
    messages = mailbox.wait_for(2)

    links = {re.search(r"/join/(\S{43})", body_of(m, "plain")).group(1) for m in messages}
    assert len(links) == 2


def test_a_mail_server_that_is_down_never_loses_the_visit_and_it_goes_out_later(
    app, api, clinic, mailbox
):
    mailbox.down = True
    row = book(api, clinic, token=clinic.p)
    now = datetime.now(UTC)

    with app.app_context():
        assert run_due(now) == 0
        [job] = [j for j in db.session.scalars(select(Job)) if j.kind == "send_invite"]
        assert job.attempts == 1 and job.done_at is None
        assert "the mail server refused" in job.last_error
        assert job.locked_until > now  # tried again after a back-off, not at once
        from app.services.schedule import schedule_row

        [patient] = [p for p in schedule_row(db.session.get(Visit, row["id"]))["participants"]]
        assert patient["delivery"]["state"] == "pending"
        assert patient["delivery"]["error"]
        mailbox.down = False
        assert run_due(now) == 0  # still backing off
        assert run_due(now + timedelta(minutes=1)) == 1
    assert len(mailbox.wait_for(1)) == 1
    assert rows_of(app, Visit, id=row["id"])


def test_after_the_last_try_the_error_is_shown(app, api, clinic, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 2)
    mailbox.down = True
    row = book(api, clinic, token=clinic.p)
    now = datetime.now(UTC)

    with app.app_context():
        run_due(now)
        run_due(now + timedelta(hours=2))
        [job] = [j for j in db.session.scalars(select(Job)) if j.kind == "send_invite"]
        assert job.failed_at is not None and job.attempts == 2
        from app.services.schedule import schedule_row

        [patient] = schedule_row(db.session.get(Visit, row["id"]))["participants"]
        assert patient["delivery"]["state"] == "failed"
        assert "451" in patient["delivery"]["error"]
        assert run_due(now + timedelta(days=1)) == 0  # given up: never tried again


def test_reminders_go_out_once_each_at_their_time(app, api, clinic, mailbox):
    start = in_hours(48)
    book(api, clinic, token=clinic.p, start=start)
    with app.app_context():
        run_due()
    mailbox.wait_for(1)
    mailbox.clear()

    with app.app_context():
        assert run_due(start - timedelta(hours=24, minutes=1)) == 0
        assert run_due(start - timedelta(hours=24)) == 1
        assert run_due(start - timedelta(hours=23)) == 0  # never twice
        assert run_due(start - timedelta(minutes=15)) == 1
        assert run_due(start - timedelta(minutes=5)) == 1  # the tick that turns rows green
    messages = mailbox.wait_for(2)
    assert [m["Subject"] for m in messages] == [
        "Reminder: your video appointment with Riverside Health"
    ] * 2


def test_a_visit_booked_ten_minutes_ahead_gets_no_reminder(app, api, clinic):
    row = book(api, clinic, token=clinic.p, start=in_hours(1 / 6))

    kinds = [j.kind for j in rows_of(app, Job, visit_id=row["id"])]
    assert "send_reminder" not in kinds


def test_development_without_a_mail_server_logs_the_message(app, api, clinic, caplog):
    caplog.set_level(logging.INFO, logger="app")
    book(api, clinic, token=clinic.p)

    with app.app_context():
        assert run_due() == 1

    assert any("Jo Bloggs" in r.getMessage() for r in caplog.records)


def test_elsewhere_without_a_mail_server_the_invitation_is_not_delivered(
    app, api, clinic, monkeypatch
):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    book(api, clinic, token=clinic.p)

    with app.app_context():
        assert run_due() == 0
        [job] = [j for j in db.session.scalars(select(Job)) if j.kind == "send_invite"]
        assert "no mail server" in job.last_error


def test_an_sms_goes_through_the_log_backend_by_default(app, api, clinic, caplog):
    caplog.set_level(logging.INFO, logger="app")
    book(api, clinic, token=clinic.p, patient={"name": "Jo Bloggs", "mobile": "+44 7911 123456"})

    with app.app_context():
        assert run_due() == 1

    [line] = [r.getMessage() for r in caplog.records if "SMS to" in r.getMessage()]
    assert "+447911123456" in line and "/join/" in line


class Gateway:
    """A real HTTP server on loopback taking SMS as the http backend posts them."""

    def __init__(self, status: int = 202):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers["Content-Length"])
                received.append(
                    (self.headers.get("Authorization"), json.loads(self.rfile.read(length)))
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    made = []

    def make(status: int = 202) -> Gateway:
        made.append(Gateway(status))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_an_sms_goes_to_the_http_gateway_with_its_token(app, api, clinic, gateway, monkeypatch):
    sms = gateway()
    monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", sms.url)
    monkeypatch.setitem(app.config, "SMS_HTTP_TOKEN", "gateway-secret")
    book(api, clinic, token=clinic.p, patient={"name": "Jo Bloggs", "mobile": "+44 7911 123456"})

    with app.app_context():
        assert run_due() == 1

    [(authorization, body)] = sms.received
    assert authorization == "Bearer gateway-secret"
    assert body["to"] == "+447911123456"
    assert "/join/" in body["body"]


@pytest.mark.parametrize("status", [500, None])
def test_a_gateway_that_fails_or_is_down_leaves_the_sms_to_retry(
    app, api, clinic, gateway, monkeypatch, status
):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
    if status is None:
        down = gateway()
        url = down.url
        down.close()  # nothing listens there any more
    else:
        url = gateway(status).url
    monkeypatch.setitem(app.config, "SMS_HTTP_URL", url)
    monkeypatch.setitem(app.config, "SMS_HTTP_TOKEN", None)
    book(api, clinic, token=clinic.p, patient={"name": "Jo Bloggs", "mobile": "+44 7911 123456"})

    with app.app_context():
        run_due()
        [job] = [j for j in db.session.scalars(select(Job)) if j.kind == "send_invite"]
        assert job.done_at is None
        assert job.attempts == 1
        assert "SMS gateway" in job.last_error


# Cancel, reinvite, complete -------------------------------------------------------------


def test_cancelling_revokes_the_links_tells_everyone_and_drops_the_reminders(
    app, api, clinic, mailbox
):
    row = book(api, clinic, token=clinic.p)
    with app.app_context():
        run_due()
    mailbox.wait_for(1)
    mailbox.clear()

    response = api.post(f"/visits/{row['id']}/cancel", clinic.s)

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    with app.app_context():
        from app.services.guests import link_token

        guest = next(
            p for p in rows_of(app, Participant, visit_id=row["id"]) if p.role == "patient"
        )
        link = app.test_client().get(f"/join/{link_token(guest)}")
    assert link.status_code == 410
    assert "This appointment was cancelled" in link.get_data(as_text=True)
    with app.app_context():
        assert run_due() == 1
        later = datetime.now(UTC) + timedelta(days=3)
        assert run_due(later) == 0  # no reminder for a cancelled visit
    [notice] = mailbox.wait_for(1)
    assert notice["Subject"] == "Cancelled: your video appointment with Riverside Health"
    [event] = Calendar.from_ical(attachment(notice, "appointment.ics")).walk("VEVENT")
    assert str(event.get("status")) == "CANCELLED"
    assert "/join/" not in body_of(notice, "plain")
    actions = [e.action for e in rows_of(app, AuditEvent, visit_id=row["id"])]
    assert actions == ["book", "cancel"]
    assert_error(api.post(f"/visits/{row['id']}/cancel", clinic.s), 409, "conflict")


def test_reinvite_sends_the_same_link_again(app, api, clinic, mailbox):
    row = book(api, clinic, token=clinic.p)
    with app.app_context():
        run_due()
    [first] = mailbox.wait_for(1)

    assert api.post(f"/visits/{row['id']}/reinvite", clinic.s).status_code == 200
    with app.app_context():
        assert run_due() == 1
    second = mailbox.wait_for(2)[1]

    link = re.compile(r"/join/(\S{43})")
    assert link.search(body_of(first, "plain")).group(1) == link.search(
        body_of(second, "plain")
    ).group(1)


def test_marking_complete_takes_the_visit_off_the_live_schedule(app, api, clinic):
    row = book(api, clinic, token=clinic.p)

    response = api.post(f"/visits/{row['id']}/complete", clinic.p)

    assert response.get_json()["status"] == "completed"
    assert_error(api.post(f"/visits/{row['id']}/reinvite", clinic.s), 409, "conflict")


@pytest.mark.parametrize("action", ["cancel", "reinvite", "complete"])
def test_another_clinics_visit_is_not_found(api, clinic, action):
    row = book(api, clinic, token=clinic.p)

    assert_error(api.post(f"/visits/{row['id']}/{action}", clinic.o), 404, "not_found")
    assert_error(api.get(f"/visits/{row['id']}", clinic.o), 404, "not_found")


def test_reading_a_visit_is_audited(app, api, clinic):
    row = book(api, clinic, token=clinic.p)

    assert api.get(f"/visits/{row['id']}", clinic.s).get_json()["id"] == row["id"]

    entries = rows_of(app, AuditEvent, visit_id=row["id"])
    assert [(e.action, e.actor_id) for e in entries][-1] == ("view", clinic.scheduler.id)


def test_requesters_cannot_book(api, clinic, make_user):
    requester = api.token(make_user(Role.REQUESTER))

    assert_error(api.post("/visits", requester, json=booking(clinic)), 403, "forbidden")


def test_nothing_is_counted_twice(app, api, clinic):
    book(api, clinic, token=clinic.p)
    with app.app_context():
        assert db.session.scalar(select(func.count(Visit.id))) == 1
