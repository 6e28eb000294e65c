"""Dashboards: the requester's provider directory and the provider's request queue."""

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from app.auth.access import role_required
from app.models import Role
from app.realtime.publish import directory_stream
from app.security import uses_devices
from app.services.snapshots import streams_for, take_snapshot

bp = Blueprint("clinic", __name__)


@bp.get("/")
@role_required()
def home():
    if current_user.role == Role.PROVIDER:
        return redirect(url_for("clinic.provider_dashboard"))
    if current_user.role == Role.REQUESTER:
        return redirect(url_for("clinic.requester_dashboard"))
    directory = take_snapshot(current_user, directory_stream(current_user.organisation_id))
    return render_template("clinic/overview.html", directory=directory)


def _snapshots() -> list[dict]:
    # Rendered into the page so it shows the truth before the socket connects.
    return [take_snapshot(current_user, stream) for stream in streams_for(current_user)]


@bp.get("/provider")
@role_required(Role.PROVIDER)
def provider_dashboard():
    return render_template(
        "clinic/provider.html",
        snapshots=_snapshots(),
        notes_enabled=current_app.config["DECLINE_NOTES_ENABLED"],
    )


@bp.get("/requester")
@role_required(Role.REQUESTER)
@uses_devices  # the device self-test (selftest/_selftest.html)
def requester_dashboard():
    return render_template("clinic/requester.html", snapshots=_snapshots())
