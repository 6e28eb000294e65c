"""The admin's stations page: create (the code shown once), list with state, online and
the latest self-test, revoke and re-issue after a confirmation; admins only."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import Role, SelfTest
from app.services import stations
from app.services.audit import Actor
from app.services.users import create_user
from tests.app.helpers import assert_error
from tests.conftest import PASSWORD, Auth


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def admin_browser(app, make_user):
    client = app.test_client()
    Auth(client).login(make_user(Role.ADMIN))
    return client


def create(client, name="Cart 3", site="Elm House"):
    token = csrf_of(client, "/admin/stations")
    return client.post("/admin/stations", data={"name": name, "site": site, "csrf_token": token})


def listing(app) -> dict:
    with app.app_context():
        found = {s["name"]: s for s in stations.station_listing(None)["stations"]}
        db.session.rollback()
        return found


def test_creating_a_station_shows_its_code_once(app, admin_browser, api):
    response = create(admin_browser)
    html = response.get_data(as_text=True)

    assert response.status_code == 201
    code = re.search(r'<code id="enrollment-code">([0-9A-Z-]+)</code>', html).group(1)
    assert api.post("/stations/enroll", json={"code": code}).status_code == 201
    again = admin_browser.get("/admin/stations").get_data(as_text=True)
    assert code not in again
    assert listing(app)["Cart 3"]["state"] == "enrolled"


def test_a_bad_station_form_says_what_is_wrong_and_keeps_what_was_typed(app, admin_browser):
    create(admin_browser)

    duplicate = create(admin_browser, site="Oak House")
    empty = create(admin_browser, name="", site="")

    assert duplicate.status_code == 422
    html = duplicate.get_data(as_text=True)
    assert "A station with this name already exists." in html
    assert 'value="Oak House"' in html
    assert "enrollment-code" not in html
    text = empty.get_data(as_text=True)
    assert "Enter a name." in text and "Enter a site." in text


def test_revoking_asks_first_then_revokes(app, admin_browser, api):
    create(admin_browser)
    station_id = listing(app)["Cart 3"]["id"]

    asked = admin_browser.get(f"/admin/stations/{station_id}/revoke")
    done = admin_browser.post(
        f"/admin/stations/{station_id}/revoke",
        data={"csrf_token": csrf_of(admin_browser, "/admin/stations")},
    )
    twice = admin_browser.post(
        f"/admin/stations/{station_id}/revoke",
        data={"csrf_token": csrf_of(admin_browser, "/admin/stations")},
        follow_redirects=True,
    )

    assert "Revoke Cart 3?" in asked.get_data(as_text=True)
    assert done.status_code == 302
    assert listing(app)["Cart 3"]["state"] == "revoked"
    assert "already revoked" in twice.get_data(as_text=True)


def test_a_new_code_ends_the_old_credential_and_enrolls_again(app, admin_browser, api):
    create(admin_browser)
    station_id = listing(app)["Cart 3"]["id"]
    with app.app_context():
        _, code = stations.create_station("Cart 4", "Elm", Actor.system())
    old_token = api.post("/stations/enroll", json={"code": code}).get_json()["station_token"]
    cart4 = listing(app)["Cart 4"]["id"]

    response = admin_browser.post(
        f"/admin/stations/{cart4}/code",
        data={"csrf_token": csrf_of(admin_browser, "/admin/stations")},
    )

    new_code = re.search(
        r'<code id="enrollment-code">([0-9A-Z-]+)</code>', response.get_data(as_text=True)
    ).group(1)
    assert api.get("/providers", old_token).status_code == 401
    assert api.post("/stations/enroll", json={"code": new_code}).status_code == 201
    assert station_id != cart4


def test_the_list_shows_online_last_seen_and_the_latest_self_test(app, api, admin_browser):
    with app.app_context():
        station, code = stations.create_station("Cart 5", "Elm", Actor.system())
        db.session.add_all(
            [
                SelfTest(station_id=station.id, verdict="good"),
                SelfTest(station_id=station.id, verdict="failed"),
            ]
        )
        db.session.commit()
    api.post("/stations/enroll", json={"code": code})

    row = listing(app)["Cart 5"]
    listed = admin_browser.get("/api/v1/stations", headers={"Accept": "application/json"})

    assert row["online"] is True  # just enrolled: seen now
    assert row["self_test"]["verdict"] == "failed"
    assert listed.status_code == 200
    assert [s["name"] for s in listed.get_json()["stations"]] == ["Cart 5"]


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.REQUESTER, Role.SCHEDULER])
def test_only_admins_see_stations(app, make_user, api, role):
    client = app.test_client()
    Auth(client).login(make_user(role))

    assert client.get("/admin/stations").status_code == 403
    assert_error(api.get("/stations", api.token(make_user(role))), 403)


def test_an_admin_socket_hears_a_station_come_online_and_go_offline(
    app, make_user, api, socket_client
):
    admin = socket_client(auth={"token": api.token(make_user(Role.ADMIN))})
    with app.app_context():
        station, code = stations.create_station("Cart 6", "Elm", Actor.system())
        station_id = station.id
    token = api.post("/stations/enroll", json={"code": code}).get_json()["station_token"]
    admin.get_received()

    screen = socket_client(auth={"token": token})
    screen.disconnect()

    heard = [e["args"][0] for e in admin.get_received() if e["name"] == "station_updated"]
    assert [(e["id"], e["online"]) for e in heard] == [(station_id, True), (station_id, False)]


def test_an_admin_sees_hears_and_revokes_only_their_organisations_stations(
    app, make_user, api, socket_client, other_organisation
):
    ours = make_user(Role.ADMIN)  # before a second organisation exists: the only one
    harbour = other_organisation()
    with app.app_context():
        theirs, code = stations.create_station(
            "Quay cart", "Quay", Actor.system(), organisation=harbour
        )
        theirs_id = theirs.id
        create_user(
            "admin@harbour.example", "Harbour Admin", "admin", PASSWORD, organisation=harbour
        )
    ours_socket = socket_client(auth={"token": api.token(ours)})
    harbour_token = api.post(
        "/tokens", json={"email": "admin@harbour.example", "password": PASSWORD}
    )
    harbour_socket = socket_client(auth={"token": harbour_token.get_json()["token"]})
    browser = app.test_client()
    Auth(browser).login(ours)

    listed = api.get("/stations", api.token(ours)).get_json()["stations"]
    page = browser.get("/admin/stations").get_data(as_text=True)
    asked = browser.get(f"/admin/stations/{theirs_id}/revoke")
    revoked = browser.post(
        f"/admin/stations/{theirs_id}/revoke",
        data={"csrf_token": csrf_of(browser, "/admin/stations")},
    )
    reissued = browser.post(
        f"/admin/stations/{theirs_id}/code",
        data={"csrf_token": csrf_of(browser, "/admin/stations")},
    )
    ours_socket.get_received(), harbour_socket.get_received()
    token = api.post("/stations/enroll", json={"code": code}).get_json()["station_token"]
    socket_client(auth={"token": token}).disconnect()

    assert listed == [] and "Quay cart" not in page
    assert (asked.status_code, revoked.status_code, reissued.status_code) == (404, 404, 404)
    assert listing(app)["Quay cart"]["state"] == "enrolled"  # neither revoked nor re-issued
    assert [e for e in ours_socket.get_received() if e["name"] == "station_updated"] == []
    heard = [e["args"][0] for e in harbour_socket.get_received() if e["name"] == "station_updated"]
    assert {e["id"] for e in heard} == {theirs_id} and len(heard) >= 2  # enrolled, online, offline
