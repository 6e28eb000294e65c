"""JSON API v1: clinics, booking visits ahead, and the clinic schedule.

The same services as the pages; errors in the one format. Registered on the API
blueprint of app.api.routes (same authentication, CSRF rules and error handling).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Response, jsonify, request
from flask_login import current_user

from app.api.routes import bp, json_body
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

STAFF = (Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)


@bp.get("/clinics")
@role_required(*STAFF)
def list_clinics():
    return jsonify([clinic_dict(c) for c in clinics.clinics_of(current_user)])


@bp.post("/clinics")
@role_required(Role.ADMIN)
def create_clinic():
    body = json_body()
    clinic = clinics.create_clinic(
        _text(body, "name"), _text(body, "organisation"), _text(body, "timezone")
    )
    return jsonify(clinic_dict(clinic)), 201


@bp.post("/clinics/<id:clinic_id>/members")
@role_required(Role.ADMIN)
def add_member(clinic_id: int):
    user = clinics.add_member(clinic_id, _text(json_body(), "email"))
    return jsonify(user_dict(user)), 201


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{name} must be text.", fields={name: "Not text."})
    return value or ""


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
def book_visit():
    """Book a visit ahead and invite its patient (and anyone else named)."""
    body = json_body()
    clinic_id = body.get("clinic_id")
    if isinstance(clinic_id, bool) or not isinstance(clinic_id, int):
        raise Invalid("clinic_id is required.", fields={"clinic_id": "Choose a clinic."})
    host_id = body.get("host_id")
    if host_id is not None and (isinstance(host_id, bool) or not isinstance(host_id, int)):
        raise Invalid("host_id must be an id.", fields={"host_id": "Not an id."})
    external = body.get("external", False)
    if not isinstance(external, bool):
        raise Invalid("external must be true or false.", fields={"external": "Not a boolean."})
    visit = invitations.book_visit(
        current_user,
        clinic_id,
        parse_start(body.get("start")),
        body.get("patient"),
        duration_minutes=body.get("duration_minutes"),
        host_id=host_id,
        participants=body.get("participants"),
        external=external,
    )
    return jsonify(schedule.schedule_row(visit)), 201


@bp.get("/clinics/<id:clinic_id>/schedule")
@role_required(*STAFF)
def clinic_schedule(clinic_id: int):
    """A day of the clinic's schedule (default: today in the clinic's zone), with the
    stream version it was read at: apply clinic:<id> events newer than it."""
    clinic = clinics.clinic_for(current_user, clinic_id)
    which = request.args.get("filter", "all")
    if which not in schedule.FILTERS:
        raise Invalid("filter must be all, live or invites.", fields={"filter": "Unknown."})
    raw_day = request.args.get("date")
    try:
        day = date.fromisoformat(raw_day) if raw_day else schedule.today_in(clinic.timezone)
    except ValueError:
        raise Invalid("date must be YYYY-MM-DD.", fields={"date": "Not a date."}) from None
    version = stream_version(clinic_stream(clinic.id))
    rows = schedule.day_schedule(
        current_user, clinic.id, day, which, request.args.get("q", "")[:100]
    )
    return jsonify(date=day.isoformat(), version=version, visits=rows)


@bp.get("/visits/<id:visit_id>")
@role_required(*STAFF)
def visit_details(visit_id: int):
    """A visit of one of the caller's clinics, as its schedule row; the view is audited."""
    return jsonify(schedule.schedule_row(invitations.view_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/cancel")
@role_required(*STAFF)
def cancel_visit(visit_id: int):
    return jsonify(schedule.schedule_row(invitations.cancel_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/reinvite")
@role_required(*STAFF)
def reinvite(visit_id: int):
    return jsonify(schedule.schedule_row(invitations.reinvite(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/complete")
@role_required(*STAFF)
def complete_visit(visit_id: int):
    return jsonify(schedule.schedule_row(invitations.complete_visit(current_user, visit_id)))


@bp.post("/visits/<id:visit_id>/tasks")
@role_required(*STAFF)
def create_task(visit_id: int):
    """A follow-up task on a visit."""
    task = tasks.create_task(current_user, visit_id, _text(json_body(), "text"))
    return jsonify(task_dict(task)), 201


@bp.get("/clinics/<id:clinic_id>/tasks")
@role_required(*STAFF)
def clinic_tasks(clinic_id: int):
    """The clinic's tasks: open ones (add ?all=1 for closed ones too)."""
    found = tasks.clinic_tasks(current_user, clinic_id, request.args.get("all") == "1")
    return jsonify([task_dict(t) for t in found])


@bp.post("/tasks/<id:task_id>/close")
@role_required(*STAFF)
def close_task(task_id: int):
    return jsonify(task_dict(tasks.close_task(current_user, task_id)))


# The telehealth connector and a visit's links --------------------------------------------


@bp.get("/providers/me/external-room")
@role_required(Role.PROVIDER)
def get_external_room():
    room = external_rooms.room_of(current_user.id)
    if room is None:
        raise NotFound("You have no external room.")
    return jsonify(external_room_dict(room))


@bp.put("/providers/me/external-room")
@role_required(Role.PROVIDER)
def put_external_room():
    """Register the provider's room in another conferencing product: host and guest link."""
    body = json_body()
    room = external_rooms.set_room(
        current_user, body.get("host_url"), body.get("guest_url"), body.get("label")
    )
    return jsonify(external_room_dict(room))


@bp.delete("/providers/me/external-room")
@role_required(Role.PROVIDER)
def delete_external_room():
    external_rooms.remove_room(current_user)
    return "", 204


@bp.get("/visits/<id:visit_id>/links")
@role_required(*STAFF)
def visit_links(visit_id: int):
    """The patient's link and the staff link, to copy (audited)."""
    return jsonify(external_rooms.visit_links(current_user, visit_id))


@bp.post("/visits/<id:visit_id>/send")
@role_required(*STAFF)
def send_link(visit_id: int):
    """Email or text the patient their link now: {"channel": "email" | "sms"}."""
    channel = _text(json_body(), "channel")
    external_rooms.send_link(current_user, visit_id, channel)
    return jsonify(accepted=True, channel=channel), 202


@bp.get("/visits/<id:visit_id>/appointment.ics")
@role_required(*STAFF)
def visit_calendar(visit_id: int):
    data = external_rooms.calendar_file(current_user, visit_id)
    return Response(
        data,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="appointment-{visit_id}.ics"'},
    )


@bp.get("/visits/<id:visit_id>/qr.<any(svg, png):kind>")
@role_required(*STAFF)
def visit_qr(visit_id: int, kind: str):
    """A QR code of the patient's link, to show or print."""
    mimetype = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(external_rooms.qr_code(current_user, visit_id, kind), mimetype=mimetype)


@bp.get("/visits/<id:visit_id>/audit")
@role_required(Role.ADMIN)
def visit_audit(visit_id: int):
    """The audit trail of one visit, oldest first (admins only)."""
    invitations.visit_for_staff(current_user, visit_id)  # 404 for an unknown visit
    return jsonify([audit_dict(e) for e in audit.trail_of_visit(visit_id)])


@bp.post("/visits/<id:visit_id>/waiting-messages")
@role_required(*STAFF)
def post_waiting_message(visit_id: int):
    """A one-way message to the visit's waiting room."""
    message = waiting_messages.post_message(current_user, visit_id, json_body().get("text"))
    return jsonify(waiting_messages.message_dict(message)), 201


@bp.get("/visits/<id:visit_id>/waiting-messages")
@role_required(*STAFF)
def list_waiting_messages(visit_id: int):
    return jsonify(waiting_messages.staff_messages(current_user, visit_id))
