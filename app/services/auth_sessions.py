"""Signed-in browser sessions, kept on the server so they can really end.

The session cookie carries a random secret (256 bits); the `auth_sessions` row with its
SHA-256 says whether it still counts. Signing in starts a new row (the cookie rotates),
signing out ends it, and a row unused for IDLE_LOGOUT ends as idle: a copy of the cookie
taken before any of these is refused afterwards. Ending a session closes the Socket.IO
connections opened with it (app.realtime.authority).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import AuthSession, User
from app.models.types import utcnow
from app.realtime import authority

# A request refreshes last_seen_at at most this often (or a quarter of the idle limit,
# if that is shorter): one write per session per interval, not one per request.
TOUCH_INTERVAL = timedelta(seconds=15)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _idle_limit() -> timedelta:
    return current_app.config["IDLE_LOGOUT"]


def start_session(user: User, now: datetime | None = None) -> str:
    """A new session for a user who just proved who they are; returns its secret. Commits."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    db.session.add(
        AuthSession(user_id=user.id, secret_hash=digest(secret), created_at=now, last_seen_at=now)
    )
    db.session.commit()
    return secret


def resume_session(
    secret: object, user_id: str | int | None, now: datetime | None = None
) -> tuple[AuthSession | None, str | None]:
    """The live session for this cookie, refreshed as activity; or (None, why not).

    Why not is "idle" when the session timed out (it is ended here if nobody did so
    before), otherwise "ended", "unknown" or "inactive".
    """
    if not isinstance(secret, str) or not secret:
        return None, "unknown"
    now = now or utcnow()
    row = db.session.scalar(_session_query(), {"secret_hash": digest(secret)})
    if row is None or str(row.user_id) != str(user_id):
        return None, "unknown"
    if row.ended_at is not None:
        # Ended as idle by whoever noticed first (a socket, another tab): still "idle" to
        # the page that comes next, so it can say why.
        return None, "idle" if row.end_reason == "idle" else "ended"
    if not row.user.active:
        return None, "inactive"
    if now - row.last_seen_at > _idle_limit():
        end_session(row.id, "idle", now)
        return None, "idle"
    touch_session(row, now)
    return row, None


@functools.cache
def _session_query():
    """A session by its secret's hash, with its user in the same query and without the
    services a provider offers (a query of their own otherwise): every page and socket
    signed in with a cookie comes through here. Built once."""
    return (
        select(AuthSession)
        .where(AuthSession.secret_hash == bindparam("secret_hash"))
        .options(joinedload(AuthSession.user).lazyload(User.services))
    )


def touch_session(row: AuthSession, now: datetime | None = None) -> None:
    """Count activity on a live session (at most one write per TOUCH_INTERVAL)."""
    now = now or utcnow()
    if now - row.last_seen_at < min(TOUCH_INTERVAL, _idle_limit() / 4):
        return
    db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == row.id, AuthSession.ended_at.is_(None))
        .values(last_seen_at=now)
    )
    db.session.commit()
    row.last_seen_at = now


def end_session(session_id: int, reason: str, now: datetime | None = None) -> None:
    """End one session (signed_out, idle) and close its sockets. Commits."""
    now = now or utcnow()
    db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    db.session.commit()
    authority.revoke(authority.Credential.session(session_id), reason)


def end_user_sessions(user_id: int, reason: str, now: datetime) -> None:
    """End every live session of a user, in the caller's transaction (no commit)."""
    db.session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def live_sessions(ids: set[int], now: datetime | None = None) -> dict[int, tuple[int, str]]:
    """Of these session ids, the ones still live: {id: (user id, role)}."""
    if not ids:
        return {}
    now = now or utcnow()
    rows = db.session.execute(
        select(AuthSession.id, AuthSession.user_id, User.role)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.id.in_(ids),
            AuthSession.ended_at.is_(None),
            AuthSession.last_seen_at >= now - _idle_limit(),
            User.active.is_(True),
        )
    ).all()
    return {row.id: (row.user_id, row.role) for row in rows}


def session_by_id(session_id: int) -> AuthSession | None:
    return db.session.get(AuthSession, session_id, populate_existing=True)
