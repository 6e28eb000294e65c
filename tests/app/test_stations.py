"""Kiosk stations: enrollment with a one-time code, the station credential as cookie,
bearer token and Socket.IO auth, confinement to a requester's routes and events, no idle
logout, and revocation (by the service, the CLI, or another process)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.auth.access import STATION_ENDPOINTS
from app.auth.session import STATION_COOKIE
from app.extensions import db, socketio
from app.models import AuditEvent, Role, Station
from app.models.types import utcnow
from app.realtime import authority
from app.realtime.events import STATION_EVENTS
from app.realtime.packets import MALFORMED
from app.services import stations
from app.services.audit import Actor
from tests.app.helpers import assert_error, the_directory


def new_station(app, name="Cart 3", site="Elm House", now=None) -> SimpleNamespace:
    with app.app_context():
        station, code = stations.create_station(name, site, Actor.system(), now=now)
        found = SimpleNamespace(id=station.id, user_id=station.user_id, code=code)
        db.session.rollback()
        return found


def enroll(api, code):
    return api.post("/stations/enroll", json={"code": code})


def station_row(app, station_id: int) -> dict:
    with app.app_context():
        s = db.session.get(Station, station_id)
        row = {
            "token_hash": s.token_hash,
            "code_hash": s.enrollment_code_hash,
            "revoked": s.revoked_at is not None,
            "last_seen_at": s.last_seen_at,
        }
        db.session.rollback()
        return row


@pytest.fixture
def station(app, api):
    """An enrolled station and its bearer token."""
    made = new_station(app)
    response = enroll(api, made.code)
    assert response.status_code == 201, response.get_json()
    made.token = response.get_json()["station_token"]
    return made


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def kiosk_browser(app, code: str):
    """A browser that opened /kiosk and enrolled with `code` through the form."""
    browser = app.test_client()
    page = browser.get("/kiosk")
    assert "Set up this station" in page.get_data(as_text=True)
    response = browser.post(
        "/kiosk/enroll", data={"code": code, "csrf_token": csrf_of(browser, "/kiosk")}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/kiosk"
    return browser, response


# Enrollment ------------------------------------------------------------------------------


def test_the_code_enrolls_once_for_a_256_bit_token_kept_only_as_its_hash(app, api):
    made = new_station(app)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", made.code)

    first = enroll(api, made.code.lower().replace("-", " "))  # as typed on a touch screen
    again = enroll(api, made.code)

    assert first.status_code == 201
    body = first.get_json()
    token = body["station_token"]
    assert body["station"] == {"id": made.id, "name": "Cart 3", "site": "Elm House"}
    assert token.startswith("st_") and len(token) - 3 >= 43  # 32 random bytes, base64url
    row = station_row(app, made.id)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["code_hash"] is None
    error = assert_error(again, 422, "invalid")
    assert error["fields"] == {"code": "Wrong, used or expired."}


@pytest.mark.parametrize("code", ["", "12345", "ABCDE-FGHJ!", None, 12345, "X" * 500])
def test_what_is_not_a_code_is_refused_clearly(app, api, code):
    new_station(app)
    error = assert_error(enroll(api, code), 422, "invalid")
    assert "enrollment code" in error["message"]


def test_a_wrong_code_and_an_expired_code_are_refused(app, api):
    expired = new_station(app, "Old cart", now=utcnow() - timedelta(hours=25))
    new_station(app, "New cart")

    assert_error(enroll(api, "ABCDE-FGHJK"), 422, "invalid")
    assert_error(enroll(api, expired.code), 422, "invalid")
    assert station_row(app, expired.id)["token_hash"] is None


def test_too_many_wrong_codes_from_one_address_are_429(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "STATION_ENROLL_LIMIT", "3/minute")
    made = new_station(app)
    for _ in range(3):
        assert enroll(api, "ABCDE-FGHJK").status_code == 422

    limited = enroll(api, made.code)  # even the right code waits: no guessing at speed

    assert_error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) >= 1


def test_enrolling_through_the_page_leaves_an_httponly_long_lived_cookie(app):
    made = new_station(app)

    browser, response = kiosk_browser(app, made.code)

    header = next(h for h in response.headers.getlist("Set-Cookie") if STATION_COOKIE in h)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Max-Age=34560000" in header  # STATION_COOKIE_DAYS (400)
    screen = browser.get("/kiosk")
    assert screen.status_code == 200
    assert "Cart 3" in screen.get_data(as_text=True)


def test_a_wrong_code_on_the_page_says_so_and_keeps_what_was_typed(app):
    new_station(app)
    browser = app.test_client()
    response = browser.post(
        "/kiosk/enroll", data={"code": "ABCDE-FGHJK", "csrf_token": csrf_of(browser, "/kiosk")}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "wrong, used or expired" in html
    assert 'value="ABCDE-FGHJK"' in html
    assert browser.get_cookie(STATION_COOKIE) is None


def test_creation_enrollment_and_revocation_are_audited(app, station):
    with app.app_context():
        stations.revoke_station(station.id, Actor.system())
        actions = [
            (e.action, e.actor_kind, e.detail)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]
        db.session.rollback()
    detail = {"station_id": station.id}
    assert actions == [
        ("station_create", "system", {**detail, "name": "Cart 3"}),
        ("station_enroll", "station", detail),
        ("station_revoke", "system", detail),
    ]


# The credential ---------------------------------------------------------------------------


def test_the_station_token_works_as_bearer_for_a_requesters_calls(app, api, station, make_user):
    provider = make_user(Role.PROVIDER, available=True)

    providers = api.get("/providers", station.token)
    asked = api.post("/requests", station.token, json={"provider_id": provider.id})

    assert providers.status_code == 200
    assert asked.status_code == 201
    assert asked.get_json()["state"] == "pending"


def test_the_station_token_authenticates_a_socket(app, station, socket_client):
    sc = socket_client(auth={"token": station.token})

    assert sc.is_connected()
    streams = {e["args"][0]["stream"] for e in sc.get_received() if e["name"] == "snapshot"}
    assert streams == {f"requester:{station.user_id}", the_directory(app)}


def test_the_station_cookie_authenticates_a_socket(app, socket_client):
    browser, _ = kiosk_browser(app, new_station(app).code)

    assert socket_client(flask_client=browser).is_connected()


def test_a_wrong_station_token_is_refused_everywhere(app, api, socket_client):
    assert_error(api.get("/providers", "st_" + "x" * 43), 401, "unauthorized")
    assert not socket_client(auth={"token": "st_" + "x" * 43}).is_connected()


def test_no_idle_logout_for_a_station(app, monkeypatch, socket_client):
    browser, _ = kiosk_browser(app, new_station(app).code)
    sc = socket_client(flask_client=browser)
    monkeypatch.setitem(app.config, "IDLE_LOGOUT", timedelta(seconds=0))

    with app.app_context():
        authority.sweep()

    assert sc.is_connected()
    page = browser.get("/kiosk").get_data(as_text=True)
    assert "Set up this station" not in page
    assert 'name="idle-minutes"' not in page  # the page never sends itself to sign-in


# Confinement -------------------------------------------------------------------------------


def _url_for_rule(rule) -> str:
    url = rule.rule
    for name, converter in rule._converters.items():
        value = "1" if type(converter).__name__ == "IdConverter" else None
        if value is None and hasattr(converter, "items"):
            value = next(iter(converter.items))
        url = re.sub(rf"<[^>]*\b{name}>", value or "x", url)
    return url


def test_a_station_is_refused_every_route_that_is_not_a_requesters(app, api, station):
    browser, _ = kiosk_browser(app, new_station(app, "Cart 4").code)
    csrf = csrf_of(browser, "/kiosk")
    checked = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in STATION_ENDPOINTS or endpoint.startswith("kiosk."):
            continue
        url = _url_for_rule(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if url.startswith("/api/"):
                response = api.call(method, url.removeprefix("/api/v1"), station.token, json={})
            else:
                response = browser.open(
                    url, method=method, headers={"X-CSRFToken": csrf}, data={"csrf_token": csrf}
                )
            assert response.status_code == 403, (method, url, response.status_code)
            checked.append(endpoint)
    # Admin, provider, scheduler, "any signed-in role" and no-credential routes alike.
    assert {"api.list_tokens", "api.list_noted_visits", "api.update_user"} <= set(checked)
    assert {"auth.logout", "guests.join", "api.create_token", "visits.view_snapshot"} <= set(
        checked
    )
    assert {"schedule.my_schedule", "clinic.provider_dashboard", "visits.telehealth"} <= set(
        checked
    )


def test_a_station_may_do_a_requesters_things(app, station, make_user):
    browser, _ = kiosk_browser(app, new_station(app, "Cart 4").code)
    assert browser.get("/requester").status_code == 200
    assert browser.get("/api/v1/providers").status_code == 200


def test_a_station_socket_is_refused_every_event_that_is_not_a_requesters(
    app, station, socket_client
):
    sc = socket_client(auth={"token": station.token})
    names = set(socketio.server.handlers["/"]) - {"connect", "disconnect", MALFORMED, "*"}
    refused = names - STATION_EVENTS
    assert {"change_participant", "note_add", "request_snapshot", "hand_over_host"} <= refused

    for name in sorted(refused):
        ack = sc.emit(name, {"visit_id": 1}, callback=True)
        assert ack == {"error": {"code": "forbidden", "message": "A station cannot do this."}}, name
    assert sc.emit("resync", {"stream": the_directory(app)}, callback=True) == {"ok": True}


def test_a_station_account_cannot_sign_in_with_a_password(app, api, station):
    with app.app_context():
        email = db.session.get(Station, station.id).user.email
        db.session.rollback()
    for password in ("", "!station", "station"):
        response = api.post("/tokens", json={"email": email, "password": password})
        assert response.status_code == 401


# Revocation --------------------------------------------------------------------------------


def test_revoking_refuses_the_token_and_closes_the_stations_sockets_at_once(
    app, api, station, socket_client
):
    browser, _ = kiosk_browser(app, new_station(app, "Cart 4").code)
    by_token = socket_client(auth={"token": station.token})
    other = socket_client(flask_client=browser)

    with app.app_context():
        stations.revoke_station(station.id, Actor.system())

    assert not by_token.is_connected()
    assert other.is_connected()  # another station is another credential
    assert_error(api.get("/providers", station.token), 401, "unauthorized")
    assert not socket_client(auth={"token": station.token}).is_connected()


def test_a_revoked_station_cookie_goes_back_to_the_enrollment_form(app):
    made = new_station(app)
    browser, _ = kiosk_browser(app, made.code)
    with app.app_context():
        stations.revoke_station(made.id, Actor.system())

    page = browser.get("/kiosk")
    elsewhere = browser.get("/requester")

    assert "Set up this station" in page.get_data(as_text=True)
    assert browser.get_cookie(STATION_COOKIE) is None  # the stale cookie is cleared
    assert elsewhere.status_code == 302


def test_the_sweep_closes_a_station_revoked_by_another_process(app, station, socket_client):
    sc = socket_client(auth={"token": station.token})
    # What the CLI does in its own process: this process's registry never hears of it.
    with app.app_context():
        row = db.session.get(Station, station.id)
        row.revoked_at, row.token_hash = utcnow(), None
        db.session.commit()

        closed = authority.sweep()

    assert closed == 1
    assert not sc.is_connected()


def test_the_cli_creates_revokes_and_reissues(app, api):
    runner = app.test_cli_runner()

    created = runner.invoke(args=["stations", "create", "--name", "Cart 9", "--site", "Elm"])
    code = created.output.strip().splitlines()[-1]
    token = enroll(api, code).get_json()["station_token"]
    listed = runner.invoke(args=["stations", "list"])
    revoked = runner.invoke(args=["stations", "revoke", "--name", "Cart 9"])
    again = runner.invoke(args=["stations", "revoke", "--name", "Cart 9"])
    unknown = runner.invoke(args=["stations", "revoke", "--name", "Nope"])
    reissued = runner.invoke(args=["stations", "reissue", "--name", "Cart 9"])

    assert created.exit_code == 0 and re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code)
    assert "Cart 9\tElm\tenrolled\tonline" in listed.output
    assert revoked.exit_code == 0
    assert api.get("/providers", token).status_code == 401
    assert again.exit_code == 1 and "already revoked" in again.output
    assert unknown.exit_code == 1 and "no station named" in unknown.output
    new_code = reissued.output.strip().splitlines()[-1]
    assert enroll(api, new_code).status_code == 201  # the same station, on a new device


def test_the_cli_refuses_a_duplicate_or_empty_station(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["stations", "create", "--name", "Cart 9", "--site", "Elm"])

    duplicate = runner.invoke(args=["stations", "create", "--name", "Cart 9", "--site", "Elm"])
    empty = runner.invoke(args=["stations", "create", "--name", " ", "--site", "Elm"])

    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    assert empty.exit_code == 1 and "Enter a name" in empty.output


# The station screen ------------------------------------------------------------------------


def test_the_station_screen_is_the_requester_dashboard_in_kiosk_form(app):
    made = new_station(app)
    browser, _ = kiosk_browser(app, made.code)

    page = browser.get("/kiosk")
    html = page.get_data(as_text=True)

    assert 'class="kiosk"' in html
    assert 'id="kiosk-status"' in html and "/static/js/kiosk.js" in html
    assert "/static/js/requester.js" in html  # the one request flow, not a second copy
    assert 'id="provider-template"' in html and 'id="self-test"' in html
    assert f'"user_id": {made.user_id}' in html
    assert "camera=(self)" in page.headers["Permissions-Policy"]  # the self-test
    assert "Sign out" not in html


def test_enrolling_on_a_signed_in_browser_signs_the_person_out_first(app, make_user):
    from tests.app.helpers import sessions_of
    from tests.conftest import Auth

    person = make_user(Role.PROVIDER)
    browser = app.test_client()
    Auth(browser).login(person)
    made = new_station(app)

    response = browser.post(
        "/kiosk/enroll", data={"code": made.code, "csrf_token": csrf_of(browser, "/provider")}
    )

    assert response.status_code == 302
    assert [s["end_reason"] for s in sessions_of(app, person.id)] == ["signed_out"]
    assert "Set up this station" not in browser.get("/kiosk").get_data(as_text=True)
    assert browser.get("/provider").status_code == 403  # the station now, not the provider


def test_a_station_browser_stays_the_station_whoever_tries_to_sign_in_on_it(app, make_user):
    from tests.conftest import PASSWORD

    made = new_station(app)
    browser, _ = kiosk_browser(app, made.code)
    person = make_user(Role.PROVIDER)

    page = browser.get("/auth/login")
    posted = browser.post(
        "/auth/login",
        data={
            "email": person.email,
            "password": PASSWORD,
            "csrf_token": csrf_of(browser, "/kiosk"),
        },
    )

    assert page.headers["Location"] == "/kiosk"
    assert posted.status_code == 302
    assert browser.get("/provider").status_code == 403
    assert "Set up this station" not in browser.get("/kiosk").get_data(as_text=True)


def test_nothing_imports_kiosk_but_the_one_registration_line():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    importers = []
    for path in sorted((root / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            if any(name.split(".")[0] == "kiosk" for name in names):
                importers.append((path.relative_to(root).as_posix(), node.lineno))
    assert [path for path, _ in importers] == ["app/__init__.py"]
