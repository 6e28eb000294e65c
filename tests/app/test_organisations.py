"""Organisations: a requester sees only their own organisation's providers (page, API and
live directory), a provider's availability reaches only their organisation, and another
organisation's provider does not exist for a requester."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Organisation, Role, Station, User
from app.services.audit import Actor
from app.services.stations import create_station
from app.services.users import set_organisation
from tests.app.helpers import browser_tab, directory_of
from tests.app.test_pages import embedded


@pytest.fixture
def two(app, api, make_user, other_organisation, socket_client):
    """Riverside Health and Harbour Health, each with a provider and a requester."""
    ours = make_user(Role.PROVIDER, name="Dr. Ours", services=["General"], available=True)
    theirs = make_user(Role.PROVIDER, name="Dr. Theirs", services=["General"])
    requester = make_user(Role.REQUESTER, name="Station Ours")
    their_requester = make_user(Role.REQUESTER, name="Station Theirs")
    admin = make_user(Role.ADMIN)
    their_admin = make_user(Role.ADMIN)
    harbour = other_organisation("Harbour Health")  # once there are two, make_user needs one

    def moved(user):
        with app.app_context():
            user = set_organisation(user.id, harbour)
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    theirs, their_requester, their_admin = map(moved, (theirs, their_requester, their_admin))

    def connect(user):
        return browser_tab(app, socket_client, user)

    return SimpleNamespace(
        ours=ours,
        theirs=theirs,
        requester=requester,
        their_requester=their_requester,
        admin=admin,
        their_admin=their_admin,
        r=api.token(requester),
        their_p=api.token(theirs),
        connect=connect,
    )


def provider_ids(snapshot: dict) -> list[int]:
    return [p["id"] for p in snapshot["data"]["providers"]]


def snapshots(sc) -> dict[str, dict]:
    return {
        e["args"][0]["stream"]: e["args"][0] for e in sc.get_received() if e["name"] == "snapshot"
    }


def test_each_organisation_has_its_own_directory_stream(two):
    assert two.ours.organisation_id != two.theirs.organisation_id
    assert directory_of(two.requester) == f"directory:{two.ours.organisation_id}"
    assert directory_of(two.their_requester) == f"directory:{two.theirs.organisation_id}"


def test_a_requester_sees_only_their_organisations_providers_on_the_page(client, auth, two):
    auth.login(two.requester)

    page = {s["stream"]: s for s in embedded(client.get("/requester"), "snapshots")}

    assert set(page) == {f"requester:{two.requester.id}", directory_of(two.requester)}
    assert provider_ids(page[directory_of(two.requester)]) == [two.ours.id]


def test_the_providers_api_lists_only_the_callers_organisation(api, two):
    assert [p["id"] for p in api.get("/providers", two.r).get_json()] == [two.ours.id]
    assert [p["id"] for p in api.get("/providers", two.their_p).get_json()] == [two.theirs.id]


def test_a_socket_follows_only_its_own_organisations_directory(two, socket_client):
    got = snapshots(socket_client(auth={"token": two.r}))

    assert set(got) == {f"requester:{two.requester.id}", directory_of(two.requester)}
    assert provider_ids(got[directory_of(two.requester)]) == [two.ours.id]


def test_another_organisations_directory_cannot_be_followed(two):
    sc = two.connect(two.requester)
    sc.get_received()

    ack = sc.emit("resync", {"stream": directory_of(two.theirs)}, callback=True)

    assert ack["error"]["code"] == "forbidden"
    assert sc.get_received() == []


def test_an_availability_change_reaches_no_socket_of_another_organisation(api, two):
    ours = [two.connect(two.requester), two.connect(two.ours)]
    their_requester = two.connect(two.their_requester)
    for sc in (*ours, their_requester):
        sc.get_received()

    api.put("/providers/me/availability", two.their_p, json={"available": True})

    assert [sc.get_received() for sc in ours] == [[], []]
    [event] = their_requester.get_received()
    assert event["name"] == "availability_changed"
    assert event["args"][0] == {
        "provider_id": two.theirs.id,
        "available": True,
        "stream": directory_of(two.theirs),
        "version": 2,  # 1: Dr. Theirs joined Harbour Health's directory (the fixture's move)
    }


def test_a_request_to_another_organisations_provider_is_answered_as_for_no_provider(api, two):
    missing = api.post("/requests", two.r, json={"provider_id": two.theirs.id + 1000})
    elsewhere = api.post("/requests", two.r, json={"provider_id": two.theirs.id})

    assert elsewhere.status_code == missing.status_code == 422
    assert elsewhere.get_json() == missing.get_json()
    assert elsewhere.get_json()["error"]["fields"] == {"provider_id": "No such provider."}


def test_the_overview_shows_an_admin_only_their_organisations_providers(client, auth, two):
    auth.login(two.admin)

    text = client.get("/").get_data(as_text=True)

    assert "Dr. Ours" in text
    assert "Dr. Theirs" not in text


def test_a_station_joins_the_organisation_of_the_admin_who_creates_it(app, two):
    with app.app_context():
        by = Actor.user(two.their_admin)
        station, _code = create_station("Cart 9", "Harbour, ground floor", by)
        assert station.user.organisation_id == two.theirs.organisation_id
        db.session.rollback()


def test_an_account_of_another_organisation_cannot_join_a_clinic(api, two):
    admin = api.token(two.admin)
    clinic = api.post(
        "/clinics",
        admin,
        json={"name": "Ours", "organisation": "Riverside Health", "timezone": "UTC"},
    ).get_json()

    refused = api.post(f"/clinics/{clinic['id']}/members", admin, json={"email": two.theirs.email})
    added = api.post(f"/clinics/{clinic['id']}/members", admin, json={"email": two.ours.email})

    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"email": "No such account."}
    assert added.status_code == 201


def test_an_admin_cannot_add_anyone_to_another_organisations_clinic(api, two):
    theirs = api.post(
        "/clinics",
        api.token(two.their_admin),
        json={"name": "Theirs", "organisation": "Harbour Health", "timezone": "UTC"},
    ).get_json()

    refused = api.post(
        f"/clinics/{theirs['id']}/members", api.token(two.admin), json={"email": two.theirs.email}
    )

    assert refused.status_code == 404
    assert refused.get_json()["error"]["message"] == "No such clinic."


def test_moving_a_provider_leaves_the_old_clinics_and_closes_their_sockets(app, api, two):
    admin = api.token(two.admin)
    clinic = api.post(
        "/clinics",
        admin,
        json={"name": "Ours", "organisation": "Riverside Health", "timezone": "UTC"},
    ).get_json()
    api.post(f"/clinics/{clinic['id']}/members", admin, json={"email": two.ours.email})
    tab = two.connect(two.ours)
    requester_tab = two.connect(two.requester)
    requester_tab.get_received()

    with app.app_context():
        set_organisation(two.ours.id, "Harbour Health")

    assert not tab.is_connected()
    # Made unavailable first, then gone from the list: the old organisation's directory
    # hears both, nobody else.
    heard = [(e["name"], e["args"][0].get("available")) for e in requester_tab.get_received()]
    assert heard == [("availability_changed", False), ("stream_changed", None)]
    [listed] = api.get("/clinics", admin).get_json()
    assert listed["members"] == []
    assert [p["id"] for p in api.get("/providers", two.r).get_json()] == []


# Command line -----------------------------------------------------------------------------

CREATE = ["users", "create", "--email", "nina@example.org", "--name", "Nina", "--role", "requester"]


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.setenv("ANTEROOM_PASSWORD", "a long passphrase")
    return app.test_cli_runner()


def _organisation_of(app, model, **where) -> str | None:
    with app.app_context():
        row = db.session.scalar(select(model).filter_by(**where))
        name = db.session.get(Organisation, row.organisation_id).name if row else None
        db.session.rollback()
        return name


def test_with_one_organisation_users_create_needs_no_name(app, runner):
    result = runner.invoke(args=CREATE)

    assert result.exit_code == 0, result.output
    assert _organisation_of(app, User, email="nina@example.org") == "Riverside Health"


def test_with_several_organisations_users_create_asks_which(app, runner, other_organisation):
    other_organisation("Harbour Health")

    unnamed = runner.invoke(args=CREATE)
    unknown = runner.invoke(args=[*CREATE, "--organisation", "Nowhere Health"])
    named = runner.invoke(args=[*CREATE, "--organisation", "Harbour Health"])

    assert unnamed.exit_code == 1
    assert "error: organisation: There are 2 organisations: name one." in unnamed.output
    assert unknown.exit_code == 1
    assert "No organisation is named 'Nowhere Health'" in unknown.output
    assert "Traceback" not in unnamed.output + unknown.output
    assert named.exit_code == 0, named.output
    assert _organisation_of(app, User, email="nina@example.org") == "Harbour Health"


def test_organisations_are_created_and_listed_from_the_command_line(app, runner, make_user):
    make_user(Role.REQUESTER)

    created = runner.invoke(args=["organisations", "create", "--name", "Harbour Health"])
    again = runner.invoke(args=["organisations", "create", "--name", "Harbour Health"])
    listed = runner.invoke(args=["organisations", "list"])

    assert created.exit_code == 0, created.output
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert listed.output.splitlines() == [
        "Harbour Health\t0 account(s)",
        "Riverside Health\t1 account(s)",
    ]


def test_stations_create_names_its_organisation_when_there_are_several(
    app, runner, other_organisation
):
    other_organisation("Harbour Health")
    station = ["stations", "create", "--name", "Cart 4", "--site", "Harbour"]

    unnamed = runner.invoke(args=station)
    named = runner.invoke(args=[*station, "--organisation", "Harbour Health"])

    assert unnamed.exit_code == 1
    assert "error: organisation:" in unnamed.output
    assert named.exit_code == 0, named.output
    with app.app_context():
        user_id = db.session.scalar(select(Station.user_id).where(Station.name == "Cart 4"))
        db.session.rollback()
    assert _organisation_of(app, User, id=user_id) == "Harbour Health"


def test_users_set_organisation_moves_an_account(app, runner, make_user, other_organisation):
    user = make_user(Role.REQUESTER)
    other_organisation("Harbour Health")

    moved = runner.invoke(
        args=[
            "users",
            "set-organisation",
            "--email",
            user.email,
            "--organisation",
            "Harbour Health",
        ]
    )

    assert moved.exit_code == 0, moved.output
    assert _organisation_of(app, User, id=user.id) == "Harbour Health"
