"""The one way to load the current user: the session cookie, or on the API a bearer token
(see app.api.routes.authenticate_caller), which wins over any cookie.

Also the idle logout: a signed-in browser that makes no request for IDLE_LOGOUT is signed
out on its next request, checked on the server, not only by cookie expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.errors import respond, wants_json
from app.extensions import db, login_manager
from app.models import User

LAST_SEEN = "last_seen"


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.before_request(enforce_idle_logout)


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        return respond(401, "unauthorized", "Sign in or send a valid bearer token.")
    if not session.get("idle_logged_out"):
        flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except ValueError:
        return None


def use_bearer_user(user: User) -> None:
    """Make `user` the current user for this request only (no session is written)."""
    g._login_user = user  # where Flask-Login keeps the request's user


def bearer_token(req) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def idle_expired(now: datetime | None = None) -> bool:
    last_seen = session.get(LAST_SEEN)
    if last_seen is None:
        return False
    now = now or datetime.now(UTC)
    idle = current_app.config["IDLE_LOGOUT"]
    return now.timestamp() - float(last_seen) > idle.total_seconds()


def mark_seen() -> None:
    session.permanent = True
    session[LAST_SEEN] = datetime.now(UTC).timestamp()


def enforce_idle_logout() -> None:
    if request.endpoint == "static" or bearer_token(request):
        return
    if "_user_id" in session and idle_expired():
        logout_user()
        session.pop(LAST_SEEN, None)
        session["idle_logged_out"] = True
        return
    if current_user.is_authenticated:
        mark_seen()
