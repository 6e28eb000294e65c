"""The visit room: waiting room and call on one page."""

from flask import Blueprint, current_app, redirect, render_template
from flask_login import current_user

from app.auth.access import role_required
from app.auth.session import current_station
from app.models import Participant, Role, Visit
from app.security import uses_media
from app.services import attachments, external_rooms
from app.services.errors import NotFound
from app.services.ice import ice_servers_for
from app.services.notifications import appointment
from app.services.serialize import visit_dict
from app.services.visits import load_visit, take_visit
from clinicqueue import VisitSource

bp = Blueprint("visits", __name__)


def render_room(visit: Visit, me: Participant, ice_id: int | str, back_url: str | None):
    """The room page for one participant: waiting room and call."""
    booked = visit.scheduled_for is not None and visit.clinic is not None
    appt = appointment(visit) if booked else None
    return render_template(
        "visits/room.html",
        visit=visit_dict(visit),
        me={"participant_id": me.id, "role": me.role, "name": me.display_name},
        ice_servers=ice_servers_for(ice_id),
        back_url=back_url,
        # The chat's files: the picker's filter and, in words, what may be sent.
        upload_types=",".join(current_app.config["ATTACHMENT_TYPES"]),
        upload_hint=f"You can send {attachments.what_may_be_sent()}.",
        # A booked visit's appointment, as its invitation gave it (the clinic's zone).
        appointment=(
            {
                "when": appt.when,
                "organisation": appt.organisation,
                "clinic": appt.clinic,
                "provider_name": appt.provider_name,
                "starts_at": appt.starts_at.isoformat(),
                # The clinic's zone, in which the waiting room shows its messages' times.
                "timezone": appt.timezone,
            }
            if appt
            else None
        ),
    )


@bp.get("/<id:visit_id>")
@role_required()
@uses_media
def room(visit_id: int):
    """A participant's room; a provider of the clinic taking a booked visit's patient from
    the schedule joins it here."""
    try:
        visit, me = load_visit(current_user, visit_id)
    except NotFound:
        take_visit(current_user, visit_id)
        visit, me = load_visit(current_user, visit_id)
    if me.role == "host":
        back = "/schedule" if visit.source == VisitSource.INVITE else "/provider"
    else:
        back = "/kiosk" if current_station() else "/requester"
    return render_room(visit, me, current_user.id, back)


@bp.get("/<id:visit_id>/telehealth")
@role_required(Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)
def telehealth(visit_id: int):
    """Join telehealth session, from the schedule: the visit's staff link (an external
    room's host link, else the room here), opened in a tab of its own; audited as a
    reading of the links. A link, not a script, so no pop-up blocker stands in the way."""
    links = external_rooms.visit_links(current_user, visit_id)
    return redirect(links["staff_link"])
