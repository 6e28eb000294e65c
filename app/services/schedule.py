"""The clinic schedule: a day's visits with their status, derived from visit and presence
at the moment asked (clinicqueue.schedule), never stored.

Every change to a clinic's visit publishes its row on the clinic's stream
(`clinic:<id>`, versioned like the dashboards), so every schedule page shows the truth
live; the one change no event causes (a waiting patient turning green 5 minutes before the
start) is published by a job due at that moment.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select

from app.extensions import db
from app.models import Job, Participant, Patient, Task, User, Visit, clinic_members
from app.models.types import utcnow
from app.realtime.publish import Outbox, clinic_stream
from app.services.clinics import clinic_for
from app.services.serialize import iso
from app.services.text import clean_line
from clinicqueue import VisitSource
from clinicqueue.schedule import Attendee, day_bounds, online_from, schedule_status, zone

FILTERS = ("all", "live", "invites")


DELIVERY_ORDER = ("failed", "pending", "sent")  # worst first


def _delivery(participant: Participant, jobs: list[Job]) -> dict | None:
    """Whether the participant's invitation went out, by each channel (the latest try of
    each) and overall: the worst of them, so a failed email is never hidden behind an
    SMS that arrived."""
    latest: dict[str, Job] = {}
    for job in jobs:
        if job.participant_id == participant.id and job.kind == "send_invite":
            channel = job.payload.get("channel", "email")
            if channel not in latest or job.id > latest[channel].id:
                latest[channel] = job
    if not latest:
        return None
    channels = {}
    for channel, job in sorted(latest.items()):
        if job.done_at:
            channels[channel] = {"state": "sent", "at": iso(job.done_at), "error": None}
        else:
            state = "failed" if job.failed_at else "pending"
            channels[channel] = {"state": state, "error": job.last_error}
    worst = min(channels.values(), key=lambda c: DELIVERY_ORDER.index(c["state"]))
    return {"state": worst["state"], "error": worst["error"], "channels": channels}


def _staff_ids(clinic_id: int | None) -> set[int]:
    if clinic_id is None:
        return set()
    return set(
        db.session.scalars(
            select(clinic_members.c.user_id).where(clinic_members.c.clinic_id == clinic_id)
        )
    )


def _open_tasks(visit_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Task.visit_id, func.count(Task.id))
        .where(Task.visit_id.in_(visit_ids), Task.closed_at.is_(None))
        .group_by(Task.visit_id)
    )
    return dict(rows.all())


def schedule_row(
    visit: Visit,
    now: datetime | None = None,
    jobs: list[Job] | None = None,
    staff_ids: set[int] | None = None,
    open_tasks: dict[int, int] | None = None,
) -> dict:
    """One visit as the schedule shows it, with its status as of `now`. (The optional
    arguments are what day_schedule reads once for all its rows.)"""
    now = now or utcnow()
    if staff_ids is None:
        staff_ids = _staff_ids(visit.clinic_id)
    attendees = [
        Attendee(
            role=p.role,
            presence=p.presence,
            waiting_since=p.waiting_since,
            name=p.display_name,
            is_staff=p.role == "host" or p.user_id in staff_ids,
        )
        for p in visit.participants
    ]
    status = schedule_status(visit.state, visit.scheduled_for, attendees, now)
    if jobs is None:
        jobs = list(db.session.scalars(select(Job).where(Job.visit_id == visit.id)))
    if open_tasks is None:
        open_tasks = _open_tasks([visit.id])
    patient = visit.patient
    patient_participant = next((p for p in visit.participants if p.role == "patient"), None)
    return {
        "id": visit.id,
        "clinic_id": visit.clinic_id,
        "source": visit.source,
        "external": visit.external_room_id is not None,
        "state": visit.state,
        "status": status.status.value,
        "status_label": status.label,
        "waiting_since": iso(status.waiting_since),
        "provider_name": status.provider_name,
        # Who is with the patient (a running session), so that provider can go back in.
        "provider_id": next(
            (
                p.user_id
                for p in visit.participants
                if p.user_id is not None
                and (p.role == "host" or p.user_id in staff_ids)
                and p.presence == "admitted"
            ),
            None,
        )
        if status.status == "session_running"
        else None,
        "scheduled_for": iso(visit.scheduled_for),
        "start": iso(visit.scheduled_for),  # the API's name for it (as POST /visits takes it)
        "online_from": iso(online_from(visit.scheduled_for)) if visit.scheduled_for else None,
        "duration_minutes": visit.duration_minutes,
        "created_at": iso(visit.created_at),
        "host": {"id": visit.host.id, "name": visit.host.name},
        "patient": {
            "id": patient.id if patient else None,
            "name": patient.name
            if patient
            else (patient_participant.display_name if patient_participant else "Guest"),
            "mrn": patient.mrn if patient else None,
        },
        "participants": [
            {
                "id": p.id,
                "name": p.display_name,
                "role": p.role,
                "description": p.description,
                "presence": p.presence,
                "delivery": _delivery(p, jobs),
            }
            for p in visit.participants
            if p.role != "host"
        ],
        "open_tasks": open_tasks.get(visit.id, 0),
    }


def announce_row(outbox: Outbox, visit: Visit, now: datetime | None = None, **known) -> None:
    """Publish the visit's row on its clinic's stream (nothing for a visit of no clinic).
    `known`: what the caller already knows of schedule_row's optional arguments."""
    if visit.clinic_id is not None:
        row = schedule_row(visit, now, **known)
        outbox.add("visit_updated", clinic_stream(visit.clinic_id), row)


def day_schedule(
    user: User,
    clinic_id: int,
    day: date,
    which: str = "all",
    query: str = "",
    now: datetime | None = None,
) -> list[dict]:
    """The clinic's visits on one of its calendar days, by start time: booked visits by
    their start, on-demand sessions by when they were accepted."""
    clinic = clinic_for(user, clinic_id)
    start, end = day_bounds(day, zone(clinic.timezone))
    when = func.coalesce(Visit.scheduled_for, Visit.created_at)
    stmt = (
        select(Visit)
        .where(Visit.clinic_id == clinic.id, when >= start, when < end)
        .order_by(when, Visit.id)
    )
    if which == "live":
        stmt = stmt.where(Visit.source == VisitSource.REQUEST)
    elif which == "invites":
        stmt = stmt.where(Visit.source == VisitSource.INVITE)
    query = clean_line(query or "")  # as names are stored (no NUL reaches PostgreSQL)
    if query:
        # Searched as typed: % and _ are not wildcards here.
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.outerjoin(Patient, Patient.id == Visit.patient_id).where(
            or_(
                func.lower(Patient.name).like(pattern, escape="\\"),
                func.lower(Patient.mrn) == query.lower(),
                Visit.id.in_(
                    select(Participant.visit_id)
                    .outerjoin(User, User.id == Participant.user_id)
                    .where(
                        Participant.role == "patient",
                        or_(
                            func.lower(Participant.name).like(pattern, escape="\\"),
                            func.lower(User.name).like(pattern, escape="\\"),
                        ),
                    )
                ),
            )
        )
    visits = list(db.session.scalars(stmt))
    ids = [v.id for v in visits]
    jobs = list(db.session.scalars(select(Job).where(Job.visit_id.in_(ids))))
    staff, tasks, now = _staff_ids(clinic.id), _open_tasks(ids), now or utcnow()
    return [schedule_row(v, now, jobs, staff, tasks) for v in visits]


def today_in(clinic_timezone: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(zone(clinic_timezone)).date()
