"""The clinic schedule as pages: the day's visits (live), the invite form, the task list.

The pages read through the same services as the API; the schedule page's script follows
the clinic's stream and calls the API for its row actions.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.auth.access import role_required
from app.extensions import db
from app.models import Role, Visit
from app.models.types import utcnow
from app.realtime.publish import clinic_stream, stream_version
from app.schedule.forms import InviteForm, ParticipantForm
from app.services import clinics, external_rooms, invitations, schedule, tasks
from app.services.errors import Conflict, Invalid
from clinicqueue.schedule import zone

bp = Blueprint("schedule", __name__)

STAFF = (Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)
FILTER_LABELS = {"all": "Show all", "live": "Live clinic list", "invites": "Direct invites"}
MAX_QUERY = 100  # as the API


def day_label(day: date) -> str:
    """ "Thursday 5 March 2026", as the invitations write dates."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _first_clinic(endpoint: str):
    found = clinics.clinics_of(current_user)
    if not found:
        return render_template("schedule/no_clinic.html")
    return redirect(url_for(endpoint, clinic_id=found[0].id))


@bp.get("/schedule")
@role_required(*STAFF)
def my_schedule():
    """The schedule of the user's first clinic."""
    return _first_clinic("schedule.clinic_schedule")


@bp.get("/tasks")
@role_required(*STAFF)
def my_tasks():
    """The task list of the user's first clinic."""
    return _first_clinic("schedule.task_list")


@bp.get("/clinics/<id:clinic_id>/schedule")
@role_required(*STAFF)
def clinic_schedule(clinic_id: int):
    """One day of a clinic's schedule, filtered and searched, followed live."""
    clinic = clinics.clinic_for(current_user, clinic_id)
    today = schedule.today_in(clinic.timezone)
    raw_day = request.args.get("date", "")
    try:
        day = date.fromisoformat(raw_day) if raw_day else today
    except ValueError:
        abort(400, "The date must look like 2026-03-05.")
    which = request.args.get("filter", "all")
    if which not in schedule.FILTERS:
        which = "all"
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    stream = clinic_stream(clinic.id)
    # The version first: the rows read after it are at least that new (as a snapshot).
    version = stream_version(stream)
    rows = schedule.day_schedule(current_user, clinic.id, day, which, query)

    def here(**changes) -> str:
        args = {"date": day.isoformat(), "filter": which, "q": query, **changes}
        args = {k: v for k, v in args.items() if v and not (k == "filter" and v == "all")}
        return url_for("schedule.clinic_schedule", clinic_id=clinic.id, **args)

    # The zone's name on the day shown: a July day in London is BST, even seen in November.
    midday = datetime.combine(day, time(12), tzinfo=zone(clinic.timezone))
    return render_template(
        "schedule/schedule.html",
        clinic=clinic,
        clinics=clinics.clinics_of(current_user),
        day=day,
        today=today,
        day_label=day_label(day),
        zone_name=midday.tzname(),
        which=which,
        filters=FILTER_LABELS,
        query=query,
        here=here,
        previous_day=(day - timedelta(days=1)).isoformat(),
        next_day=(day + timedelta(days=1)).isoformat(),
        snapshots=[
            {
                "stream": stream,
                "version": version,
                "data": {"date": day.isoformat(), "visits": rows},
            }
        ],
        page={
            "clinic": {"id": clinic.id, "name": clinic.name, "timezone": clinic.timezone},
            "stream": stream,
            "date": day.isoformat(),
            "day_label": day_label(day),
            "filter": which,
            "q": query,
            "me": {"id": current_user.id, "name": current_user.name, "role": current_user.role},
            "tasks_url": url_for("schedule.task_list", clinic_id=clinic.id),
            "contacts": _contact_hints(rows),
        },
    )


def _contact_hints(rows: list[dict]) -> dict[int, dict]:
    """How each booked visit's patient can be reached, just enough to offer "Email the
    link" and "Text the link" only where they work and to say where the message went
    ("jo@…", "…3456"), never the whole address on a screen others may see. The rows' visits
    are already loaded (day_schedule read them): no query per row. Rows booked after the
    page was rendered are not here; the page offers both and shows the refusal."""
    hints = {}
    for row in rows:
        if row["source"] != "invite":
            continue
        visit = db.session.get(Visit, row["id"])
        patient = next((p for p in visit.participants if p.role == "patient"), None)
        if patient is not None:
            hints[row["id"]] = {
                "email": f"{patient.email.split('@')[0]}@…" if patient.email else None,
                "sms": f"…{patient.mobile[-4:]}" if patient.mobile else None,
            }
    return hints


def _providers(clinic) -> list:
    return [m for m in clinic.members if m.role == Role.PROVIDER and m.active]


def _default_start(timezone: str, day: date | None) -> tuple[date, datetime]:
    """A sensible first guess: 09:00 on a later day, else the next quarter hour at least
    15 minutes from now."""
    now = utcnow().astimezone(zone(timezone))
    if day is not None and day > now.date():
        return day, datetime.combine(day, time(9))
    soon = now + timedelta(minutes=15)
    soon = soon.replace(second=0, microsecond=0) + timedelta(minutes=-soon.minute % 15)
    return soon.date(), soon


@bp.route("/clinics/<id:clinic_id>/invite", methods=["GET", "POST"])
@role_required(*STAFF)
def invite(clinic_id: int):
    """INVITE: book a visit and invite the patient (and up to three others)."""
    clinic = clinics.clinic_for(current_user, clinic_id)
    providers = _providers(clinic)
    hosts_here = current_user.id in {p.id for p in providers}
    form = InviteForm()
    choices = [(str(p.id), p.name) for p in providers]
    if not hosts_here:
        choices.insert(0, ("", "Choose a provider"))
    form.host_id.choices = choices
    with_rooms = [p.name for p in providers if external_rooms.room_of(p.id) is not None]
    summary: list[tuple[str, str]] = []

    if request.method == "GET":
        try:
            wanted = date.fromisoformat(request.args.get("date", ""))
        except ValueError:
            wanted = None
        form.date.data, start = _default_start(clinic.timezone, wanted)
        form.time.data = start.time()
        form.duration_minutes.data = current_app.config["DEFAULT_VISIT_MINUTES"]
        form.host_id.data = str(current_user.id) if hosts_here else ""
    elif "add_participant" in request.form or "remove_participant" in request.form:
        # Without JavaScript, ADD and Remove come back here: the form grows or shrinks.
        remove = request.form.get("remove_participant", "")
        if remove.isdigit() and int(remove) < len(form.participants.entries):
            del form.participants.entries[int(remove)]
        elif len(form.participants.entries) < form.participants.max_entries:
            form.participants.append_entry()
    else:
        others = form.others()
        try:
            visit = invitations.book_visit(
                current_user,
                clinic.id,
                form.starts_at(clinic.timezone),
                form.patient(),
                duration_minutes=form.duration(),
                host_id=form.host_choice(),
                participants=[person for _, person in others],
                external=bool(form.external.data),
            )
        except Invalid as exc:
            summary = form.show_errors(exc.fields or {}, [place for place, _ in others])
            if not summary and not form.form_errors:
                form.form_errors = [exc.message]
        else:
            names = [p.display_name for p in visit.participants if p.role != "host"]
            flash(f"Invitation sent to {_and(names)}.", "success")
            day = visit.scheduled_for.astimezone(zone(clinic.timezone)).date()
            return redirect(
                url_for("schedule.clinic_schedule", clinic_id=clinic.id, date=day.isoformat())
            )

    status = 422 if summary or form.form_errors else 200
    return render_template(
        "schedule/invite.html",
        clinic=clinic,
        form=form,
        blank_participant=ParticipantForm(prefix="participants-__index__-"),
        summary=summary,
        with_rooms=with_rooms,
        back_url=url_for(
            "schedule.clinic_schedule",
            clinic_id=clinic.id,
            date=form.date.data.isoformat() if form.date.data else None,
        ),
    ), status


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@bp.get("/clinics/<id:clinic_id>/tasks")
@role_required(*STAFF)
def task_list(clinic_id: int):
    """The clinic's follow-up tasks: open ones, or with ?closed=1 the closed ones too."""
    clinic = clinics.clinic_for(current_user, clinic_id)
    show_closed = request.args.get("closed") == "1"
    found = tasks.clinic_tasks(current_user, clinic.id, include_closed=show_closed)
    tz = zone(clinic.timezone)

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(tz) if value else None

    return render_template(
        "schedule/tasks.html",
        clinic=clinic,
        clinics=clinics.clinics_of(current_user),
        tasks=found,
        show_closed=show_closed,
        open_count=sum(1 for t in found if t.closed_at is None),
        local=local,
    )


@bp.post("/clinics/<id:clinic_id>/tasks/<id:task_id>/close")
@role_required(*STAFF)
def close_task(clinic_id: int, task_id: int):
    """Close a task from the list; back to the list, which says what happened."""
    clinics.clinic_for(current_user, clinic_id)
    try:
        task = tasks.close_task(current_user, task_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"Task closed: “{_shorten(task.text)}”", "success")
    closed = "1" if request.form.get("closed") == "1" else None
    return redirect(url_for("schedule.task_list", clinic_id=clinic_id, closed=closed))


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
