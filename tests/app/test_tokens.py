"""API tokens listed and revoked by their owner, and what an admin does to an account
(revoke its tokens, deactivate, reactivate, change its role), by the API and the CLI."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, Role, User
from app.models.types import utcnow
from app.services.tokens import issue_token
from tests.app.helpers import assert_error, sessions_of
from tests.conftest import PASSWORD, Auth


def delete(api, path, token=None, **kwargs):
    return api.call("DELETE", path, token, **kwargs)


def patch(api, path, token=None, **kwargs):
    return api.call("PATCH", path, token, **kwargs)


def token_for(api, user, label=None) -> tuple[str, int]:
    """A new bearer token for `user` (with its id), as an integration signs in for one."""
    body = {"email": user.email, "password": PASSWORD}
    if label is not None:
        body["label"] = label
    response = api.post("/tokens", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"], response.get_json()["id"]


def works(api, token) -> bool:
    response = api.get("/providers", token)
    assert response.status_code in (200, 401)
    return response.status_code == 200


def account(app, user_id: int) -> dict:
    with app.app_context():
        user = db.session.get(User, user_id)
        row = {"role": user.role, "active": user.active, "available": user.available}
        tokens = db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == user_id)).all()
        row["tokens"] = sorted(tokens)
        db.session.rollback()
        return row


@pytest.fixture
def admin(make_user, api):
    user = make_user(Role.ADMIN)
    return SimpleNamespace(user=user, token=token_for(api, user)[0])


# Listing ---------------------------------------------------------------------------------


def test_listing_shows_the_callers_live_tokens_newest_first_with_the_current_one_marked(
    app, api, make_user
):
    user, other = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    texts, ids = {}, {}
    for label in ("desk", "laptop", "station"):
        texts[label], ids[label] = token_for(api, user, label)
    other_token, other_id = token_for(api, other, "other")
    with app.app_context():
        past = utcnow() - app.config["API_TOKEN_LIFETIME"] - timedelta(minutes=1)
        # Made last: issuing a token sweeps the expired ones away.
        _, expired = issue_token(db.session.get(User, user.id), "expired", now=past)
        expired_id = expired.id

    response = api.get("/tokens", texts["laptop"])

    assert response.status_code == 200
    listed = response.get_json()
    assert [t["label"] for t in listed] == ["station", "laptop", "desk"]
    assert [t["id"] for t in listed] == [ids["station"], ids["laptop"], ids["desk"]]
    assert [t["current"] for t in listed] == [False, True, False]
    assert all(set(t) == {"id", "label", "created_at", "expires_at", "current"} for t in listed)
    assert other_id not in [t["id"] for t in listed]
    assert expired_id not in [t["id"] for t in listed]
    text = response.get_data(as_text=True)
    for token in [*texts.values(), other_token]:
        assert token not in text
    assert response.headers["Cache-Control"] == "no-store"


def test_a_signed_in_browser_lists_its_users_tokens_with_none_current(api, make_user):
    user = make_user(Role.REQUESTER)
    _, token_id = token_for(api, user, "station")
    browser = Auth(api.app.test_client())
    browser.login(user)

    listed = browser.client.get("/api/v1/tokens").get_json()

    assert [(t["id"], t["current"]) for t in listed] == [(token_id, False)]


def test_listing_needs_a_signed_in_caller(api):
    assert_error(api.get("/tokens"), 401, "unauthorized")


# Revoking one's own ----------------------------------------------------------------------


def test_revoking_a_token_makes_it_stop_working_at_once(api, make_user):
    user = make_user(Role.REQUESTER)
    kept, _ = token_for(api, user, "kept")
    doomed, doomed_id = token_for(api, user, "doomed")

    response = delete(api, f"/tokens/{doomed_id}", kept)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert not works(api, doomed)
    assert works(api, kept)
    assert [t["label"] for t in api.get("/tokens", kept).get_json()] == ["kept"]


def test_revoking_another_users_token_is_not_found_and_it_keeps_working(api, make_user):
    user, other = make_user(Role.REQUESTER), make_user(Role.PROVIDER)
    mine, _ = token_for(api, user)
    theirs, their_id = token_for(api, other)

    response = delete(api, f"/tokens/{their_id}", mine)

    assert_error(response, 404, "not_found")
    assert works(api, theirs)


@pytest.mark.parametrize("token_id", ["2147483647", "2147483648", "99999999999999999999"])
def test_revoking_an_unknown_token_is_not_found(api, make_user, token_id):
    mine, _ = token_for(api, make_user(Role.REQUESTER))

    assert_error(delete(api, f"/tokens/{token_id}", mine), 404, "not_found")
    assert works(api, mine)


def test_revoking_the_current_token_signs_out_that_caller_only(api, make_user):
    user = make_user(Role.REQUESTER)
    current, _ = token_for(api, user, "current")
    other, _ = token_for(api, user, "other")

    response = delete(api, "/tokens/current", current)

    assert response.status_code == 204
    assert not works(api, current)
    assert works(api, other)


def test_revoking_the_current_token_from_a_browser_session_is_refused(api, make_user):
    user = make_user(Role.REQUESTER)
    token, _ = token_for(api, user)
    browser = Auth(api.app.test_client())
    browser.login(user)
    csrf = browser.csrf("/requester")

    response = browser.client.delete("/api/v1/tokens/current", headers={"X-CSRFToken": csrf})

    error = assert_error(response, 422, "invalid")
    assert "bearer token" in error["message"]
    assert works(api, token)
    assert browser.client.get("/api/v1/tokens").status_code == 200  # still signed in


# An admin and a user's tokens ------------------------------------------------------------


def test_an_admin_revokes_every_token_of_a_user(api, make_user, admin):
    user, bystander = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    first, _ = token_for(api, user)
    second, _ = token_for(api, user)
    kept, _ = token_for(api, bystander)

    response = delete(api, f"/users/{user.id}/tokens", admin.token)

    assert response.status_code == 200
    assert response.get_json() == {"revoked": 2}
    assert not works(api, first)
    assert not works(api, second)
    assert works(api, kept)
    assert works(api, admin.token)


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.REQUESTER, Role.SCHEDULER])
def test_only_an_admin_may_revoke_a_users_tokens(api, make_user, role):
    user = make_user(Role.REQUESTER)
    token, _ = token_for(api, user)
    caller, _ = token_for(api, make_user(role))

    assert_error(delete(api, f"/users/{user.id}/tokens", caller), 403, "forbidden")
    assert works(api, token)


@pytest.mark.parametrize("user_id", ["2147483647", "99999999999999999999"])
def test_revoking_the_tokens_of_an_unknown_user_is_not_found(api, admin, user_id):
    assert_error(delete(api, f"/users/{user_id}/tokens", admin.token), 404, "not_found")


# An admin updates an account -------------------------------------------------------------


@pytest.fixture
def busy_provider(app, make_user, api, socket_client):
    """An available provider, signed in on a browser, with a token, an open socket and a
    request waiting from a requester."""
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    browser = app.test_client()
    assert Auth(browser).login(provider).status_code == 302
    token, _ = token_for(api, provider)
    r_token, _ = token_for(api, requester)
    response = api.post("/requests", r_token, json={"provider_id": provider.id})
    assert response.status_code == 201
    return SimpleNamespace(
        user=provider,
        browser=browser,
        token=token,
        socket=socket_client(auth={"token": token}),
        r_token=r_token,
        request_id=response.get_json()["id"],
    )


def test_deactivating_a_provider_ends_everything_and_declines_what_waited_for_them(
    app, api, admin, busy_provider
):
    provider = busy_provider.user
    assert busy_provider.socket.is_connected()

    response = patch(api, f"/users/{provider.id}", admin.token, json={"active": False})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["active"], body["role"]) == (provider.id, False, "provider")
    assert [s["end_reason"] for s in sessions_of(app, provider.id)] == ["deactivated"]
    assert busy_provider.browser.get("/provider").status_code == 302
    assert not works(api, busy_provider.token)
    assert not busy_provider.socket.is_connected()
    assert account(app, provider.id) == {
        "role": "provider",
        "active": False,
        "available": False,
        "tokens": [],
    }
    assert Auth(app.test_client()).login(provider).status_code == 422
    assert_error(
        api.post("/tokens", json={"email": provider.email, "password": PASSWORD}),
        401,
        "invalid_credentials",
    )
    declined = api.get(f"/requests/{busy_provider.request_id}", busy_provider.r_token).get_json()
    assert (declined["state"], declined["decline_reason"]) == ("declined", "unavailable")
    directory = api.get("/providers", busy_provider.r_token).get_json()
    assert provider.id not in [p["id"] for p in directory]


def test_a_reactivated_account_signs_in_again(app, api, make_user, admin):
    user = make_user(Role.REQUESTER)
    old_token, _ = token_for(api, user)
    patch(api, f"/users/{user.id}", admin.token, json={"active": False})

    response = patch(api, f"/users/{user.id}", admin.token, json={"active": True})

    assert response.status_code == 200
    assert response.get_json()["active"] is True
    assert Auth(app.test_client()).login(user).status_code == 302
    assert works(api, token_for(api, user)[0])
    assert not works(api, old_token)


def test_an_admin_changes_a_role(app, api, make_user, admin):
    user = make_user(Role.REQUESTER)
    provider = make_user(Role.PROVIDER, available=True)
    token, _ = token_for(api, user)

    response = patch(api, f"/users/{user.id}", admin.token, json={"role": "scheduler"})

    assert response.status_code == 200
    assert response.get_json()["role"] == "scheduler"
    assert account(app, user.id)["role"] == "scheduler"
    refused = api.post("/requests", token, json={"provider_id": provider.id})
    assert_error(refused, 403, "forbidden")


@pytest.mark.parametrize(
    ("body", "field"), [({"active": False}, "active"), ({"role": "scheduler"}, "role")]
)
def test_an_admin_cannot_lock_themselves_out(app, api, admin, body, field):
    response = patch(api, f"/users/{admin.user.id}", admin.token, json=body)

    error = assert_error(response, 422, "invalid")
    assert set(error["fields"]) == {field}
    assert account(app, admin.user.id)["role"] == "admin"
    assert account(app, admin.user.id)["active"] is True
    assert works(api, admin.token)


def test_an_admin_may_send_their_own_unchanged_role(app, api, admin):
    response = patch(api, f"/users/{admin.user.id}", admin.token, json={"role": "admin"})

    assert response.status_code == 200
    assert response.get_json()["role"] == "admin"


def test_a_provider_whose_role_changes_stops_taking_requests(app, api, admin, busy_provider):
    provider = busy_provider.user

    response = patch(api, f"/users/{provider.id}", admin.token, json={"role": "scheduler"})

    assert response.status_code == 200
    assert account(app, provider.id)["available"] is False
    declined = api.get(f"/requests/{busy_provider.request_id}", busy_provider.r_token).get_json()
    assert (declined["state"], declined["decline_reason"]) == ("declined", "unavailable")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"active": "no"}, {"active"}),
        ({"active": 0}, {"active"}),
        ({"role": "wizard"}, {"role"}),
        ({"role": ""}, {"role"}),
        ({"role": 5}, {"role"}),
        ({"role": "wizard", "active": False}, {"role"}),
        ({"role": "scheduler", "active": "false"}, {"active"}),
    ],
)
def test_bad_values_for_an_account_are_refused_and_change_nothing(
    app, api, make_user, admin, body, fields
):
    user = make_user(Role.REQUESTER)
    token, _ = token_for(api, user)

    response = patch(api, f"/users/{user.id}", admin.token, json=body)

    assert set(assert_error(response, 422, "invalid")["fields"]) == fields
    assert account(app, user.id)["role"] == "requester"
    assert account(app, user.id)["active"] is True
    assert works(api, token)


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.REQUESTER, Role.SCHEDULER])
def test_only_an_admin_may_update_an_account(app, api, make_user, role):
    user = make_user(Role.REQUESTER)
    caller, _ = token_for(api, make_user(role))

    response = patch(api, f"/users/{user.id}", caller, json={"active": False})

    assert_error(response, 403, "forbidden")
    assert account(app, user.id)["active"] is True


def test_updating_an_unknown_account_is_not_found(api, admin):
    response = patch(api, "/users/2147483647", admin.token, json={"active": False})

    assert_error(response, 404, "not_found")


# Labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "stored"),
    [
        ("\u202eFront desk\u2066 laptop\x00\n", "Front desk laptop"),
        ("  Ward\t\t3 \u200f station  ", "Ward 3 station"),
        ("x" * 100, "x" * 80),
        ("\u202e" + "y" * 85, "y" * 80),  # cleaned, then cut
        ("\u202e\x00\n", None),
    ],
)
def test_token_labels_are_cleaned_and_cut_at_80_characters(api, make_user, label, stored):
    token, _ = token_for(api, make_user(Role.REQUESTER), label)

    [listed] = api.get("/tokens", token).get_json()

    assert listed["label"] == stored


# The CLI ---------------------------------------------------------------------------------


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.delenv("ANTEROOM_PASSWORD", raising=False)
    return app.test_cli_runner()


def test_cli_deactivate_ends_an_accounts_sign_ins(app, api, runner, make_user):
    user = make_user(Role.PROVIDER, available=True)
    token, _ = token_for(api, user)

    result = runner.invoke(args=["users", "deactivate", "--email", user.email.upper()])

    assert result.exit_code == 0, result.output
    assert result.output == f"deactivated {user.email}\n"
    assert not works(api, token)
    assert account(app, user.id) == {
        "role": "provider",
        "active": False,
        "available": False,
        "tokens": [],
    }
    assert Auth(app.test_client()).login(user).status_code == 422


def test_cli_activate_lets_an_account_sign_in_again(app, runner, make_user):
    user = make_user(Role.REQUESTER)
    runner.invoke(args=["users", "deactivate", "--email", user.email])

    result = runner.invoke(args=["users", "activate", "--email", user.email])

    assert result.exit_code == 0, result.output
    assert result.output == f"activated {user.email}\n"
    assert Auth(app.test_client()).login(user).status_code == 302


def test_cli_set_role_changes_the_role(app, runner, make_user):
    user = make_user(Role.REQUESTER)

    result = runner.invoke(args=["users", "set-role", "--email", user.email, "--role", "admin"])

    assert result.exit_code == 0, result.output
    assert result.output == f"{user.email} is now admin\n"
    assert account(app, user.id)["role"] == "admin"


def test_cli_set_role_refuses_an_unknown_role(app, runner, make_user):
    user = make_user(Role.REQUESTER)

    result = runner.invoke(args=["users", "set-role", "--email", user.email, "--role", "wizard"])

    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert account(app, user.id)["role"] == "requester"


def test_cli_revoke_tokens_revokes_every_token_of_the_account(app, api, runner, make_user):
    user, bystander = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    tokens = [token_for(api, user)[0] for _ in range(2)]
    kept, _ = token_for(api, bystander)

    result = runner.invoke(args=["users", "revoke-tokens", "--email", user.email])

    assert result.exit_code == 0, result.output
    assert result.output == f"revoked 2 token(s) of {user.email}\n"
    assert not any(works(api, t) for t in tokens)
    assert works(api, kept)


@pytest.mark.parametrize(
    "command",
    [
        ["deactivate"],
        ["activate"],
        ["set-role", "--role", "scheduler"],
        ["revoke-tokens"],
    ],
)
def test_cli_commands_refuse_an_unknown_email_without_a_traceback(runner, make_user, command):
    make_user(Role.REQUESTER)

    result = runner.invoke(args=["users", *command, "--email", "nobody@example.org"])

    assert result.exit_code == 1
    assert "error: no account with email nobody@example.org" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
