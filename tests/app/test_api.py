"""JSON API v1: tokens, bearer and cookie auth, requests from ask to visit, error format."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import ApiToken, Role, User
from app.models.types import utcnow
from app.services.visits import enter_visit
from clinicqueue import UNAVAILABLE_NOTE
from tests.app.helpers import (
    assert_error,
    assert_no_trace,
    count_visits,
    open_requests_of,
    request_row,
    visit_rows,
)


@pytest.fixture
def cast(make_user, api):
    """An available provider with one service, a requester, and their bearer tokens."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada", services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station A")
    return SimpleNamespace(
        provider=provider,
        requester=requester,
        p=api.token(provider),
        r=api.token(requester),
    )


def ask(api, cast, **body):
    body.setdefault("provider_id", cast.provider.id)
    return api.post("/requests", cast.r, json=body)


def pending(api, cast) -> dict:
    response = ask(api, cast)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["state"] == "pending"
    return response.get_json()


# Tokens ---------------------------------------------------------------------------------


def test_token_is_issued_for_a_correct_password(api, make_user):
    user = make_user(Role.REQUESTER)

    response = api.post(
        "/tokens", json={"email": user.email.upper(), "password": "correct horse battery"}
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "id", "expires_at"}
    assert len(body["token"]) >= 40
    assert body["expires_at"].endswith("Z")
    assert response.headers["Cache-Control"] == "no-store"
    assert api.get("/providers", body["token"]).status_code == 200


def test_only_the_token_digest_is_stored(app, api, make_user):
    user = make_user(Role.REQUESTER)
    token = api.token(user)

    with app.app_context():
        stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
        db.session.rollback()
    assert len(stored) == 1
    assert token not in stored[0]
    assert len(stored[0]) == 64


@pytest.mark.parametrize("email", ["known", "nobody@example.org"])
def test_wrong_password_or_unknown_email_gets_401(api, make_user, email):
    user = make_user(Role.REQUESTER)
    email = user.email if email == "known" else email

    response = api.post("/tokens", json={"email": email, "password": "wrong password"})

    error = assert_error(response, 401, "invalid_credentials")
    assert "do not match" in error["message"]


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, {"email", "password"}),
        ({"email": "a@example.org"}, {"password"}),
        ({"password": "x"}, {"email"}),
        ({"email": 5, "password": ["x"]}, {"email", "password"}),
    ],
)
def test_token_request_without_email_or_password_gets_422_naming_them(api, body, missing):
    response = api.post("/tokens", json=body)

    error = assert_error(response, 422, "invalid")
    assert set(error["fields"]) == missing


def test_token_request_with_an_empty_body_gets_422(api):
    error = assert_error(api.post("/tokens"), 422, "invalid")

    assert set(error["fields"]) == {"email", "password"}


def test_deactivated_account_gets_no_token_and_its_tokens_stop_working(app, api, make_user):
    user = make_user(Role.REQUESTER)
    token = api.token(user)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()

    assert_error(api.get("/providers", token), 401, "unauthorized")
    response = api.post("/tokens", json={"email": user.email, "password": "correct horse battery"})
    assert_error(response, 401, "invalid_credentials")


# Bearer and cookie auth ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/providers"),
        ("PUT", "/providers/me/availability"),
        ("POST", "/requests"),
        ("GET", "/requests/1"),
        ("POST", "/requests/1/accept"),
        ("POST", "/requests/1/decline"),
        ("POST", "/requests/1/cancel"),
        ("POST", "/requests/1/dismiss"),
        ("POST", "/visits/1/end"),
    ],
)
def test_every_endpoint_needs_a_signed_in_caller(api, method, path):
    response = api.call(method, path, json={})

    error = assert_error(response, 401, "unauthorized")
    assert "bearer token" in error["message"]


@pytest.mark.parametrize(
    "header", ["Bearer not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer ", "not-a-scheme"]
)
def test_bad_authorization_header_gets_401(api, header):
    response = api.get("/providers", headers={"Authorization": header})

    assert_error(response, 401, "unauthorized")


def test_expired_token_gets_401(app, api, make_user):
    from app.services.tokens import issue_token

    user = make_user(Role.REQUESTER)
    with app.app_context():
        past = utcnow() - app.config["API_TOKEN_LIFETIME"] - timedelta(minutes=1)
        token, _ = issue_token(db.session.get(User, user.id), now=past)

    assert_error(api.get("/providers", token), 401, "unauthorized")


def test_bearer_calls_need_no_csrf_token(api, cast):
    response = ask(api, cast)

    assert response.status_code == 201


def test_cookie_api_calls_that_change_state_need_the_csrf_header(api, cast, client, auth):
    auth.login(cast.requester)

    without = client.post("/api/v1/requests", json={"provider_id": cast.provider.id})
    assert_error(without, 400, "csrf_failed")
    assert open_requests_of(api.app, cast.requester.id) == []

    token = auth.csrf("/requester")
    with_header = client.post(
        "/api/v1/requests",
        json={"provider_id": cast.provider.id},
        headers={"X-CSRFToken": token},
    )
    assert with_header.status_code == 201
    assert with_header.get_json()["state"] == "pending"


def test_a_bogus_bearer_beside_a_session_cookie_is_refused_not_ridden(api, cast, client, auth):
    auth.login(cast.requester)

    response = api.post(
        "/requests", "not-a-token", client=client, json={"provider_id": cast.provider.id}
    )

    assert_error(response, 401, "unauthorized")
    assert open_requests_of(api.app, cast.requester.id) == []


def test_a_bearer_token_decides_who_calls_even_beside_a_session_cookie(api, cast, client, auth):
    auth.login(cast.requester)

    response = api.put(
        "/providers/me/availability", cast.p, client=client, json={"available": False}
    )

    assert response.status_code == 200
    assert response.get_json() == {"available": False}


def test_cookie_api_reads_need_no_csrf_header(client, auth, cast):
    auth.login(cast.requester)

    response = client.get("/api/v1/providers")

    assert response.status_code == 200


# Providers and availability ------------------------------------------------------------


def test_providers_list_shows_each_active_provider_with_services(api, make_user):
    ben = make_user(Role.PROVIDER, name="Dr. Ben", services=["Wound care", "Triage"])
    ada = make_user(Role.PROVIDER, name="Dr. Ada", services=["Triage"], available=True)
    make_user(Role.REQUESTER, name="A requester")
    make_user(Role.SCHEDULER, name="A scheduler")
    token = api.token(make_user(Role.REQUESTER))

    response = api.get("/providers", token)

    assert response.status_code == 200
    providers = response.get_json()
    assert [p["name"] for p in providers] == ["Dr. Ada", "Dr. Ben"]
    assert providers[0] == {
        "id": ada.id,
        "name": "Dr. Ada",
        "available": True,
        "services": [{"id": providers[0]["services"][0]["id"], "name": "Triage"}],
    }
    assert providers[1]["id"] == ben.id
    assert providers[1]["available"] is False
    assert [s["name"] for s in providers[1]["services"]] == ["Triage", "Wound care"]


def test_provider_turns_availability_on_and_off(api, cast):
    assert api.put("/providers/me/availability", cast.p, json={"available": False}).get_json() == {
        "available": False
    }
    listed = api.get("/providers", cast.r).get_json()
    assert listed[0]["available"] is False

    response = api.put("/providers/me/availability", cast.p, json={"available": True})
    assert response.status_code == 200
    assert response.get_json() == {"available": True}
    assert api.get("/providers", cast.r).get_json()[0]["available"] is True


@pytest.mark.parametrize("body", [{}, {"available": "yes"}, {"available": 1}, {"available": None}])
def test_availability_must_be_true_or_false(api, cast, body):
    error = assert_error(api.put("/providers/me/availability", cast.p, json=body), 422, "invalid")

    assert set(error["fields"]) == {"available"}


def test_requester_cannot_set_availability(api, cast):
    response = api.put("/providers/me/availability", cast.r, json={"available": True})

    assert_error(response, 403, "forbidden")


def test_turning_unavailable_declines_every_pending_request_with_the_standard_note(
    api, cast, make_user
):
    second = make_user(Role.REQUESTER)
    first_id = pending(api, cast)["id"]
    second_id = api.post("/requests", api.token(second), json={"provider_id": cast.provider.id})
    second_id = second_id.get_json()["id"]
    other = make_user(Role.PROVIDER, services=["General"], available=True)
    elsewhere = ask(api, cast, provider_id=other.id).get_json()["id"]

    response = api.put("/providers/me/availability", cast.p, json={"available": False})

    assert response.get_json() == {"available": False}
    for request_id in (first_id, second_id):
        row = request_row(api.app, request_id)
        assert (row["state"], row["decline_note"]) == ("declined", UNAVAILABLE_NOTE)
        assert api.get(f"/requests/{request_id}", cast.p).get_json()["decline_reason"] == (
            "unavailable"
        )
    assert request_row(api.app, elsewhere)["state"] == "pending"


def test_turning_unavailable_twice_changes_nothing_more(api, cast):
    request_id = pending(api, cast)["id"]
    api.put("/providers/me/availability", cast.p, json={"available": False})
    api.post(f"/requests/{request_id}/dismiss", cast.r)

    again = api.put("/providers/me/availability", cast.p, json={"available": False})

    assert again.get_json() == {"available": False}
    assert request_row(api.app, request_id)["dismissed"] is True


# Creating requests ---------------------------------------------------------------------


def test_request_to_a_provider_with_one_service_chooses_it(api, cast):
    response = ask(api, cast)

    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "pending"
    assert body["service"]["name"] == "General"
    assert body["provider"] == {"id": cast.provider.id, "name": "Dr. Ada"}
    assert body["requester"] == {"id": cast.requester.id, "name": "Station A"}
    assert body["dismissed"] is False
    assert body["visit_id"] is None
    assert "decline_note" not in body
    assert api.get(f"/requests/{body['id']}", cast.r).get_json() == body


def test_request_to_a_provider_without_services_has_none(api, cast, make_user):
    bare = make_user(Role.PROVIDER, available=True)

    response = ask(api, cast, provider_id=bare.id)

    assert response.status_code == 201
    assert response.get_json()["service"] is None


def test_provider_with_several_services_needs_a_service_id(api, cast, make_user):
    both = make_user(Role.PROVIDER, services=["General", "Wound care"], available=True)

    error = assert_error(ask(api, cast, provider_id=both.id), 422, "invalid")
    assert set(error["fields"]) == {"service_id"}

    services = {s["name"]: s["id"] for s in api.get("/providers", cast.r).get_json()[1]["services"]}
    chosen = ask(api, cast, provider_id=both.id, service_id=services["Wound care"])
    assert chosen.status_code == 201
    assert chosen.get_json()["service"] == {"id": services["Wound care"], "name": "Wound care"}


def test_service_the_provider_does_not_offer_gets_422(api, cast, make_user):
    make_user(Role.PROVIDER, services=["Dermatology"])
    listing = api.get("/providers", cast.r).get_json()
    other_service = next(p for p in listing if p["id"] != cast.provider.id)["services"][0]["id"]

    error = assert_error(ask(api, cast, service_id=other_service), 422, "invalid")

    assert set(error["fields"]) == {"service_id"}
    assert open_requests_of(api.app, cast.requester.id) == []


@pytest.mark.parametrize("provider_id", ["unknown", "requester", "inactive"])
def test_request_to_someone_who_is_not_an_active_provider_gets_422(
    app, api, cast, make_user, provider_id
):
    if provider_id == "unknown":
        target = 999_999
    elif provider_id == "requester":
        target = make_user(Role.REQUESTER).id
    else:
        target = make_user(Role.PROVIDER, available=True).id
        with app.app_context():
            db.session.get(User, target).active = False
            db.session.commit()

    error = assert_error(ask(api, cast, provider_id=target), 422, "invalid")

    assert set(error["fields"]) == {"provider_id"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider_id": None}, "provider_id"),
        ({"provider_id": "3"}, "provider_id"),
        ({"provider_id": 0}, "provider_id"),
        ({"provider_id": -2}, "provider_id"),
        ({"provider_id": True}, "provider_id"),
        ({"provider_id": 1.5}, "provider_id"),
        ({"service_id": "x"}, "service_id"),
        ({"service_id": False}, "service_id"),
    ],
)
def test_ids_must_be_positive_whole_numbers(api, cast, body, field):
    body = {"provider_id": cast.provider.id, **body}

    error = assert_error(api.post("/requests", cast.r, json=body), 422, "invalid")

    assert set(error["fields"]) == {field}


def test_request_to_an_unavailable_provider_is_created_declined_with_the_note(api, cast):
    api.put("/providers/me/availability", cast.p, json={"available": False})

    response = ask(api, cast)

    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "declined"
    assert body["decline_note"] == UNAVAILABLE_NOTE
    assert body["decline_reason"] == "unavailable"  # not "declined your request"
    assert request_row(api.app, body["id"])["state"] == "declined"


def test_second_pending_request_to_the_same_provider_gets_409(api, cast):
    first = pending(api, cast)

    error = assert_error(ask(api, cast), 409, "conflict")

    assert error["reason"] == "pending"
    assert "already" in error["message"]
    assert [r["id"] for r in open_requests_of(api.app, cast.requester.id)] == [first["id"]]


def test_pending_request_to_one_provider_does_not_block_another(api, cast, make_user):
    pending(api, cast)
    other = make_user(Role.PROVIDER, services=["General"], available=True)

    assert ask(api, cast, provider_id=other.id).status_code == 201


def test_declined_request_blocks_a_new_one_until_dismissed(api, cast):
    request_id = pending(api, cast)["id"]
    api.post(f"/requests/{request_id}/decline", cast.p, json={"note": "Busy"})

    error = assert_error(ask(api, cast), 409, "conflict")
    assert error["reason"] == "declined_not_dismissed"

    dismissed = api.post(f"/requests/{request_id}/dismiss", cast.r)
    assert dismissed.status_code == 200
    assert dismissed.get_json()["dismissed"] is True
    again = ask(api, cast)
    assert again.status_code == 201
    assert again.get_json()["state"] == "pending"


def test_request_declined_for_unavailability_also_blocks_until_dismissed(api, cast):
    api.put("/providers/me/availability", cast.p, json={"available": False})
    declined_id = ask(api, cast).get_json()["id"]

    assert_error(ask(api, cast), 409, "conflict")
    api.post(f"/requests/{declined_id}/dismiss", cast.r)
    assert ask(api, cast).get_json()["state"] == "declined"


def test_provider_cannot_create_requests(api, cast):
    response = api.post("/requests", cast.p, json={"provider_id": cast.provider.id})

    assert_error(response, 403, "forbidden")


# Reading one request ---------------------------------------------------------------------


def test_request_is_readable_by_its_provider_and_requester_only(api, cast, make_user):
    request_id = pending(api, cast)["id"]
    stranger = api.token(make_user(Role.REQUESTER))
    other_provider = api.token(make_user(Role.PROVIDER))

    assert api.get(f"/requests/{request_id}", cast.p).status_code == 200
    assert api.get(f"/requests/{request_id}", cast.r).status_code == 200
    # Someone else's request does not exist for them: 404, so ids cannot be probed.
    assert_error(api.get(f"/requests/{request_id}", stranger), 404, "not_found")
    assert_error(api.get(f"/requests/{request_id}", other_provider), 404, "not_found")


def test_admin_may_read_any_request(api, cast, make_user):
    request_id = pending(api, cast)["id"]

    assert api.get(f"/requests/{request_id}", api.token(make_user(Role.ADMIN))).status_code == 200


@pytest.mark.parametrize("action", ["", "/accept", "/decline", "/cancel", "/dismiss"])
def test_unknown_request_gets_404(api, cast, action):
    token = cast.r if action in ("", "/cancel", "/dismiss") else cast.p
    method = api.get if action == "" else api.post

    assert_error(method(f"/requests/424242{action}", token), 404, "not_found")


# Accept, decline, cancel, dismiss ------------------------------------------------------


def test_accepting_creates_a_visit_with_the_provider_and_the_requester(api, cast):
    request_id = pending(api, cast)["id"]

    response = api.post(f"/requests/{request_id}/accept", cast.p)

    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "accepted"
    assert body["visit_id"] is not None
    assert request_row(api.app, request_id)["visit_id"] == body["visit_id"]
    visit = visit_rows(api.app, body["visit_id"])
    assert visit["state"] == "open"
    assert visit["source"] == "request"
    assert visit["host_id"] == cast.provider.id
    assert visit["participants"] == [
        ("host", cast.provider.id, "absent"),
        ("patient", cast.requester.id, "absent"),
    ]
    assert count_visits(api.app) == 1


def test_requester_cannot_accept_or_decline(api, cast):
    request_id = pending(api, cast)["id"]

    assert_error(api.post(f"/requests/{request_id}/accept", cast.r), 403, "forbidden")
    assert_error(api.post(f"/requests/{request_id}/decline", cast.r), 403, "forbidden")
    assert request_row(api.app, request_id)["state"] == "pending"
    assert count_visits(api.app) == 0


def test_provider_cannot_act_on_another_providers_request(api, cast, make_user):
    request_id = pending(api, cast)["id"]
    other = api.token(make_user(Role.PROVIDER, available=True))

    assert_error(api.post(f"/requests/{request_id}/accept", other), 404, "not_found")
    assert_error(
        api.post(f"/requests/{request_id}/decline", other, json={"note": "x"}), 404, "not_found"
    )
    assert request_row(api.app, request_id)["state"] == "pending"
    assert count_visits(api.app) == 0


def test_provider_cannot_cancel_or_dismiss(api, cast):
    request_id = pending(api, cast)["id"]

    assert_error(api.post(f"/requests/{request_id}/cancel", cast.p), 403, "forbidden")
    assert_error(api.post(f"/requests/{request_id}/dismiss", cast.p), 403, "forbidden")


def test_decline_carries_the_providers_note(api, cast):
    request_id = pending(api, cast)["id"]

    response = api.post(
        f"/requests/{request_id}/decline", cast.p, json={"note": "  Try Dr. Ben.  "}
    )

    assert response.status_code == 200
    assert response.get_json()["state"] == "declined"
    assert response.get_json()["decline_note"] == "Try Dr. Ben."
    assert response.get_json()["decline_reason"] == "declined"
    assert request_row(api.app, request_id)["decline_note"] == "Try Dr. Ben."
    assert api.get(f"/requests/{request_id}", cast.r).get_json()["decline_note"] == "Try Dr. Ben."


@pytest.mark.parametrize("body", [None, {}, {"note": ""}, {"note": "   "}])
def test_decline_without_a_note_stores_none(api, cast, body):
    request_id = pending(api, cast)["id"]

    response = api.post(f"/requests/{request_id}/decline", cast.p, json=body)

    assert response.status_code == 200
    assert "decline_note" not in response.get_json()
    assert request_row(api.app, request_id)["decline_note"] is None


def test_decline_note_is_dropped_when_notes_are_disabled(app, api, cast, monkeypatch):
    monkeypatch.setitem(app.config, "DECLINE_NOTES_ENABLED", False)
    request_id = pending(api, cast)["id"]

    response = api.post(f"/requests/{request_id}/decline", cast.p, json={"note": "Private"})

    assert response.status_code == 200
    assert response.get_json()["state"] == "declined"
    assert "decline_note" not in response.get_json()
    assert request_row(app, request_id)["decline_note"] is None


def test_overlong_decline_note_is_refused_and_the_request_stays_pending(api, cast):
    request_id = pending(api, cast)["id"]

    response = api.post(f"/requests/{request_id}/decline", cast.p, json={"note": "x" * 501})

    error = assert_error(response, 422, "invalid")
    assert set(error["fields"]) == {"note"}
    assert request_row(api.app, request_id)["state"] == "pending"
    assert (
        api.post(f"/requests/{request_id}/decline", cast.p, json={"note": "x" * 500}).status_code
        == 200
    )


def test_decline_note_must_be_text(api, cast):
    request_id = pending(api, cast)["id"]

    error = assert_error(api.post(f"/requests/{request_id}/decline", cast.p, json={"note": 7}), 422)

    assert set(error["fields"]) == {"note"}


def test_requester_cancels_a_pending_request(api, cast):
    request_id = pending(api, cast)["id"]

    response = api.post(f"/requests/{request_id}/cancel", cast.r)

    assert response.status_code == 200
    assert response.get_json()["state"] == "cancelled"
    assert request_row(api.app, request_id)["state"] == "cancelled"
    assert ask(api, cast).status_code == 201  # a cancelled request blocks nothing


def test_requester_cannot_cancel_someone_elses_request(api, cast, make_user):
    request_id = pending(api, cast)["id"]
    stranger = api.token(make_user(Role.REQUESTER))

    assert_error(api.post(f"/requests/{request_id}/cancel", stranger), 404, "not_found")
    assert_error(api.post(f"/requests/{request_id}/dismiss", stranger), 404, "not_found")
    assert request_row(api.app, request_id)["state"] == "pending"


@pytest.mark.parametrize(
    ("first", "then", "who"),
    [
        ("accept", "accept", "p"),
        ("accept", "decline", "p"),
        ("accept", "cancel", "r"),
        ("decline", "accept", "p"),
        ("decline", "cancel", "r"),
        ("cancel", "accept", "p"),
        ("cancel", "decline", "p"),
        ("cancel", "cancel", "r"),
    ],
)
def test_acting_on_a_request_that_moved_on_gets_409_with_its_state(api, cast, first, then, who):
    request_id = pending(api, cast)["id"]
    first_token = cast.r if first == "cancel" else cast.p
    api.post(f"/requests/{request_id}/{first}", first_token)
    finished = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}[first]

    response = api.post(f"/requests/{request_id}/{then}", getattr(cast, who))

    error = assert_error(response, 409, "conflict")
    assert error["state"] == finished
    assert error["request"]["id"] == request_id
    assert error["request"]["state"] == finished
    assert finished in error["message"]
    assert count_visits(api.app) == (1 if first == "accept" else 0)


@pytest.mark.parametrize("state", ["pending", "accepted", "cancelled"])
def test_only_a_declined_request_can_be_dismissed(api, cast, state):
    request_id = pending(api, cast)["id"]
    if state == "accepted":
        api.post(f"/requests/{request_id}/accept", cast.p)
    elif state == "cancelled":
        api.post(f"/requests/{request_id}/cancel", cast.r)

    error = assert_error(api.post(f"/requests/{request_id}/dismiss", cast.r), 409, "conflict")

    assert error["state"] == state
    assert request_row(api.app, request_id)["dismissed"] is False


def test_dismissing_twice_gets_409(api, cast):
    request_id = pending(api, cast)["id"]
    api.post(f"/requests/{request_id}/decline", cast.p)
    assert api.post(f"/requests/{request_id}/dismiss", cast.r).status_code == 200

    error = assert_error(api.post(f"/requests/{request_id}/dismiss", cast.r), 409, "conflict")

    assert error["state"] == "declined"


# Ending a visit ---------------------------------------------------------------------------


def accepted_visit(api, cast) -> int:
    request_id = pending(api, cast)["id"]
    return api.post(f"/requests/{request_id}/accept", cast.p).get_json()["visit_id"]


def test_a_pending_request_has_no_decline_reason(api, cast):
    assert "decline_reason" not in pending(api, cast)


@pytest.mark.parametrize("started", [False, True])
def test_no_second_request_while_a_session_with_the_provider_is_live(api, cast, started):
    visit_id = accepted_visit(api, cast)
    if started:  # the provider is in the meeting
        with api.app.app_context():
            enter_visit(db.session.get(User, cast.provider.id), visit_id, "provider-tab")
        assert visit_rows(api.app, visit_id)["state"] == "in_call"

    error = assert_error(ask(api, cast), 409, "conflict")

    assert error["reason"] == "in_session"
    assert "already have a session" in error["message"]


def test_a_new_request_is_possible_once_the_session_ended(api, cast):
    visit_id = accepted_visit(api, cast)
    assert api.post(f"/visits/{visit_id}/end", cast.p).status_code == 200

    assert ask(api, cast).status_code == 201


def test_a_live_session_with_one_provider_does_not_block_another(api, cast, make_user):
    accepted_visit(api, cast)
    other = make_user(Role.PROVIDER, services=["General"], available=True)

    assert ask(api, cast, provider_id=other.id).status_code == 201


def test_host_ends_the_visit(api, cast):
    visit_id = accepted_visit(api, cast)

    response = api.post(f"/visits/{visit_id}/end", cast.p)

    assert response.status_code == 200
    assert response.get_json() == {"id": visit_id, "state": "ended"}
    assert visit_rows(api.app, visit_id)["state"] == "ended"
    error = assert_error(api.post(f"/visits/{visit_id}/end", cast.p), 409, "conflict")
    assert error["state"] == "ended"


def test_only_the_host_can_end_a_visit(api, cast, make_user):
    visit_id = accepted_visit(api, cast)
    other = api.token(make_user(Role.PROVIDER))

    assert_error(api.post(f"/visits/{visit_id}/end", cast.r), 403, "forbidden")
    assert_error(api.post(f"/visits/{visit_id}/end", other), 404, "not_found")
    assert_error(api.post("/visits/424242/end", cast.p), 404, "not_found")
    assert visit_rows(api.app, visit_id)["state"] == "open"


# Malformed input and unknown routes ---------------------------------------------------


@pytest.mark.parametrize(
    "data", ['{"provider_id": ', "not json at all", "[1, 2]", '"text"', "null", "42"]
)
def test_malformed_or_non_object_json_gets_400(api, cast, data):
    response = api.post(
        "/requests", cast.r, data=data, headers={"Content-Type": "application/json"}
    )

    error = assert_error(response, 400, "bad_request")
    assert "JSON object" in error["message"]
    assert open_requests_of(api.app, cast.requester.id) == []


def test_malformed_json_on_tokens_gets_400(api):
    response = api.post("/tokens", data="{", headers={"Content-Type": "application/json"})

    assert_error(response, 400, "bad_request")


def test_unknown_api_path_gets_404_json(api, cast):
    assert_error(api.get("/nothing-here", cast.r), 404, "not_found")


def test_wrong_method_gets_405_json(api, cast):
    assert_error(api.call("DELETE", "/providers", cast.r), 405, "method_not_allowed")


# A bug on our side -----------------------------------------------------------------------


def test_an_unexpected_error_is_a_plain_500_and_changes_nothing(api, cast, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug with a secret in it")

    monkeypatch.setattr("app.api.routes.list_providers", broken)

    response = api.get("/providers", cast.r)

    error = assert_error(response, 500, "server_error")
    assert "secret" not in response.get_data(as_text=True)
    assert error["message"] == "Something went wrong on our side. Please try again."
    [logged] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert logged.getMessage() == "unhandled error on GET /api/v1/providers"
    assert logged.exc_info is not None  # the developers get the traceback, in the log only


def test_an_unexpected_error_on_a_page_is_a_page_without_a_trace(
    app, auth, client, make_user, monkeypatch
):
    auth.login(make_user(Role.PROVIDER))

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug with a secret in it")

    monkeypatch.setattr("app.clinic.routes.take_snapshot", broken)

    response = client.get("/provider")

    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "secret" not in response.get_data(as_text=True)
    assert_no_trace(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/visits/0/notes"),  # POST /visits/<id>/notes exists too
        ("POST", "/visits/2147483648/notes"),
        ("GET", "/visits/8023285354/waiting-messages"),
        ("POST", "/visits/0/participants"),
    ],
)
def test_an_id_out_of_range_is_not_found_even_where_another_method_has_the_path(
    api, make_user, method, path
):
    # Found by schemathesis: Werkzeug said 405 "method not allowed" here, as if the
    # other method would have found the record.
    token = api.token(make_user(Role.PROVIDER))

    response = api.call(method, path, token, json={"text": "hello"})

    assert_error(response, 404, "not_found")


def test_a_nul_character_is_no_server_error_where_postgresql_cannot_store_it(api, make_user):
    # Found probing the document's strings on PostgreSQL ("text fields cannot contain NUL"):
    # a schedule search is cleaned like the names it searches; a link is refused.
    admin, provider = make_user(Role.ADMIN), make_user(Role.PROVIDER)
    a, p = api.token(admin), api.token(provider)
    clinic = api.post(
        "/clinics",
        a,
        json={"name": "Wound care", "organisation": "Riverside Health", "timezone": "UTC"},
    ).get_json()
    api.post(f"/clinics/{clinic['id']}/members", a, json={"email": provider.email})

    search = api.get(f"/clinics/{clinic['id']}/schedule?q=Jo%00", p)
    room = api.put(
        "/providers/me/external-room",
        p,
        json={
            "host_url": "https://meet.example.org/\x00",
            "guest_url": "https://meet.example.org/g",
        },
    )

    assert search.status_code == 200 and search.get_json()["visits"] == []
    error = assert_error(room, 422, "invalid")
    assert error["message"] == "The room could not be saved."
    assert error["fields"] == {"host_url": "Enter an https:// link."}
