"""The station screen at /kiosk: the enrollment form on a device that is not a station yet,
else the station's full-screen requester dashboard."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.session import (
    STATION_COOKIE,
    current_session,
    current_station,
    forget_station,
    remember_station,
    sign_out,
)
from app.limits import TooManyRequests
from app.security import uses_devices
from app.services import stations
from app.services.errors import Invalid
from app.services.snapshots import streams_for, take_snapshot

bp = Blueprint("kiosk", __name__, template_folder="templates")
# Accepted: the screen says so, then goes into the waiting room by itself after this long.
ENTER_SECONDS = 3


@bp.get("/kiosk")
@uses_devices  # the device self-test (selftest/_selftest.html)
def screen():
    """The station screen, or the enrollment form (a revoked station's stale cookie goes)."""
    station = current_station()
    if station is None:
        response = make_response(render_template("kiosk/enroll.html", error=None, code=""))
        if request.cookies.get(STATION_COOKIE) and not stations.station_for_token(
            request.cookies[STATION_COOKIE]
        ):
            forget_station(response)  # revoked: the next code replaces it
        return response
    user = station.user
    snapshots = [take_snapshot(user, stream) for stream in streams_for(user)]
    return render_template(
        "kiosk/station.html",
        station=station,
        snapshots=snapshots,
        home_seconds=current_app.config["KIOSK_HOME_SECONDS"],
        enter_seconds=ENTER_SECONDS,
        self_test_auto=True,  # a station tests itself when its last test is old or failed
    )


@bp.post("/kiosk/enroll")
def enroll():
    """The enrollment form: a good code makes this browser the station (its cookie)."""
    code = request.form.get("code", "")
    try:
        _station, token = stations.enroll_from(request.remote_addr or "unknown", code)
    except TooManyRequests as exc:
        page = render_template("kiosk/enroll.html", error=exc.message, code=code)
        return page, 429, {"Retry-After": str(exc.retry_after)}
    except Invalid as exc:
        return render_template("kiosk/enroll.html", error=exc.message, code=code), 422
    if current_user.is_authenticated and current_session() is not None:
        sign_out()  # whoever was signed in on this browser hands it over to the station
    response = redirect(url_for("kiosk.screen"))
    remember_station(response, token)
    return response
