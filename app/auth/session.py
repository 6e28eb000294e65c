"""The one way to load the current user: the session cookie, checked against its
server-side session (app.services.auth_sessions), or on the API a bearer token (see
app.api.routes.authenticate_caller), which wins over any cookie. A kiosk station's browser
holds a station cookie instead (app.services.stations): its station's requester account,
with no idle logout; `current_station()` says whether the caller is one.

The idle logout is the server's: a session with no activity for IDLE_LOGOUT ends, and the
next request from its browser finds itself signed out with a message saying why.
"""

from __future__ import annotations

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user

from app.auth.access import confine_station
from app.errors import respond, wants_json
from app.extensions import login_manager
from app.models import AuthSession, Participant, Station, User
from app.services import auth_sessions
from app.services.guests import guest_of_session
from app.services.stations import station_for_token

AUTH_KEY = "auth"  # the session secret in the signed cookie
IDLE_FLAG = "idle_logged_out"
# A guest's session, opened by their link: their participant id, and the hash of the link
# (a link revoked or cancelled ends the session with it).
GUEST_KEY = "guest"
GUEST_LINK_KEY = "guest_link"
# A kiosk station's credential (HttpOnly, long-lived; revocation ends it on the server).
STATION_COOKIE = "anteroom_station"


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.jinja_env.globals["current_station"] = current_station
    app.before_request(load_station)


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        return respond(401, "unauthorized", "Sign in or send a valid bearer token.")
    if request.cookies.get(STATION_COOKIE):
        # A station whose credential no longer counts (revoked): its screen asks for a code.
        return redirect("/kiosk")
    if not session.get(IDLE_FLAG):
        flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The cookie's user, only while its server-side session is live."""
    row, why_not = auth_sessions.resume_session(session.get(AUTH_KEY), user_id)
    if row is None:
        for key in (AUTH_KEY, "_user_id", "_fresh", "_id"):
            session.pop(key, None)
        if why_not == "idle":
            session[IDLE_FLAG] = True
        return None
    g.auth_session = row
    return row.user


def station_of_cookie() -> Station | None:
    """The station this browser's station cookie names, while it is enrolled and not
    revoked; None without one, or while a person (or a guest) is signed in on this browser.
    A sign-in that ended (idle, signed out elsewhere) leaves the station in charge again."""
    if GUEST_KEY in session or STATION_COOKIE not in request.cookies:
        return None
    if AUTH_KEY in session and current_user.is_authenticated:
        return None
    return station_for_token(request.cookies.get(STATION_COOKIE))


def load_station() -> None:
    """Before each request: a kiosk station's cookie makes its station's account the
    current user. It has no server-side session, so no idle logout. (Not Flask-Login's
    request_loader: its "strong" session protection would drop a station whose session
    holds only a CSRF token.)"""
    if request.endpoint == "static":
        return  # a stylesheet or script is anyone's: no query for it
    station = station_of_cookie()
    if station is not None:
        use_station(station)


def current_station() -> Station | None:
    """The kiosk station making this request (by its cookie, or its bearer token on the
    API), or None for anyone else."""
    return g.get("station")


def use_station(station: Station) -> None:
    """Make `station` the caller for this request only (its cookie, or its bearer token),
    confined to a requester's own routes (app.auth.access.confine_station)."""
    use_bearer_user(station.user)
    g.station = station
    confine_station()


def remember_station(response, token: str) -> None:
    """Give this browser the station credential it just enrolled with (and no other)."""
    session.clear()
    response.set_cookie(
        STATION_COOKIE,
        token,
        max_age=current_app.config["STATION_COOKIE_DAYS"] * 24 * 3600,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )


def forget_station(response) -> None:
    """Drop a station cookie that no longer counts (revoked), so the next code replaces it."""
    response.delete_cookie(
        STATION_COOKIE,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )


def current_caller() -> User | Participant | None:
    """Who makes this request: a guest by the session their link opened (while the link
    still works), else the signed-in user (or the API's bearer user); None for nobody."""
    if GUEST_KEY in session:
        return guest_of_session(session.get(GUEST_KEY), session.get(GUEST_LINK_KEY))
    if current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def current_session() -> AuthSession | None:
    """The live server-side session behind this request's cookie (after current_user)."""
    return g.get("auth_session")


def sign_in(user: User) -> None:
    """A new session (and a new cookie) for a user who just proved who they are."""
    secret = auth_sessions.start_session(user)
    session.clear()
    session.permanent = True  # the cookie lasts IDLE_LOGOUT, renewed by each request
    session[AUTH_KEY] = secret
    login_user(user)


def sign_out() -> None:
    """End this browser's session on the server, close its sockets, clear the cookie."""
    row = current_session()
    if row is not None:
        auth_sessions.end_session(row.id, "signed_out")
    session.clear()


def use_bearer_user(user: User) -> None:
    """Make `user` the current user for this request only (no session is written)."""
    g._login_user = user  # where Flask-Login keeps the request's user
    g.pop("station", None)  # a bearer token wins over a station's cookie


def bearer_token(req) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
