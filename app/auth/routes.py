"""Sign in and out."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app.auth.forms import LoginForm
from app.auth.session import IDLE_FLAG, STATION_COOKIE, sign_in, sign_out
from app.auth.throttle import checked_authenticate, remember_device
from app.limits import TooManyRequests

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    # Only paths on this site: no scheme, no host, no protocol-relative //evil.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET" and request.cookies.get(STATION_COOKIE):
        # A kiosk station (or one just revoked) is sent to its own screen, never sign-in.
        return redirect("/kiosk")
    if current_user.is_authenticated:
        return redirect(url_for("clinic.home"))
    if session.pop(IDLE_FLAG, False):
        flash("You were signed out after a period of inactivity.", "info")
    form = LoginForm()
    headers = {}
    if form.validate_on_submit():
        try:
            user = checked_authenticate(form.email.data, form.password.data)
        except TooManyRequests as exc:
            form.password.errors.append(exc.message)
            headers["Retry-After"] = str(exc.retry_after)
            return render_template("auth/login.html", form=form), 429, headers
        if user is None:
            form.password.errors.append("That email and password do not match an account.")
        else:
            sign_in(user)
            target = _safe_next(request.args.get("next")) or url_for("clinic.home")
            return remember_device(redirect(target), user.email)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
