"""Sessions, sockets and tokens that really end: sign-out and the idle logout on the
server, and no Socket.IO connection outliving the authority it was opened with."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from app.extensions import db, socketio
from app.models import AuthSession, Role
from app.models.types import utcnow
from app.realtime import authority
from tests.app.helpers import directory_of, sessions_of, set_last_seen
from tests.conftest import Auth


def cookie_of(client) -> str:
    cookie = client.get_cookie("anteroom_session")
    assert cookie is not None
    return cookie.value


def with_cookie(app, value: str):
    """A fresh browser carrying a copy of someone's session cookie."""
    other = app.test_client()
    other.set_cookie("anteroom_session", value)
    return other


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def sign_out(client, path="/provider"):
    return client.post("/auth/logout", data={"csrf_token": csrf_of(client, path)})


@pytest.fixture
def provider(make_user):
    return make_user(Role.PROVIDER, services=["General"], available=True)


@pytest.fixture
def browser(app, provider):
    """A signed-in browser tab of the provider."""
    client = app.test_client()
    Auth(client).login(provider)
    return client


def connected(sc) -> bool:
    return sc.is_connected()


# Signing in and out ----------------------------------------------------------------------


def test_signing_in_rotates_the_session_cookie(app, provider):
    client = app.test_client()
    client.get("/auth/login")
    before = cookie_of(client)

    Auth(client).login(provider)

    after = cookie_of(client)
    assert after != before
    assert with_cookie(app, before).get("/provider").status_code == 302  # not signed in
    assert with_cookie(app, after).get("/provider").status_code == 200


def test_each_sign_in_is_a_new_server_side_session(app, provider):
    Auth(app.test_client()).login(provider)
    Auth(app.test_client()).login(provider)

    assert [s["ended"] for s in sessions_of(app, provider.id)] == [False, False]


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, browser, provider):
    copied = cookie_of(browser)
    assert with_cookie(app, copied).get("/provider").status_code == 200

    sign_out(browser)

    thief = with_cookie(app, copied)
    response = thief.get("/provider")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert thief.get("/api/v1/providers").status_code == 401
    assert [s["end_reason"] for s in sessions_of(app, provider.id)] == ["signed_out"]


def test_signing_out_one_browser_leaves_the_others_signed_in(app, browser, provider):
    laptop = app.test_client()
    Auth(laptop).login(provider)

    sign_out(browser)

    assert laptop.get("/provider").status_code == 200


def test_an_idle_session_ends_on_the_server_and_its_copy_is_refused(app, browser, provider):
    copied = cookie_of(browser)
    set_last_seen(app, provider.id, app.config["IDLE_LOGOUT"].total_seconds() + 5)

    assert browser.get("/provider").status_code == 302
    set_last_seen(app, provider.id, 0)  # even "fresh" again, an ended session stays ended
    assert with_cookie(app, copied).get("/provider").status_code == 302


def test_a_session_whose_user_was_deactivated_is_refused(app, browser, provider):
    with app.app_context():
        from app.services.users import deactivate_user

        deactivate_user(provider.id)

    assert browser.get("/provider").status_code == 302
    assert [s["end_reason"] for s in sessions_of(app, provider.id)] == ["deactivated"]


# Sockets end with their authority -------------------------------------------------------


def test_signing_out_closes_the_sockets_of_that_session_only(
    app, browser, provider, socket_client, api
):
    tab = socket_client(flask_client=browser)
    laptop_browser = app.test_client()
    Auth(laptop_browser).login(provider)
    laptop = socket_client(flask_client=laptop_browser)
    by_token = socket_client(auth={"token": api.token(provider)})
    assert tab.is_connected() and laptop.is_connected() and by_token.is_connected()

    sign_out(browser)

    assert not tab.is_connected()
    assert laptop.is_connected()
    assert by_token.is_connected()


def test_a_signed_out_socket_hears_nothing_more(
    app, browser, provider, socket_client, api, make_user
):
    tab = socket_client(flask_client=browser)
    tab.get_received()
    sign_out(browser)
    requester = make_user(Role.REQUESTER)

    api.post("/requests", api.token(requester), json={"provider_id": provider.id})

    assert not tab.is_connected()
    # A disconnected test client raises on get_received; what it held before is all it got.
    with pytest.raises(RuntimeError):
        tab.get_received()


def test_pages_are_told_to_sign_in_again_when_their_session_ends(app, browser, socket_client):
    tab = socket_client(flask_client=browser)
    tab.get_received()
    sid = socketio.server.manager.sid_from_eio_sid(tab.eio_sid, "/")
    seen = []
    # The page's socket is closed; before that, the room of its session hears signed_out.
    original = socketio.emit

    def spy(event, *args, **kwargs):
        seen.append((event, kwargs.get("to")))
        return original(event, *args, **kwargs)

    socketio.emit = spy
    try:
        sign_out(browser)
    finally:
        socketio.emit = original
    # Told directly, once, before its socket closes (no other instance to tell here).
    assert [s for s in seen if s[0] == "signed_out"] == [("signed_out", sid)]


def test_revoking_a_token_closes_its_sockets_and_not_the_others(app, provider, socket_client, api):
    first, second = api.token(provider), api.token(provider)
    on_first = socket_client(auth={"token": first})
    on_second = socket_client(auth={"token": second})
    first_id = next(t["id"] for t in api.get("/tokens", first).get_json() if t["current"])

    assert api.call("DELETE", f"/tokens/{first_id}", second).status_code == 204

    assert not on_first.is_connected()
    assert on_second.is_connected()
    assert api.get("/providers", first).status_code == 401


def test_deactivation_closes_every_socket_of_the_user(
    app, browser, provider, socket_client, api, make_user
):
    by_cookie = socket_client(flask_client=browser)
    by_token = socket_client(auth={"token": api.token(provider)})
    admin = api.token(make_user(Role.ADMIN))

    response = api.call("PATCH", f"/users/{provider.id}", admin, json={"active": False})

    assert response.status_code == 200
    assert not by_cookie.is_connected()
    assert not by_token.is_connected()


def test_a_role_change_closes_the_users_sockets(
    app, browser, provider, socket_client, api, make_user
):
    tab = socket_client(flask_client=browser)
    admin = api.token(make_user(Role.ADMIN))

    api.call("PATCH", f"/users/{provider.id}", admin, json={"role": "scheduler"})

    assert not tab.is_connected()
    # Reconnecting follows the new role's streams: only the directory.
    again = socket_client(flask_client=browser)
    streams = {e["args"][0]["stream"] for e in again.get_received() if e["name"] == "snapshot"}
    assert streams == {directory_of(provider)}


def _end_in_another_process(app, provider_id: int) -> None:
    """What the CLI does from its own process: the row changes, nobody here is told."""
    with app.app_context():
        db.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == provider_id)
            .values(ended_at=utcnow(), end_reason="signed_out")
        )
        db.session.commit()


def test_every_event_re_checks_the_session_it_came_from(app, browser, provider, socket_client):
    tab = socket_client(flask_client=browser)
    _end_in_another_process(app, provider.id)

    ack = tab.emit("resync", {"stream": directory_of(provider)}, callback=True)

    assert ack == {"error": {"code": "unauthorized", "message": "Sign in again."}}
    assert not tab.is_connected()


def test_the_sweep_closes_sockets_whose_authority_ended_elsewhere(
    app, browser, provider, socket_client, api, make_user
):
    stale = socket_client(flask_client=browser)
    other = make_user(Role.PROVIDER)
    fine = socket_client(auth={"token": api.token(other)})
    _end_in_another_process(app, provider.id)

    with app.app_context():
        closed = authority.sweep()

    assert closed == 1
    assert not stale.is_connected()
    assert fine.is_connected()


def test_the_sweep_closes_sockets_of_idle_sessions(app, browser, provider, socket_client):
    tab = socket_client(flask_client=browser)
    set_last_seen(app, provider.id, app.config["IDLE_LOGOUT"].total_seconds() + 1)

    with app.app_context():
        authority.sweep()

    assert not tab.is_connected()


def test_keepalive_counts_as_activity_for_the_idle_logout(app, browser, provider, socket_client):
    tab = socket_client(flask_client=browser)
    idle = app.config["IDLE_LOGOUT"].total_seconds()
    set_last_seen(app, provider.id, idle - 10)

    assert tab.emit("keepalive", {}, callback=True) == {"ok": True}

    [session] = sessions_of(app, provider.id)
    assert session["idle_seconds"] < 5
    with app.app_context():
        authority.sweep()
    assert tab.is_connected()
    assert browser.get("/provider").status_code == 200


def test_a_socket_past_the_cap_is_refused(app, browser, provider, socket_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_SOCKETS_PER_USER", 2)
    first = socket_client(flask_client=browser)
    second = socket_client(flask_client=browser)

    third = socket_client(flask_client=browser)

    assert first.is_connected() and second.is_connected()
    assert not third.is_connected()
    first.disconnect()
    assert socket_client(flask_client=browser).is_connected()  # a freed place is reusable


# Whose session a cookie carries ---------------------------------------------------------


def test_a_session_secret_only_counts_for_its_own_user(app, browser, provider, make_user):
    from app.services.auth_sessions import resume_session

    with browser.session_transaction() as cookie:
        secret = cookie["auth"]
    other = make_user(Role.PROVIDER)

    with app.app_context():
        assert resume_session(secret, provider.id)[0] is not None
        assert resume_session(secret, other.id) == (None, "unknown")  # a forged user id
        assert resume_session("not-a-secret", provider.id) == (None, "unknown")
        assert resume_session(None, provider.id) == (None, "unknown")


def test_a_user_made_inactive_behind_the_services_back_is_refused_at_once(app, browser, provider):
    from app.models import User

    with app.app_context():  # as a database edit would: no session was ended
        db.session.execute(update(User).where(User.id == provider.id).values(active=False))
        db.session.commit()

    assert browser.get("/provider").status_code == 302
