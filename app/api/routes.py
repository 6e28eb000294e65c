"""JSON API v1: the same services as the pages, for stations and integrations.

Bearer tokens authenticate without cookies, so they need no CSRF token; a browser calling
the API with its session cookie must send X-CSRFToken like any form.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from app.auth.access import role_required
from app.auth.session import bearer_token, use_bearer_user
from app.errors import respond
from app.extensions import csrf
from app.models import Role
from app.services import availability, session_requests, visits
from app.services.errors import Invalid
from app.services.serialize import iso, request_dict
from app.services.snapshots import list_providers
from app.services.users import authenticate, issue_token, user_for_token

bp = Blueprint("api", __name__)
csrf.exempt(bp)


@bp.before_request
def authenticate_caller():
    """A Bearer header decides who calls, whatever cookie rides along; otherwise the
    session cookie does, and a state-changing call must then carry X-CSRFToken."""
    token = bearer_token(request)
    if token is not None:
        user = user_for_token(token)
        if user is None:
            return respond(401, "unauthorized", "The bearer token is unknown or expired.")
        use_bearer_user(user)
        return None
    state_changing = request.method in ("POST", "PUT", "PATCH", "DELETE")
    # Only a signed-in session can be ridden by a forged request; a caller with no
    # credentials at all gets the 401 from role_required, not "your form expired".
    if state_changing and current_user.is_authenticated and request.endpoint != "api.create_token":
        csrf.protect()
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None and request.content_length in (None, 0):
        body = {}
    if not isinstance(body, dict):
        abort(400, "Send a JSON object.")
    return body


def _id_field(body: dict, name: str, required: bool) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required.", fields={name: "Required."})
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"{name} must be a positive whole number.", fields={name: "Not an id."})
    return value


@bp.post("/tokens")
def create_token():
    body = json_body()
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        fields = {k: "Required." for k in ("email", "password") if not isinstance(body.get(k), str)}
        raise Invalid("Send email and password.", fields=fields)
    user = authenticate(email, password)
    if user is None:
        return respond(401, "invalid_credentials", "That email and password do not match.")
    token, expires_at = issue_token(user)
    return jsonify(token=token, expires_at=iso(expires_at)), 201


@bp.get("/providers")
@role_required()
def providers():
    return jsonify(list_providers())


@bp.put("/providers/me/availability")
@role_required(Role.PROVIDER)
def put_availability():
    body = json_body()
    available = body.get("available")
    if not isinstance(available, bool):
        raise Invalid("available must be true or false.", fields={"available": "Not a boolean."})
    return jsonify(available=availability.set_availability(current_user, available))


@bp.post("/requests")
@role_required(Role.REQUESTER)
def create_request():
    body = json_body()
    provider_id = _id_field(body, "provider_id", required=True)
    service_id = _id_field(body, "service_id", required=False)
    req = session_requests.create_request(current_user, provider_id, service_id)
    return jsonify(_request_summary(req)), 201


def _request_summary(req) -> dict:
    summary = request_dict(req)
    if summary["decline_note"] is None:
        summary.pop("decline_note")
    return summary


@bp.get("/requests/<int:request_id>")
@role_required()
def get_request(request_id: int):
    return jsonify(_request_summary(session_requests.get_request(current_user, request_id)))


@bp.post("/requests/<int:request_id>/accept")
@role_required(Role.PROVIDER)
def accept(request_id: int):
    return jsonify(_request_summary(session_requests.accept_request(current_user, request_id)))


@bp.post("/requests/<int:request_id>/decline")
@role_required(Role.PROVIDER)
def decline(request_id: int):
    note = json_body().get("note")
    if note is not None and not isinstance(note, str):
        raise Invalid("note must be text.", fields={"note": "Not text."})
    req = session_requests.decline_request(current_user, request_id, note)
    return jsonify(_request_summary(req))


@bp.post("/requests/<int:request_id>/cancel")
@role_required(Role.REQUESTER)
def cancel(request_id: int):
    return jsonify(_request_summary(session_requests.cancel_request(current_user, request_id)))


@bp.post("/requests/<int:request_id>/dismiss")
@role_required(Role.REQUESTER)
def dismiss(request_id: int):
    return jsonify(_request_summary(session_requests.dismiss_request(current_user, request_id)))


@bp.post("/visits/<int:visit_id>/end")
@role_required(Role.PROVIDER)
def end_visit(visit_id: int):
    visit = visits.end_visit(current_user, visit_id)
    return jsonify(id=visit.id, state=visit.state)
