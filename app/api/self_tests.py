"""JSON API v1: the device self-test (app/services/self_tests.py).

Anyone who may be in a waiting room tests: a signed-in user or station (session cookie or
bearer token) and a guest (the session their link opened). Registered on the API blueprint
of app.api.routes (same authentication, CSRF rules and error handling); a guest has no
token, so their state-changing calls need the page's CSRF token here.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request
from flask_login import current_user

from app.api import schemas as s
from app.api.routes import bp
from app.api.spec import operation
from app.auth.session import current_caller
from app.errors import respond
from app.extensions import csrf, limiter
from app.models import Participant
from app.services import self_tests
from app.services.ice import ice_servers_for
from app.services.visits import Who


def _caller() -> Who | None:
    """The bearer token's user, else the cookie's guest or user."""
    if g.get("api_token") is not None:
        return current_user._get_current_object()
    who = current_caller()
    if isinstance(who, Participant) and request.method == "POST":
        csrf.protect()  # authenticate_caller protects a signed-in cookie, not a guest's
    return who


def _limit_key() -> str:
    who = _caller()
    if isinstance(who, Participant):
        return f"self-test:guest:{who.id}"
    if who is not None:
        return f"self-test:user:{who.id}"
    return f"self-test:address:{request.remote_addr}"


def _caller_required(view):
    """401 for a call from nobody (before its body is read). Any account, a station, or a
    patient or guest by their link may test: the API document reads that from the view's
    `required_roles` (any role) and `admits_guests`."""

    @wraps(view)
    def checked(*args, **kwargs):
        if _caller() is None:
            return respond(401, "unauthorized", "Sign in, open your link, or send a bearer token.")
        return view(*args, **kwargs)

    checked.required_roles = ()
    checked.admits_guests = True
    return checked


@bp.post("/self-tests/offer")
@limiter.limit(lambda: current_app.config["SELF_TEST_LIMIT"], key_func=_limit_key)
@_caller_required
@operation(s.AnswerOut, body=s.OfferIn, errors=(429,))
def self_test_offer(body: s.OfferIn):
    """Relay the page's SDP offer {type, sdp} to the media worker; its answer {type, sdp}.
    503 when the test service is down or busy."""
    return jsonify(self_tests.relay_offer(body.model_dump()))


@bp.post("/self-tests")
@_caller_required
@operation(s.SelfTestOut, status=201, body=s.SelfTestIn)
def record_self_test(body: s.SelfTestIn):
    """Keep the caller's measurements {camera_ok, microphone_ok, round_trip_ms,
    packet_loss, bitrate_kbps, details?}; answers with the server's verdict and advice."""
    test = self_tests.record_self_test(_caller(), body.model_dump(exclude_unset=True))
    return jsonify(self_tests.self_test_dict(test)), 201


@bp.get("/self-tests/latest")
@_caller_required
@operation(s.LatestSelfTest)
def latest_self_test():
    """What the page needs before testing: the caller's latest result (or null), whether a
    failed one blocks a request, and the ICE servers that reach the media worker."""
    who = _caller()
    latest = self_tests.latest_self_test(who)
    ice_id = f"guest-{who.id}" if isinstance(who, Participant) else who.id
    return jsonify(
        self_test=self_tests.self_test_dict(latest) if latest else None,
        blocks_request=current_app.config["SELF_TEST_BLOCKS_REQUEST"],
        ice_servers=ice_servers_for(ice_id),
    )
