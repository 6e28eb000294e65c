"""Signing in and out through the pages: roles, CSRF, idle logout, cookie flags."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from app.models import Role
from tests.app.helpers import assert_no_trace, sessions_of, set_last_seen


def _final_path(response) -> str:
    return response.request.path


@pytest.mark.parametrize(
    ("role", "dashboard"), [(Role.PROVIDER, "/provider"), (Role.REQUESTER, "/requester")]
)
def test_login_sends_each_role_to_its_dashboard(client, auth, make_user, role, dashboard):
    user = make_user(role)

    response = auth.login(user)
    assert response.status_code == 302
    landed = client.get(response.headers["Location"], follow_redirects=True)

    assert _final_path(landed) == dashboard
    assert landed.status_code == 200
    assert user.name in landed.get_data(as_text=True)


def test_login_returns_to_the_page_asked_for(client, auth, make_user):
    provider = make_user(Role.PROVIDER)
    first = client.get("/provider")
    token = auth.csrf()

    response = client.post(
        first.headers["Location"],
        data={"email": provider.email, "password": "correct horse battery", "csrf_token": token},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/provider"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:1"])
def test_login_never_redirects_off_site(client, auth, make_user, target):
    provider = make_user(Role.PROVIDER)
    token = auth.csrf()

    response = client.post(
        "/auth/login",
        query_string={"next": target},
        data={"email": provider.email, "password": "correct horse battery", "csrf_token": token},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_wrong_password_shows_a_form_error_and_signs_nobody_in(client, auth, make_user):
    user = make_user(Role.PROVIDER)

    response = auth.login(user, password="not the password")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "That email and password do not match an account." in html
    assert 'aria-invalid="true"' in html
    assert_no_trace(response)
    assert client.get("/provider").status_code == 302


def test_unknown_email_gets_the_same_form_error(client, auth):
    response = auth.login(SimpleNamespace(email="nobody@example.org"))

    assert response.status_code == 422
    assert "That email and password do not match an account." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_rejected(client, make_user):
    user = make_user(Role.PROVIDER)

    response = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )

    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert_no_trace(response)
    assert client.get("/provider").status_code == 302


def test_deactivated_account_cannot_sign_in(app, client, auth, make_user):
    from app.extensions import db
    from app.models import User

    user = make_user(Role.PROVIDER)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()

    response = auth.login(user)

    assert response.status_code == 422
    assert client.get("/provider").status_code == 302


@pytest.mark.parametrize("path", ["/", "/provider", "/requester", "/visits/1"])
def test_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == [path]
    assert "Please sign in to continue." in client.get("/auth/login").get_data(as_text=True)


def test_logout_is_not_a_get(client, auth, make_user):
    auth.login(make_user(Role.PROVIDER))

    assert client.get("/auth/logout").status_code == 405
    assert client.get("/provider").status_code == 200


def test_logout_without_csrf_token_keeps_the_user_signed_in(client, auth, make_user):
    auth.login(make_user(Role.PROVIDER))

    response = client.post("/auth/logout")

    assert response.status_code == 400
    assert client.get("/provider").status_code == 200


def test_logout_with_csrf_token_signs_the_user_out(client, auth, make_user):
    auth.login(make_user(Role.PROVIDER))
    token = auth.csrf("/provider")

    response = client.post("/auth/logout", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert "You are signed out." in client.get("/auth/login").get_data(as_text=True)
    assert client.get("/provider").status_code == 302


def test_idle_session_is_signed_out_on_its_next_request(app, client, auth, make_user):
    provider = make_user(Role.PROVIDER)
    auth.login(provider)
    idle = app.config["IDLE_LOGOUT"].total_seconds()
    set_last_seen(app, provider.id, idle + 5)

    response = client.get("/provider")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    with client.session_transaction() as session:
        assert "_user_id" not in session
    page = client.get("/auth/login").get_data(as_text=True)
    assert "signed out after a period of inactivity" in page
    assert "Please sign in to continue." not in page  # one message, the one that explains
    assert client.get("/provider").status_code == 302
    assert [s["end_reason"] for s in sessions_of(app, provider.id)] == ["idle"]


def test_activity_before_the_idle_limit_keeps_the_session_alive(app, client, auth, make_user):
    provider = make_user(Role.PROVIDER)
    auth.login(provider)
    idle = app.config["IDLE_LOGOUT"].total_seconds()
    set_last_seen(app, provider.id, idle - 30)

    assert client.get("/provider").status_code == 200
    [session] = sessions_of(app, provider.id)
    assert session["idle_seconds"] < 5  # the request counted as activity
    set_last_seen(app, provider.id, idle - 30)
    assert client.get("/provider").status_code == 200


def _session_cookie_header(response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if "anteroom_session=" in h]
    assert headers, response.headers
    return headers[-1]


def test_session_cookie_is_http_only_and_same_site_lax(client, auth, make_user):
    response = auth.login(make_user(Role.PROVIDER))

    cookie = _session_cookie_header(response)

    assert re.search(r";\s*HttpOnly", cookie, re.I)
    assert re.search(r";\s*SameSite=Lax", cookie, re.I)
    assert not re.search(r";\s*Secure", cookie, re.I)  # the test config is not production


def test_session_cookie_is_secure_when_configured(app, client, auth, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)

    response = auth.login(make_user(Role.PROVIDER))

    cookie = _session_cookie_header(response)
    assert re.search(r";\s*Secure", cookie, re.I)
    assert re.search(r";\s*HttpOnly", cookie, re.I)
