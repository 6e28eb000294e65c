"""JSON API v1: the same services as the pages, for stations and integrations.

Bearer tokens authenticate without cookies, so they need no CSRF token; a browser calling
the API with its session cookie must send X-CSRFToken like any form.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask_login import current_user

from app.auth.access import role_required
from app.auth.session import bearer_token, use_bearer_user, use_station
from app.auth.throttle import checked_authenticate
from app.errors import respond
from app.extensions import csrf, limiter
from app.models import Role
from app.models.types import MAX_ID
from app.services import (
    availability,
    self_tests,
    session_requests,
    stations,
    tokens,
    users,
    visits,
)
from app.services.errors import Invalid, NotFound
from app.services.request_queue import queued_dict
from app.services.serialize import iso, token_dict, user_dict
from app.services.snapshots import list_providers

MAX_JSON_DEPTH = 32

bp = Blueprint("api", __name__)
csrf.exempt(bp)


@bp.before_request
def authenticate_caller():
    """A Bearer header decides who calls, whatever cookie rides along; otherwise the
    session cookie does, and a state-changing call must then carry X-CSRFToken."""
    token = bearer_token(request)
    if token is not None and token.startswith(stations.TOKEN_PREFIX):
        station = stations.station_for_token(token)
        if station is None:
            return respond(401, "unauthorized", "The station credential is unknown or revoked.")
        use_station(station)
        return None
    if token is not None:
        row = tokens.token_row(token)
        if row is None:
            return respond(401, "unauthorized", "The bearer token is unknown or expired.")
        g.api_token = row
        use_bearer_user(row.user)
        return None
    state_changing = request.method in ("POST", "PUT", "PATCH", "DELETE")
    # Only a signed-in session can be ridden by a forged request; a caller with no
    # credentials at all gets the 401 from role_required, not "your form expired".
    if state_changing and current_user.is_authenticated and request.endpoint != "api.create_token":
        csrf.protect()
    return None


def json_body() -> dict:
    """The request's JSON object ({} for an empty body); 400 for anything else.

    Parsed here rather than by request.get_json so that JSON nested deeper than
    MAX_JSON_DEPTH (which would exhaust the parser's recursion) is a clean 400 too.
    """
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if not request.is_json:
        abort(415, "Send JSON (Content-Type: application/json).")
    too_deep = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted."
    try:
        body = json.loads(raw)
    except ValueError:
        abort(400, "Send a JSON object: the body is not valid JSON.")
    except RecursionError:  # deeper than the parser itself will go
        abort(400, too_deep)
    if _depth(body) > MAX_JSON_DEPTH:
        abort(400, too_deep)
    if not isinstance(body, dict):
        abort(400, "Send a JSON object.")
    return body


def _depth(value, limit: int = MAX_JSON_DEPTH + 1) -> int:
    """How deep containers nest in `value` (counting stops past `limit`)."""
    deepest, level = 0, [value]
    while level and deepest <= limit:
        deepest += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return deepest


def _id_field(body: dict, name: str, required: bool) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required.", fields={name: "Required."})
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"{name} must be a positive whole number.", fields={name: "Not an id."})
    return value


@bp.post("/tokens")
def create_token():
    """Sign in for a bearer token (rate limited per account and address, like the form)."""
    body = json_body()
    email, password, label = body.get("email"), body.get("password"), body.get("label")
    if not isinstance(email, str) or not isinstance(password, str):
        fields = {k: "Required." for k in ("email", "password") if not isinstance(body.get(k), str)}
        raise Invalid("Send email and password.", fields=fields)
    if label is not None and not isinstance(label, str):
        raise Invalid("label must be text.", fields={"label": "Not text."})
    user = checked_authenticate(email, password)
    if user is None:
        return respond(401, "invalid_credentials", "That email and password do not match.")
    token, row = tokens.issue_token(user, label)
    return jsonify(token=token, id=row.id, expires_at=iso(row.expires_at)), 201


@bp.get("/tokens")
@role_required()
def list_tokens():
    """The caller's live tokens (never the tokens themselves: only their digests exist)."""
    current = g.get("api_token")
    return jsonify(
        [
            token_dict(t, current=current is not None and t.id == current.id)
            for t in tokens.list_tokens(current_user)
        ]
    )


@bp.delete("/tokens/current")
@role_required()
def revoke_current_token():
    """Revoke the bearer token this call was made with (sign out an integration)."""
    current = g.get("api_token")
    if current is None:
        raise Invalid("Only a call made with a bearer token has a current token.")
    tokens.revoke_token(current_user, current.id)
    return "", 204


@bp.delete("/tokens/<id:token_id>")
@role_required()
def revoke_token(token_id: int):
    tokens.revoke_token(current_user, token_id)
    return "", 204


@bp.delete("/users/<id:user_id>/tokens")
@role_required(Role.ADMIN)
def revoke_user_tokens(user_id: int):
    """An admin revokes every token of a user."""
    if users.load_user(user_id) is None:
        raise NotFound("No such account.")
    return jsonify(revoked=tokens.revoke_user_tokens(user_id))


@bp.patch("/users/<id:user_id>")
@role_required(Role.ADMIN)
def update_user(user_id: int):
    """An admin deactivates or reactivates an account, or changes its role."""
    body = json_body()
    active, role = body.get("active"), body.get("role")
    if active is not None and not isinstance(active, bool):
        raise Invalid("active must be true or false.", fields={"active": "Not a boolean."})
    if role is not None and not isinstance(role, str):
        raise Invalid("role must be text.", fields={"role": "Not text."})
    if users.load_user(user_id) is None:
        raise NotFound("No such account.")
    if user_id == current_user.id and (active is False or role not in (None, Role.ADMIN)):
        # An admin cannot lock themselves out (and perhaps everyone with them) by accident.
        raise Invalid(
            "You cannot deactivate your own account or give up your own admin role.",
            fields={"active" if active is False else "role": "Ask another admin."},
        )
    if role is not None:
        users.set_role(user_id, role)
    if active is False:
        users.deactivate_user(user_id)
    elif active is True:
        users.activate_user(user_id)
    return jsonify(user_dict(users.load_user(user_id)))


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


def _requester_key() -> str:
    return f"requester:{current_user.id}"


@bp.post("/requests")
@role_required(Role.REQUESTER)
@limiter.limit(lambda: current_app.config["REQUEST_CREATION_LIMIT"], key_func=_requester_key)
def create_request():
    body = json_body()
    provider_id = _id_field(body, "provider_id", required=True)
    service_id = _id_field(body, "service_id", required=False)
    self_tests.check_may_request(current_user)  # SELF_TEST_BLOCKS_REQUEST
    req = session_requests.create_request(current_user, provider_id, service_id)
    return jsonify(_request_summary(req)), 201


def _request_summary(req) -> dict:
    # While pending: its position in the provider's queue and estimated wait (or null).
    summary = queued_dict(req)
    for optional in ("decline_note", "decline_reason"):
        if summary[optional] is None:
            summary.pop(optional)
    return summary


@bp.get("/requests/<id:request_id>")
@role_required()
def get_request(request_id: int):
    return jsonify(_request_summary(session_requests.get_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/accept")
@role_required(Role.PROVIDER)
def accept(request_id: int):
    return jsonify(_request_summary(session_requests.accept_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/decline")
@role_required(Role.PROVIDER)
def decline(request_id: int):
    note = json_body().get("note")
    if note is not None and not isinstance(note, str):
        raise Invalid("note must be text.", fields={"note": "Not text."})
    req = session_requests.decline_request(current_user, request_id, note)
    return jsonify(_request_summary(req))


@bp.post("/requests/<id:request_id>/cancel")
@role_required(Role.REQUESTER)
def cancel(request_id: int):
    return jsonify(_request_summary(session_requests.cancel_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/dismiss")
@role_required(Role.REQUESTER)
def dismiss(request_id: int):
    return jsonify(_request_summary(session_requests.dismiss_request(current_user, request_id)))


@bp.post("/visits/<id:visit_id>/end")
@role_required(Role.PROVIDER)
def end_visit(visit_id: int):
    visit = visits.end_visit(current_user, visit_id)
    return jsonify(id=visit.id, state=visit.state)
