"""Booking visits ahead: the invitation, and what a clinic does with a booked visit
afterwards (cancel, reinvite, mark complete).

Booking writes, in one transaction: the patient record (reused by MRN), the visit, its
participants with their links, the jobs that send the invitations and reminders, and the
audit entry. A mail server that is down never loses a visit: the jobs retry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Job, Participant, Patient, Role, User, Visit
from app.models.types import utcnow
from app.realtime.publish import Outbox
from app.services import audit
from app.services.clinics import clinic_for, is_member
from app.services.errors import Conflict, Invalid, NotFound
from app.services.guests import issue_link
from app.services.jobs import enqueue
from app.services.schedule import announce_row
from app.services.text import clean_line
from app.services.visits import close_rooms
from clinicqueue import InvalidTransition, VisitAction, VisitSource, VisitState, transition_visit
from clinicqueue.schedule import online_from, reminder_times

MAX_PARTICIPANTS = 3  # besides the patient: the call holds four in a browser mesh
MIN_MINUTES, MAX_MINUTES = 5, 480


@dataclass(frozen=True)
class Person:
    """A patient or an extra participant as booked: cleaned and checked."""

    name: str
    email: str | None
    mobile: str | None
    mrn: str | None = None
    description: str | None = None


def _email(value, field: str, fields: dict) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        fields[field] = "Enter an email address."
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        fields[field] = "Enter a valid email address."
        return None


def _mobile(value, field: str, fields: dict) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 32:
        fields[field] = "Enter a mobile number."
        return None
    try:
        number = phonenumbers.parse(value, current_app.config["PHONE_REGION"])
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        region = current_app.config["PHONE_REGION"]
        hint = "" if region else " in international form, such as +44 7911 123456"
        fields[field] = f"Enter a valid mobile number{hint}."
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _text(value, field: str, fields: dict, limit: int, required: bool, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        fields[field] = f"Enter {what}."
        return None
    text = clean_line(value or "")
    if required and not text:
        fields[field] = f"Enter {what}."
    elif len(text) > limit:
        fields[field] = f"Keep {what} under {limit} characters."
    return text or None


def read_person(data, prefix: str, fields: dict, patient: bool) -> Person | None:
    """Check one person from a form or JSON body; problems go into `fields` by path."""
    if not isinstance(data, dict):
        fields[prefix] = "Enter the person's details."
        return None
    name = _text(data.get("name"), f"{prefix}.name", fields, 120, True, "a name")
    email = _email(data.get("email"), f"{prefix}.email", fields)
    mobile = _mobile(data.get("mobile"), f"{prefix}.mobile", fields)
    if not email and not mobile and not any(k.startswith(prefix + ".") for k in fields):
        fields[f"{prefix}.email"] = "Enter an email address or a mobile number."
    mrn = _text(data.get("mrn"), f"{prefix}.mrn", fields, 64, False, "the MRN") if patient else None
    description = (
        None
        if patient
        else _text(
            data.get("description"), f"{prefix}.description", fields, 120, False, "a description"
        )
    )
    return Person(name or "", email, mobile, mrn, description)


def _host(booker: User, clinic_id: int, host_id, fields: dict) -> User | None:
    if host_id is None:
        if booker.role == Role.PROVIDER:
            return booker
        fields["host_id"] = "Choose the provider who hosts the visit."
        return None
    host = db.session.get(User, host_id) if isinstance(host_id, int) else None
    if (
        host is None
        or host.role != Role.PROVIDER
        or not host.active
        or not is_member(host.id, clinic_id)
    ):
        fields["host_id"] = "Choose a provider of this clinic."
        return None
    return host


def _patient_record(person: Person, now: datetime) -> Patient:
    """The organisation's record for this patient: the one with this MRN, brought up to
    date with the contact details just given, or a new one."""
    if person.mrn:
        existing = db.session.scalar(select(Patient).where(Patient.mrn == person.mrn))
        if existing is not None:
            existing.name = person.name
            existing.email = person.email or existing.email
            existing.mobile = person.mobile or existing.mobile
            existing.updated_at = now
            return existing
    record = Patient(
        name=person.name,
        mrn=person.mrn,
        email=person.email,
        mobile=person.mobile,
        created_at=now,
        updated_at=now,
    )
    db.session.add(record)
    return record


def _notify_jobs(visit: Visit, guest: Participant, kind: str, due_at: datetime, **payload) -> None:
    for channel, contact in (("email", guest.email), ("sms", guest.mobile)):
        if contact:
            enqueue_message(visit, guest, kind, due_at, channel, **payload)


def enqueue_message(
    visit: Visit, guest: Participant, kind: str, due_at: datetime, channel: str, **payload
) -> None:
    """One message to one guest by one channel, as a job (in the caller's transaction)."""
    enqueue(
        kind,
        due_at,
        visit_id=visit.id,
        participant_id=guest.id,
        payload={"channel": channel, **payload},
    )


def book_visit(
    booker: User,
    clinic_id: int,
    starts_at: datetime | None,
    patient: dict,
    duration_minutes: int | None = None,
    host_id: int | None = None,
    participants: list | None = None,
    external: bool = False,
    now: datetime | None = None,
) -> Visit:
    """Book a visit on a clinic's schedule and invite the patient and anyone else asked.
    With `external`, it is held in the host's external room: the invitations carry that
    room's guest link.

    Emits visit_updated on the clinic's stream; the invitations and reminders are jobs.
    """
    now = now or utcnow()
    clinic = clinic_for(booker, clinic_id)
    fields: dict[str, str] = {}
    if booker.role not in (Role.PROVIDER, Role.SCHEDULER, Role.ADMIN):
        raise Invalid("Only providers and schedulers book visits.")
    host = _host(booker, clinic.id, host_id, fields)
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None:
        fields["start"] = "Choose a date and time."
    elif starts_at <= now:
        fields["start"] = "Choose a time in the future."
    if duration_minutes is None:
        duration_minutes = current_app.config["DEFAULT_VISIT_MINUTES"]
    if (
        isinstance(duration_minutes, bool)
        or not isinstance(duration_minutes, int)
        or not MIN_MINUTES <= duration_minutes <= MAX_MINUTES
    ):
        fields["duration_minutes"] = f"Choose between {MIN_MINUTES} and {MAX_MINUTES} minutes."
    person = read_person(patient, "patient", fields, patient=True)
    participants = participants or []
    if not isinstance(participants, list):
        fields["participants"] = "Send a list of participants."
        participants = []
    if len(participants) > MAX_PARTICIPANTS:
        fields["participants"] = f"Invite at most {MAX_PARTICIPANTS} people besides the patient."
    others = [
        read_person(p, f"participants.{i}", fields, patient=False)
        for i, p in enumerate(participants[:MAX_PARTICIPANTS])
    ]
    room = None
    if external and host is not None:
        from app.services.external_rooms import room_of

        room = room_of(host.id)
        if room is None:
            fields["external_room"] = "The host has no external meeting room registered."
    if fields:
        db.session.rollback()
        raise Invalid("The visit could not be booked.", fields=fields)

    record = _patient_record(person, now)
    visit = Visit(
        source=VisitSource.INVITE,
        state=VisitState.SCHEDULED,
        host_id=host.id,
        clinic_id=clinic.id,
        patient=record,
        scheduled_for=starts_at,
        duration_minutes=duration_minutes,
        booked_by_id=booker.id,
        external_room_id=room.id if room else None,
        created_at=now,
        participants=[
            Participant(user_id=host.id, role="host", presence="absent", updated_at=now),
            Participant(
                role="patient",
                name=person.name,
                email=person.email,
                mobile=person.mobile,
                presence="absent",
                updated_at=now,
            ),
            *[
                Participant(
                    role="guest",
                    name=o.name,
                    email=o.email,
                    mobile=o.mobile,
                    description=o.description,
                    presence="absent",
                    updated_at=now,
                )
                for o in others
            ],
        ],
    )
    db.session.add(visit)
    db.session.flush()
    offsets = current_app.config["REMINDER_OFFSETS"]
    for guest in visit.participants:
        if guest.role == "host":
            continue
        issue_link(guest)
        _notify_jobs(visit, guest, "send_invite", now)
        for at in reminder_times(starts_at, now, offsets):
            _notify_jobs(visit, guest, "send_reminder", at, minutes_before=_minutes(starts_at - at))
    if online_from(starts_at) > now:
        enqueue("schedule_tick", online_from(starts_at), visit_id=visit.id)
    audit.record(
        audit.Actor.user(booker),
        "book",
        visit=visit,
        detail={"host_id": host.id, "participants": len(others) + 1},
        now=now,
    )
    _publish(visit, now)
    return visit


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _publish(visit: Visit, now: datetime) -> None:
    """Flush, publish the visit's row on its clinic stream after the commit."""
    db.session.flush()
    outbox = Outbox()
    announce_row(outbox, visit, now)
    outbox.stamp()
    db.session.commit()
    outbox.publish()


def visit_for_staff(user: User, visit_id: int, lock: bool = False) -> Visit:
    """A booked or on-demand visit of one of the user's clinics; NotFound for any other."""
    if lock:
        db.session.execute(update(Visit).where(Visit.id == visit_id).values(state=Visit.state))
    visit = db.session.get(Visit, visit_id, populate_existing=True)
    if visit is None or visit.clinic_id is None:
        raise NotFound("No such visit.")
    clinic_for(user, visit.clinic_id)  # NotFound to anyone outside the clinic
    return visit


def _booked(user: User, visit_id: int) -> Visit:
    """A booked visit of the user's clinic, locked: an on-demand session is ended by its
    provider in the call, never cancelled or completed from the schedule."""
    visit = visit_for_staff(user, visit_id, lock=True)
    if visit.source != VisitSource.INVITE:
        db.session.rollback()
        raise Conflict("An on-demand session is ended by its provider.", state=visit.state)
    return visit


def view_visit(user: User, visit_id: int, now: datetime | None = None) -> Visit:
    """A member of the visit's clinic reads its details; the reading is audited. Commits."""
    visit = visit_for_staff(user, visit_id)
    audit.record(audit.Actor.user(user), "view", visit=visit, now=now)
    db.session.commit()
    return visit


def _move_visit(visit: Visit, action: VisitAction, now: datetime, **values) -> None:
    try:
        state = transition_visit(visit.state, action, now).state
    except InvalidTransition:
        raise Conflict(f"This visit is already {visit.state}.", state=visit.state) from None
    result = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.state == visit.state)
        .values(state=state, **values)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("This visit changed; reload.", state=visit.state)


def cancel_visit(user: User, visit_id: int, now: datetime | None = None) -> Visit:
    """Cancel a booked visit: its links open nothing more (they say it was cancelled),
    everyone invited is told, pending invitations and reminders are dropped, and anyone in
    its waiting room hears visit_ended. Emits visit_updated on the clinic's stream."""
    now = now or utcnow()
    visit = _booked(user, visit_id)
    _move_visit(visit, VisitAction.CANCEL, now, ended_at=now)
    _drop_pending_messages(visit.id, now)
    for guest in visit.participants:
        if guest.role != "host":
            _notify_jobs(visit, guest, "send_cancellation", now)
    # The links stay as they are: opened now, they say the appointment was cancelled
    # (and open nothing), which a revoked link could not.
    audit.record(audit.Actor.user(user), "cancel", visit=visit, now=now)
    close_rooms(visit, now, "cancelled")
    return visit


def _drop_pending_messages(visit_id: int, now: datetime) -> None:
    db.session.execute(
        update(Job)
        .where(
            Job.visit_id == visit_id,
            Job.kind.in_(["send_invite", "send_reminder", "schedule_tick"]),
            Job.done_at.is_(None),
            Job.failed_at.is_(None),
        )
        .values(done_at=now, last_error="dropped: the visit was cancelled")
    )


def complete_visit(user: User, visit_id: int, now: datetime | None = None) -> Visit:
    """Mark a visit attended another way (by phone): it leaves the live schedule; pending
    reminders are dropped."""
    now = now or utcnow()
    visit = _booked(user, visit_id)
    _move_visit(visit, VisitAction.COMPLETE, now, ended_at=now)
    _drop_pending_messages(visit.id, now)
    audit.record(audit.Actor.user(user), "complete", visit=visit, now=now)
    close_rooms(visit, now, "completed")
    return visit


def reinvite(user: User, visit_id: int, now: datetime | None = None) -> Visit:
    """Send the original invitations again (the same links). Emits visit_updated."""
    now = now or utcnow()
    visit = visit_for_staff(user, visit_id)
    if visit.source != VisitSource.INVITE or visit.state not in (
        VisitState.SCHEDULED,
        VisitState.OPEN,
        VisitState.IN_CALL,
    ):
        raise Conflict(
            "Only a booked visit that is still to come can be reinvited.", state=visit.state
        )
    for guest in visit.participants:
        if guest.role != "host" and guest.token_hash:
            _notify_jobs(visit, guest, "send_invite", now, again=True)
    audit.record(audit.Actor.user(user), "reinvite", visit=visit, now=now)
    _publish(visit, now)
    return visit
