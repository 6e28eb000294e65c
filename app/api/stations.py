"""JSON API v1: kiosk stations (app/services/stations.py).

Registered on the API blueprint of app.api.routes (same authentication and error
handling). Enrolling needs no credential: the one-time code is the authority.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from app.api import schemas as s
from app.api.routes import bp
from app.api.spec import operation
from app.auth.access import role_required
from app.models import Role
from app.services import stations


@bp.post("/stations/enroll")
@operation(s.Enrolled, status=201, body=s.EnrollIn, public=True, errors=(429,))
def enroll_station(body: s.EnrollIn):
    """Trade a one-time enrollment code {code} for the station's credential: 201
    {station_token, station: {id, name, site}}. Use it as a bearer token or as
    Socket.IO's auth {"token": ...}. A wrong, used or expired code is 422; too many
    wrong codes from one address, 429."""
    station, token = stations.enroll_from(request.remote_addr or "unknown", body.code)
    return jsonify(
        station_token=token,
        station={"id": station.id, "name": station.name, "site": station.site},
    ), 201


@bp.get("/stations")
@role_required(Role.ADMIN)
@operation(s.StationListing)
def list_stations():
    """The admin's list: {now, online_seconds, stations: [{id, name, site, state, online,
    last_seen_at, code_expires_at, self_test: {verdict, at} | null}]}."""
    return jsonify(stations.station_listing(current_user.organisation_id))
