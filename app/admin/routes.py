"""Admin pages: kiosk stations (create, show the enrollment code once, re-issue, revoke)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.access import role_required
from app.models import Role
from app.services import stations
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError

bp = Blueprint("admin", __name__)

# What a confirmation asks, per action.
CONFIRM = {
    "revoke": (
        "Revoke {name}?",
        "Its screen closes within seconds and it can no longer ask for sessions. To use it "
        "again, issue a new enrollment code and enter it on the device.",
        "Revoke station",
    ),
    "code": (
        "Issue a new enrollment code for {name}?",
        "If the station is enrolled now, its credential ends and its screen closes: enter the "
        "new code on the device (this one, or a replacement) to enroll it again.",
        "Issue new code",
    ),
}


def _page(status: int = 200, *, code=None, created=None, errors=None, form=None):
    return render_template(
        "admin/stations.html",
        listing=stations.station_listing(current_user.organisation_id),
        code=code,
        created=created,
        errors=errors or {},
        form=form or {"name": "", "site": ""},
    ), status


@bp.get("/stations")
@role_required(Role.ADMIN)
def station_list():
    """The organisation's stations: site, online or offline (live), last seen, latest
    self-test."""
    return _page()


@bp.post("/stations")
@role_required(Role.ADMIN)
def create_station():
    """Create a station: the page shows its enrollment code once (never stored in clear)."""
    form = {"name": request.form.get("name", ""), "site": request.form.get("site", "")}
    try:
        station, code = stations.create_station(
            form["name"], form["site"], Actor.user(current_user)
        )
    except ServiceError as exc:
        return _page(422, errors=exc.fields or {"name": exc.message}, form=form)
    return _page(201, code=code, created=station.name)


@bp.get("/stations/<id:station_id>/<any(revoke, code):action>")
@role_required(Role.ADMIN)
def confirm(station_id: int, action: str):
    """Ask before revoking or re-issuing (either ends the station's credential)."""
    mine = stations.list_stations(current_user.organisation_id)
    row = next((r for r in mine if r.id == station_id), None)
    if row is None:
        abort(404, "No such station.")
    title, text, button = CONFIRM[action]
    return render_template(
        "admin/confirm.html",
        row=row,
        action=action,
        title=title.format(name=row.name),
        text=text,
        button=button,
    )


@bp.post("/stations/<id:station_id>/revoke")
@role_required(Role.ADMIN)
def revoke(station_id: int):
    """Revoke a station: its token is refused at once and its sockets close."""
    try:
        station = stations.revoke_station(
            station_id, Actor.user(current_user), organisation_id=current_user.organisation_id
        )
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"{station.name} is revoked. Its screen closes within seconds.", "info")
    return redirect(url_for("admin.station_list"))


@bp.post("/stations/<id:station_id>/code")
@role_required(Role.ADMIN)
def reissue(station_id: int):
    """A new enrollment code, shown once."""
    mine = current_user.organisation_id
    code = stations.reissue_code(station_id, Actor.user(current_user), organisation_id=mine)
    station = next(r for r in stations.list_stations(mine) if r.id == station_id)
    return _page(code=code, created=station.name)
