"""JSON API v1: clinics, booking visits ahead, and the clinic schedule.

The same services as the pages; errors in the one format. Registered on the API
blueprint of app.api.routes (same authentication, CSRF rules and error handling).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Response, jsonify
from flask_login import current_user

from app.api import schemas as s
from app.api.routes import bp
from app.api.spec import operation
from app.auth.access import role_required
from app.models import Role
from app.realtime.publish import clinic_stream, stream_version
from app.services import (
    audit,
    clinics,
    external_rooms,
    invitations,
    schedule,
    tasks,
    waiting_messages,
)
from app.services.errors import Invalid, NotFound
from app.services.serialize import (
    audit_dict,
    clinic_dict,
    external_room_dict,
    task_dict,
    user_dict,
)
from app.services.text import clean_line

STAFF = (Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)


@bp.get("/clinics")
@role_required(*STAFF)
@operation(list[s.ClinicOut])
def list_clinics():
    """The clinics the caller works in (an admin: every clinic of their organisation)."""
    return jsonify([clinic_dict(c) for c in clinics.clinics_of(current_user)])


@bp.post("/clinics")
@role_required(Role.ADMIN)
@operation(s.ClinicOut, status=201, body=s.ClinicIn)
def create_clinic(body: s.ClinicIn):
    """An admin creates a clinic."""
    clinic = clinics.create_clinic(
        body.name or "", body.organisation or "", body.timezone or "", current_user
    )
    return jsonify(clinic_dict(clinic)), 201


@bp.post("/clinics/<id:clinic_id>/members")
@role_required(Role.ADMIN)
@operation(s.UserOut, status=201, body=s.MemberIn, errors=(409,))
def add_member(clinic_id: int, body: s.MemberIn):
    """An admin adds a provider or scheduler (by email) to a clinic of their organisation."""
    clinics.clinic_for(current_user, clinic_id)  # another organisation's is not found
    user = clinics.add_member(clinic_id, body.email or "")
    return jsonify(user_dict(user)), 201


def parse_start(value) -> datetime | None:
    """An ISO 8601 time with its UTC offset ("2026-03-04T10:00:00+00:00"); 422 otherwise."""
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise Invalid(
            "start must be an ISO 8601 time with its UTC offset.",
            fields={"start": "Give a time such as 2026-03-04T10:00:00+00:00."},
        )
    return start


@bp.post("/visits")
@role_required(*STAFF)
@operation(s.ScheduleRow, status=201, body=s.BookVisitIn, errors=(404,))
def book_visit(body: s.BookVisitIn):
    """Book a visit ahead and invite its patient (and anyone else named)."""
    given = body.model_dump(exclude_unset=True)
    visit = invitations.book_visit(
        current_user,
        body.clinic_id,
        parse_start(body.start),
        given.get("patient"),
        duration_minutes=body.duration_minutes,
        host_id=body.host_id,
        participants=given.get("participants"),
        external=body.external,
    )
    return jsonify(schedule.schedule_row(visit)), 201


@bp.get("/clinics/<id:clinic_id>/schedule")
@role_required(*STAFF)
@operation(s.Schedule, query=s.ScheduleQuery)
def clinic_schedule(clinic_id: int, query: s.ScheduleQuery):
    """A day of the clinic's schedule (default: today in the clinic's zone), with the
    stream version it was read at: apply clinic:<id> events newer than it."""
    clinic = clinics.clinic_for(current_user, clinic_id)
    which, raw_day = query.filter, query.date
    try:
        day = date.fromisoformat(raw_day) if raw_day else schedule.today_in(clinic.timezone)
    except ValueError:
        raise Invalid("date must be YYYY-MM-DD.", fields={"date": "Not a date."}) from None
    version = stream_version(clinic_stream(clinic.id))
    search = clean_line(query.q or "")[:100]  # as names are stored; and no NUL for PostgreSQL
    rows = schedule.day_schedule(current_user, clinic.id, day, which, search)
    return jsonify(date=day.isoformat(), version=version, visits=rows)


@bp.get("/visits/<id:visit_id>")
@role_required(*STAFF)
@operation(s.ScheduleRow)
def visit_details(visit_id: int):
    """A visit of one of the caller's clinics, as its schedule row; the view is audited."""
    return jsonify(schedule.schedule_row(invitations.view_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/cancel")
@role_required(*STAFF)
@operation(s.ScheduleRow, errors=(409,))
def cancel_visit(visit_id: int):
    """Cancel a booked visit (its people are told)."""
    return jsonify(schedule.schedule_row(invitations.cancel_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/reinvite")
@role_required(*STAFF)
@operation(s.ScheduleRow, errors=(409,))
def reinvite(visit_id: int):
    """Send the patient's invitation again."""
    return jsonify(schedule.schedule_row(invitations.reinvite(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/complete")
@role_required(*STAFF)
@operation(s.ScheduleRow, errors=(409,))
def complete_visit(visit_id: int):
    """Mark a visit done without a call."""
    return jsonify(schedule.schedule_row(invitations.complete_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/tasks")
@role_required(*STAFF)
@operation(s.TaskOut, status=201, body=s.TextIn)
def create_task(visit_id: int, body: s.TextIn):
    """A follow-up task on a visit."""
    task = tasks.create_task(current_user, visit_id, body.text or "")
    return jsonify(task_dict(task)), 201


@bp.get("/clinics/<id:clinic_id>/tasks")
@role_required(*STAFF)
@operation(list[s.TaskOut], query=s.TasksQuery)
def clinic_tasks(clinic_id: int, query: s.TasksQuery):
    """The clinic's tasks: open ones (add ?all=1 for closed ones too)."""
    found = tasks.clinic_tasks(current_user, clinic_id, query.all == "1")
    return jsonify([task_dict(t) for t in found])


@bp.post("/tasks/<id:task_id>/close")
@role_required(*STAFF)
@operation(s.TaskOut, errors=(409,))
def close_task(task_id: int):
    """Close a task (done)."""
    return jsonify(task_dict(tasks.close_task(current_user, task_id)))


# The telehealth connector and a visit's links --------------------------------------------


@bp.get("/providers/me/external-room")
@role_required(Role.PROVIDER)
@operation(s.ExternalRoomOut, errors=(404,))
def get_external_room():
    """The provider's room in another conferencing product."""
    room = external_rooms.room_of(current_user.id)
    if room is None:
        raise NotFound("You have no external room.")
    return jsonify(external_room_dict(room))


@bp.put("/providers/me/external-room")
@role_required(Role.PROVIDER)
@operation(s.ExternalRoomOut, body=s.ExternalRoomIn)
def put_external_room(body: s.ExternalRoomIn):
    """Register the provider's room in another conferencing product: host and guest link."""
    room = external_rooms.set_room(current_user, body.host_url, body.guest_url, body.label)
    return jsonify(external_room_dict(room))


@bp.delete("/providers/me/external-room")
@role_required(Role.PROVIDER)
@operation(status=204, errors=(404,))
def delete_external_room():
    """Forget the provider's external room."""
    external_rooms.remove_room(current_user)
    return "", 204


@bp.get("/visits/<id:visit_id>/links")
@role_required(*STAFF)
@operation(s.Links)
def visit_links(visit_id: int):
    """The patient's link and the staff link, to copy (audited)."""
    return jsonify(external_rooms.visit_links(current_user, visit_id))


@bp.post("/visits/<id:visit_id>/send")
@role_required(*STAFF)
@operation(s.Sent, status=202, body=s.SendIn, errors=(409,))
def send_link(visit_id: int, body: s.SendIn):
    """Email or text the patient their link now: {"channel": "email" | "sms"}."""
    channel = body.channel or ""
    external_rooms.send_link(current_user, visit_id, channel)
    return jsonify(accepted=True, channel=channel), 202


@bp.get("/visits/<id:visit_id>/appointment.ics")
@role_required(*STAFF)
@operation(("text/calendar",))
def visit_calendar(visit_id: int):
    """The visit as a calendar entry (.ics)."""
    data = external_rooms.calendar_file(current_user, visit_id)
    return Response(
        data,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="appointment-{visit_id}.ics"'},
    )


@bp.get("/visits/<id:visit_id>/qr.<any(svg, png):kind>")
@role_required(*STAFF)
@operation(("image/svg+xml", "image/png"), errors=(409,))
def visit_qr(visit_id: int, kind: str):
    """A QR code of the patient's link, to show or print."""
    mimetype = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(external_rooms.qr_code(current_user, visit_id, kind), mimetype=mimetype)


@bp.get("/visits/<id:visit_id>/audit")
@role_required(Role.ADMIN)
@operation(list[s.AuditOut])
def visit_audit(visit_id: int):
    """The audit trail of one visit, oldest first (admins only)."""
    invitations.visit_for_staff(current_user, visit_id)  # 404 for an unknown visit
    return jsonify([audit_dict(e) for e in audit.trail_of_visit(visit_id)])


@bp.post("/visits/<id:visit_id>/waiting-messages")
@role_required(*STAFF)
@operation(s.WaitingMessageOut, status=201, body=s.TextIn, errors=(409,))
def post_waiting_message(visit_id: int, body: s.TextIn):
    """A one-way message to the visit's waiting room."""
    message = waiting_messages.post_message(current_user, visit_id, body.text)
    return jsonify(waiting_messages.message_dict(message)), 201


@bp.get("/visits/<id:visit_id>/waiting-messages")
@role_required(*STAFF)
@operation(list[s.WaitingMessageOut])
def list_waiting_messages(visit_id: int):
    """The messages sent to the visit's waiting room."""
    return jsonify(waiting_messages.staff_messages(current_user, visit_id))
