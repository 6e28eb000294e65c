"""A provider's own settings: "My meeting room", their room in another conferencing
product (the telehealth connector). A visit booked in it sends its guests the room's
guest link, and the schedule opens the host link for the provider."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.access import role_required
from app.models import Role
from app.services import external_rooms
from app.services.errors import Invalid, NotFound
from app.settings.forms import ExternalRoomForm

bp = Blueprint("settings", __name__)


@bp.route("/settings/external-room", methods=["GET", "POST"])
@role_required(Role.PROVIDER)
def external_room():
    """Register or change the provider's external meeting room."""
    room = external_rooms.room_of(current_user.id)
    form = ExternalRoomForm()
    summary: list[tuple[str, str]] = []
    if request.method == "GET" and room is not None:
        form.label.data, form.host_url.data, form.guest_url.data = (
            room.label,
            room.host_url,
            room.guest_url,
        )
    elif request.method == "POST":
        try:
            external_rooms.set_room(
                current_user, form.host_url.data, form.guest_url.data, form.label.data
            )
        except Invalid as exc:
            summary = form.show_errors(exc.fields or {})
            if not summary:
                form.form_errors = [exc.message]
        else:
            flash(
                "Your meeting room is saved. When you invite a patient, you can hold the "
                "visit in it.",
                "success",
            )
            return redirect(url_for("settings.external_room"))
    status = 422 if summary or form.form_errors else 200
    return render_template(
        "settings/external_room.html", form=form, room=room, summary=summary
    ), status


@bp.post("/settings/external-room/remove")
@role_required(Role.PROVIDER)
def remove_external_room():
    """Forget the provider's external room."""
    try:
        external_rooms.remove_room(current_user)
    except NotFound:
        flash("You have no meeting room registered.", "info")
    else:
        flash("Your meeting room is removed.", "success")
    return redirect(url_for("settings.external_room"))
