"""Assertions and database reads shared by the app-tier tests."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Participant, SessionRequest, User, Visit
from app.services.snapshots import requester_dashboard


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
