"""JSON API v1: the same services as the pages, for stations and integrations.

Bearer tokens authenticate without cookies, so they need no CSRF token; a browser calling
the API with its session cookie must send X-CSRFToken like any form.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user

from app.api import schemas as s
from app.api.openapi import build_document
from app.api.spec import operation
from app.auth.access import role_required
from app.auth.session import bearer_token, use_bearer_user, use_station
from app.auth.throttle import checked_authenticate
from app.errors import respond
from app.extensions import csrf, limiter
from app.models import Role
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


@bp.get("/openapi.json")
@operation(dict, public=True)
def openapi_document():
    """This document: OpenAPI 3.1, built from the routes and the schemas that validate them."""
    document = current_app.extensions.get("api_openapi")
    if document is None:
        document = current_app.extensions["api_openapi"] = build_document(current_app.url_map)
    return jsonify(document)


@bp.post("/tokens")
@operation(s.TokenCreated, status=201, body=s.TokenIn, public=True, errors=(429,))
def create_token(body: s.TokenIn):
    """Sign in for a bearer token (rate limited per account and address, like the form)."""
    user = checked_authenticate(body.email, body.password)
    if user is None:
        return respond(401, "invalid_credentials", "That email and password do not match.")
    token, row = tokens.issue_token(user, body.label)
    return jsonify(token=token, id=row.id, expires_at=iso(row.expires_at)), 201


@bp.get("/tokens")
@role_required()
@operation(list[s.TokenOut])
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
@operation(status=204, errors=(422,))
def revoke_current_token():
    """Revoke the bearer token this call was made with (sign out an integration)."""
    current = g.get("api_token")
    if current is None:
        raise Invalid("Only a call made with a bearer token has a current token.")
    tokens.revoke_token(current_user, current.id)
    return "", 204


@bp.delete("/tokens/<id:token_id>")
@role_required()
@operation(status=204)
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    tokens.revoke_token(current_user, token_id)
    return "", 204


@bp.delete("/users/<id:user_id>/tokens")
@role_required(Role.ADMIN)
@operation(s.Revoked)
def revoke_user_tokens(user_id: int):
    """An admin revokes every token of a user."""
    if users.load_user(user_id) is None:
        raise NotFound("No such account.")
    return jsonify(revoked=tokens.revoke_user_tokens(user_id))


@bp.patch("/users/<id:user_id>")
@role_required(Role.ADMIN)
@operation(s.UserOut, body=s.UserPatch)
def update_user(user_id: int, body: s.UserPatch):
    """An admin deactivates or reactivates an account, or changes its role."""
    active, role = body.active, body.role
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
@operation(list[s.ProviderOut])
def providers():
    """The directory: the caller's organisation's active providers, by name."""
    return jsonify(list_providers(current_user.organisation_id))


@bp.put("/providers/me/availability")
@role_required(Role.PROVIDER)
@operation(s.AvailabilityOut, body=s.AvailabilityIn)
def put_availability(body: s.AvailabilityIn):
    """Say whether the provider takes requests now (turning unavailable declines the
    pending ones)."""
    return jsonify(available=availability.set_availability(current_user, body.available))


def _requester_key() -> str:
    return f"requester:{current_user.id}"


@bp.post("/requests")
@role_required(Role.REQUESTER)
@limiter.limit(lambda: current_app.config["REQUEST_CREATION_LIMIT"], key_func=_requester_key)
@operation(s.RequestOut, status=201, body=s.RequestIn, errors=(404, 409, 429))
def create_request(body: s.RequestIn):
    """Ask a provider for a session now (declined at once when they are unavailable)."""
    self_tests.check_may_request(current_user)  # SELF_TEST_BLOCKS_REQUEST
    req = session_requests.create_request(current_user, body.provider_id, body.service_id)
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
@operation(s.RequestOut)
def get_request(request_id: int):
    """A request of the caller's (while pending, with its place in the queue)."""
    return jsonify(_request_summary(session_requests.get_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/accept")
@role_required(Role.PROVIDER)
@operation(s.RequestOut, errors=(409,))
def accept(request_id: int):
    """The provider accepts: the visit is created."""
    return jsonify(_request_summary(session_requests.accept_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/decline")
@role_required(Role.PROVIDER)
@operation(s.RequestOut, body=s.DeclineIn, errors=(409,))
def decline(request_id: int, body: s.DeclineIn):
    """The provider declines, with an optional note to the requester."""
    req = session_requests.decline_request(current_user, request_id, body.note)
    return jsonify(_request_summary(req))


@bp.post("/requests/<id:request_id>/cancel")
@role_required(Role.REQUESTER)
@operation(s.RequestOut, errors=(409,))
def cancel(request_id: int):
    """The requester withdraws a pending request."""
    return jsonify(_request_summary(session_requests.cancel_request(current_user, request_id)))


@bp.post("/requests/<id:request_id>/dismiss")
@role_required(Role.REQUESTER)
@operation(s.RequestOut, errors=(409,))
def dismiss(request_id: int):
    """The requester clears a declined request from their screen."""
    return jsonify(_request_summary(session_requests.dismiss_request(current_user, request_id)))


@bp.post("/visits/<id:visit_id>/end")
@role_required(Role.PROVIDER)
@operation(s.VisitEnded, errors=(409,))
def end_visit(visit_id: int):
    """The host ends the visit for everyone."""
    visit = visits.end_visit(current_user, visit_id)
    return jsonify(id=visit.id, state=visit.state)
