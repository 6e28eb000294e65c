"""Who may call what: one decorator for pages and the API alike.

A kiosk station is confined before any view runs: `confine_station()` (called wherever a
station becomes the caller, app.auth.session.use_station) refuses every endpoint outside
STATION_ENDPOINTS, whatever the route's own decorator would allow. A new route is closed to
stations until it is added below.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user

from app.extensions import login_manager
from app.models import Role

# What a station may reach: its kiosk pages, the requester's dashboard and directory, its
# requests, the room of its visits (chat, files, camera snapshots it is asked for) and the
# device self-test. Not: tokens, notes, schedules, visits' details, people, anything staff
# do, other people's pages.
STATION_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",  # sends a station to /kiosk
        "clinic.home",
        "clinic.requester_dashboard",
        "visits.room",
        "visits.send_attachment",
        "visits.download_attachment",
        "visits.send_snapshot",
        "api.providers",
        "api.create_request",
        "api.get_request",
        "api.cancel",
        "api.dismiss",
        "api.list_messages",
        "api.post_message",
        "api.download_attachment",
        "api.self_test_offer",
        "api.record_self_test",
        "api.latest_self_test",
    }
)
STATION_BLUEPRINTS = frozenset({"kiosk"})


def station_may_reach(endpoint: str) -> bool:
    """Whether a station may call this endpoint at all (its role check comes after)."""
    return endpoint in STATION_ENDPOINTS or endpoint.partition(".")[0] in STATION_BLUEPRINTS


def confine_station() -> None:
    """The caller is a station: 403 for anything but a requester's own things."""
    endpoint = request.endpoint
    if endpoint is None:  # no such route: its 404 follows
        return
    if not station_may_reach(endpoint):
        abort(403, "A station cannot do this.")


def role_required(*roles: Role):
    """Signed in (cookie or bearer) with one of `roles` (any role when none is named);
    401/redirect or 403 otherwise.

    The view keeps `required_roles` (the roles named, () for any), so what it admits is
    read from here, never restated: the API document's x-roles (app.api.openapi)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403, "Your account cannot do this.")
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator
