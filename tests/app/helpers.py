"""Assertions and database reads shared by the app-tier tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select, update

from app import create_app
from app.extensions import db, limiter, socketio
from app.models import AuthSession, Organisation, Participant, SessionRequest, User, Visit
from app.models.types import utcnow
from app.realtime.publish import directory_stream
from app.services.snapshots import requester_dashboard
from config import Config
from tests.conftest import Auth


def directory_of(user) -> str:
    """The directory stream a user follows: their organisation's."""
    return directory_stream(user.organisation_id)


def the_directory(app: Flask) -> str:
    """The directory stream of the test's one organisation (tests/app/conftest.py)."""
    with app.app_context():
        organisation_id = db.session.scalar(select(func.min(Organisation.id)))
        db.session.rollback()
    return directory_stream(organisation_id)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one API error format, and nothing else in the body; returns the error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.content_type
    body = response.get_json()
    assert list(body) == ["error"]
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if "fields" in error:
        assert isinstance(error["fields"], dict) and error["fields"]
    if code is not None:
        assert error["code"] == code
    assert_no_trace(response)
    return error


def assert_no_trace(response) -> None:
    text = response.get_data(as_text=True)
    for marker in ("Traceback", 'File "/', "sqlalchemy.", "werkzeug."):
        assert marker not in text


def request_row(app, request_id: int) -> dict:
    """The request as the database has it now, read in a fresh session."""
    with app.app_context():
        req = db.session.get(SessionRequest, request_id)
        row = {
            "state": req.state,
            "decline_note": req.decline_note,
            "dismissed": req.dismissed_at is not None,
            "visit_id": req.visit_id,
        }
        db.session.rollback()
        return row


def visit_rows(app, visit_id: int) -> dict:
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        row = {
            "state": visit.state,
            "source": visit.source,
            "host_id": visit.host_id,
            "participants": sorted((p.role, p.user_id, p.presence) for p in visit.participants),
        }
        db.session.rollback()
        return row


def count_visits(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count(Visit.id)))
        db.session.rollback()
        return n


def presence_of(app, visit_id: int, user_id: int) -> str:
    with app.app_context():
        presence = db.session.scalar(
            select(Participant.presence).where(
                Participant.visit_id == visit_id, Participant.user_id == user_id
            )
        )
        db.session.rollback()
        return presence


def open_requests_of(app, requester_id: int) -> list[dict]:
    """The requester's open requests (pending, or declined and not dismissed), as its
    dashboard snapshot lists them."""
    with app.app_context():
        rows = requester_dashboard(db.session.get(User, requester_id))["requests"]
        db.session.rollback()
        return rows


def set_last_seen(app, user_id: int, seconds_ago: float) -> None:
    """Pretend the user's signed-in sessions were last used `seconds_ago`."""
    with app.app_context():
        db.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id)
            .values(last_seen_at=utcnow() - timedelta(seconds=seconds_ago))
        )
        db.session.commit()


def sessions_of(app, user_id: int) -> list[dict]:
    """The user's server-side sessions, oldest first, as the database has them now."""
    with app.app_context():
        rows = db.session.scalars(
            select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.id)
        ).all()
        found = [
            {
                "id": r.id,
                "ended": r.ended_at is not None,
                "end_reason": r.end_reason,
                "idle_seconds": (utcnow() - r.last_seen_at).total_seconds(),
            }
            for r in rows
        ]
        db.session.rollback()
        return found


@contextmanager
def separate_app(database_url: str, instance_path: str, env=None, **overrides) -> Iterator[Flask]:
    """A second app from create_app, on the test database, for settings read only when the
    app is built (PROXY_COUNT, RATELIMIT_ENABLED) or views added before its first request.

    create_app binds the shared Flask-Limiter and Flask-SocketIO objects to the app it
    builds; their state is put back afterwards so the session's app is as it was.
    """
    saved = {ext: _shallow_state(ext) for ext in (limiter, socketio)}
    config = Config.from_env(
        {
            "ANTEROOM_ENV": "test",
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "SOCKETIO_ASYNC_MODE": "threading",
            "ANTEROOM_INSTANCE_PATH": str(instance_path),
            **(env or {}),
        },
        TESTING=True,
        AUTHORITY_CHECK_SECONDS=0,
        **overrides,
    )
    other = create_app(config)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        for ext, state in saved.items():
            vars(ext).clear()
            vars(ext).update(state)


def _shallow_state(ext) -> dict:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in vars(ext).items()}


def browser_tab(app: Flask, socket_client, user):
    """A signed-in browser tab: a Flask test client with a session, and its socket."""
    browser = app.test_client()
    Auth(browser).login(user)
    return socket_client(flask_client=browser)
