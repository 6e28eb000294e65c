"""Clinics and their schedule: who belongs, which day a visit falls on in the clinic's
zone, filters and search, and the live clinic stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.models import Role
from tests.app.helpers import assert_error, directory_of
from tests.conftest import Auth


@pytest.fixture
def admin(make_user, api):
    return api.token(make_user(Role.ADMIN))


@pytest.fixture
def team(app, api, admin, make_user):
    """A New York clinic with a provider (who takes on-demand requests) and a scheduler."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor", services=["General"], available=True)
    scheduler = make_user(Role.SCHEDULER, name="Sam Scheduler")
    clinic = api.post(
        "/clinics",
        admin,
        json={
            "name": "Harbour",
            "organisation": "Riverside Health",
            "timezone": "America/New_York",
        },
    ).get_json()
    for user in (provider, scheduler):
        assert (
            api.post(
                f"/clinics/{clinic['id']}/members", admin, json={"email": user.email}
            ).status_code
            == 201
        )
    return SimpleNamespace(
        clinic=clinic,
        provider=provider,
        scheduler=scheduler,
        p=api.token(provider),
        s=api.token(scheduler),
    )


def book(api, team, start: datetime, name="Jo Bloggs", mrn=None) -> dict:
    patient = {"name": name, "email": "jo@example.org"}
    if mrn:
        patient["mrn"] = mrn
    body = {"clinic_id": team.clinic["id"], "start": start.isoformat(), "patient": patient}
    response = api.post("/visits", team.p, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def day(api, team, date: str, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"date": date, **params}.items())
    response = api.get(f"/clinics/{team.clinic['id']}/schedule?{query}", team.s)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# Clinics --------------------------------------------------------------------------------


def test_an_admin_creates_a_clinic_with_its_organisation_and_time_zone(api, admin):
    response = api.post(
        "/clinics",
        admin,
        json={
            "name": "Wound care",
            "organisation": "Riverside Health",
            "timezone": "Europe/London",
        },
    )

    assert response.status_code == 201
    body = response.get_json()
    assert (body["name"], body["organisation"], body["timezone"]) == (
        "Wound care",
        "Riverside Health",
        "Europe/London",
    )
    assert body["members"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "organisation": "O", "timezone": "UTC"}, "name"),
        ({"name": "A", "organisation": "", "timezone": "UTC"}, "organisation"),
        ({"name": "A", "organisation": "O", "timezone": "Mars/Base"}, "timezone"),
        ({"name": "A", "organisation": "O", "timezone": 7}, "timezone"),
    ],
)
def test_a_clinic_needs_a_name_an_organisation_and_a_real_time_zone(api, admin, body, field):
    error = assert_error(api.post("/clinics", admin, json=body), 422, "invalid")

    assert field in error["fields"]


def test_clinic_names_are_unique(api, admin):
    body = {"name": "Twice", "organisation": "Riverside Health", "timezone": "UTC"}
    api.post("/clinics", admin, json=body)

    assert "name" in assert_error(api.post("/clinics", admin, json=body), 422)["fields"]


def test_an_admin_creates_clinics_only_in_their_own_organisation(api, admin, other_organisation):
    body = {"name": "Elsewhere", "organisation": other_organisation(), "timezone": "UTC"}

    error = assert_error(api.post("/clinics", admin, json=body), 422, "invalid")

    assert error["fields"] == {
        "organisation": "You create clinics in your organisation, Riverside Health."
    }
    assert api.get("/clinics", admin).get_json() == []


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.SCHEDULER, Role.REQUESTER])
def test_only_admins_create_clinics(api, make_user, role):
    body = {"name": "X", "organisation": "O", "timezone": "UTC"}

    assert_error(api.post("/clinics", api.token(make_user(role)), json=body), 403, "forbidden")


def test_only_providers_and_schedulers_join_a_clinic(api, admin, team, make_user):
    requester = make_user(Role.REQUESTER)
    url = f"/clinics/{team.clinic['id']}/members"

    assert (
        "email"
        in assert_error(api.post(url, admin, json={"email": requester.email}), 422)["fields"]
    )
    assert (
        "email" in assert_error(api.post(url, admin, json={"email": "no@one.org"}), 422)["fields"]
    )
    assert_error(api.post("/clinics/424242/members", admin, json={"email": "x"}), 404)


def test_people_see_only_their_own_clinics_and_admins_see_all(api, admin, team, make_user):
    stranger = api.token(make_user(Role.PROVIDER))

    assert [c["name"] for c in api.get("/clinics", team.s).get_json()] == ["Harbour"]
    assert api.get("/clinics", stranger).get_json() == []
    assert [c["name"] for c in api.get("/clinics", admin).get_json()] == ["Harbour"]
    members = api.get("/clinics", team.s).get_json()[0]["members"]
    assert {m["name"] for m in members} == {"Dr. Ada Okafor", "Sam Scheduler"}


# The schedule of a day -------------------------------------------------------------------

FUTURE_DAY = "2031-07-01"


def test_a_visit_falls_on_the_clinics_own_calendar_day(api, team):
    late_evening = datetime(2031, 7, 2, 2, 0, tzinfo=UTC)  # 22:00 on 1 July in New York
    book(api, team, late_evening)

    assert [v["scheduled_for"] for v in day(api, team, FUTURE_DAY)["visits"]] == [
        "2031-07-02T02:00:00Z"
    ]
    assert day(api, team, "2031-07-02")["visits"] == []


def test_a_day_lists_its_visits_by_start_time(api, team):
    noon = datetime(2031, 7, 1, 16, 0, tzinfo=UTC)
    book(api, team, noon, name="Late")
    book(api, team, noon - timedelta(hours=3), name="Early")

    names = [v["patient"]["name"] for v in day(api, team, FUTURE_DAY)["visits"]]
    assert names == ["Early", "Late"]


def test_search_finds_a_patient_by_part_of_the_name_or_the_whole_mrn(api, team):
    noon = datetime(2031, 7, 1, 16, 0, tzinfo=UTC)
    book(api, team, noon, name="Jo Bloggs", mrn="A-100")
    book(api, team, noon, name="Sam Smith", mrn="B-200")

    def found(q):
        return [v["patient"]["name"] for v in day(api, team, FUTURE_DAY, q=q)["visits"]]

    assert found("blog") == ["Jo Bloggs"]
    assert found("b-200") == ["Sam Smith"]
    assert found("B-2") == []  # an MRN is matched whole
    assert found("nobody") == []


def test_the_live_list_shows_on_demand_sessions_and_invites_the_booked_ones(api, team, make_user):
    book(api, team, datetime.now(UTC) + timedelta(minutes=2))
    requester = make_user(Role.REQUESTER, name="Riverside Station")
    r = api.token(requester)
    request_id = api.post("/requests", r, json={"provider_id": team.provider.id}).get_json()["id"]
    api.post(f"/requests/{request_id}/accept", team.p)
    response = api.get(f"/clinics/{team.clinic['id']}/schedule", team.s)  # today by default
    rows = response.get_json()["visits"]
    by_source = {v["source"]: v for v in rows}

    assert set(by_source) == {"request", "invite"}
    live = api.get(f"/clinics/{team.clinic['id']}/schedule?filter=live", team.s).get_json()
    assert [v["source"] for v in live["visits"]] == ["request"]
    assert live["visits"][0]["patient"]["name"] == "Riverside Station"
    invites = api.get(f"/clinics/{team.clinic['id']}/schedule?filter=invites", team.s)
    assert [v["source"] for v in invites.get_json()["visits"]] == ["invite"]


@pytest.mark.parametrize("query", ["date=2031-13-01", "date=yesterday", "filter=mine"])
def test_a_bad_date_or_filter_is_refused(api, team, query):
    response = api.get(f"/clinics/{team.clinic['id']}/schedule?{query}", team.s)

    assert_error(response, 422, "invalid")


def test_another_clinics_schedule_does_not_exist_for_you(api, team, make_user):
    stranger = api.token(make_user(Role.SCHEDULER))

    response = api.get(f"/clinics/{team.clinic['id']}/schedule", stranger)

    assert_error(response, 404, "not_found")


# Live ---------------------------------------------------------------------------------


def test_members_follow_their_clinic_stream_and_hear_each_booking(
    app, api, team, make_user, socket_client
):
    member = app.test_client()
    Auth(member).login(team.scheduler)
    sc = socket_client(flask_client=member)
    snapshots = {
        e["args"][0]["stream"]: e["args"][0] for e in sc.get_received() if e["name"] == "snapshot"
    }
    stream = f"clinic:{team.clinic['id']}"
    assert set(snapshots) == {directory_of(team.scheduler), stream}
    outsider = app.test_client()
    Auth(outsider).login(make_user(Role.SCHEDULER))
    other = socket_client(flask_client=outsider)
    other.get_received()

    row = book(api, team, datetime.now(UTC) + timedelta(hours=2))

    [event] = [e["args"][0] for e in sc.get_received() if e["name"] == "visit_updated"]
    assert (event["stream"], event["version"]) == (stream, snapshots[stream]["version"] + 1)
    assert (event["id"], event["status"]) == (row["id"], "scheduled")
    assert other.get_received() == []


def test_a_clinic_snapshot_carries_todays_rows(app, api, team, socket_client):
    row = book(api, team, datetime.now(UTC) + timedelta(minutes=30))
    member = app.test_client()
    Auth(member).login(team.provider)

    sc = socket_client(flask_client=member)

    [snapshot] = [
        e["args"][0]
        for e in sc.get_received()
        if e["name"] == "snapshot" and e["args"][0]["stream"].startswith("clinic:")
    ]
    assert [v["id"] for v in snapshot["data"]["visits"]] == [row["id"]]


# Tasks ----------------------------------------------------------------------------------


def test_a_task_on_a_visit_is_listed_for_the_clinic_until_closed(api, team, make_user):
    row = book(api, team, datetime.now(UTC) + timedelta(hours=3))

    created = api.post(f"/visits/{row['id']}/tasks", team.s, json={"text": "Send the results"})

    assert created.status_code == 201
    task = created.get_json()
    assert (task["text"], task["patient"], task["created_by"]) == (
        "Send the results",
        "Jo Bloggs",
        "Sam Scheduler",
    )
    listed = api.get(f"/clinics/{team.clinic['id']}/tasks", team.p).get_json()
    assert [t["id"] for t in listed] == [task["id"]]
    schedule_now = api.get(f"/visits/{row['id']}", team.s).get_json()
    assert schedule_now["open_tasks"] == 1

    closed = api.post(f"/tasks/{task['id']}/close", team.p)

    assert closed.get_json()["closed_by"] == "Dr. Ada Okafor"
    assert api.get(f"/clinics/{team.clinic['id']}/tasks", team.p).get_json() == []
    everything = api.get(f"/clinics/{team.clinic['id']}/tasks?all=1", team.p).get_json()
    assert [t["closed_at"] is not None for t in everything] == [True]
    assert_error(api.post(f"/tasks/{task['id']}/close", team.p), 409, "conflict")


@pytest.mark.parametrize("text", ["", "   ", "x" * 501, None])
def test_a_task_needs_some_text(api, team, text):
    row = book(api, team, datetime.now(UTC) + timedelta(hours=3))

    response = api.post(f"/visits/{row['id']}/tasks", team.s, json={"text": text})

    assert "text" in assert_error(response, 422, "invalid")["fields"]


def test_another_clinics_tasks_do_not_exist_for_you(api, team, make_user):
    row = book(api, team, datetime.now(UTC) + timedelta(hours=3))
    task = api.post(f"/visits/{row['id']}/tasks", team.s, json={"text": "Call back"}).get_json()
    stranger = api.token(make_user(Role.SCHEDULER))

    assert_error(api.post(f"/visits/{row['id']}/tasks", stranger, json={"text": "x"}), 404)
    assert_error(api.post(f"/tasks/{task['id']}/close", stranger), 404)
    assert_error(api.get(f"/clinics/{team.clinic['id']}/tasks", stranger), 404)


@pytest.mark.parametrize("action", ["cancel", "complete"])
def test_an_on_demand_session_is_not_cancelled_or_completed_from_the_schedule(
    api, team, make_user, action
):
    requester = api.token(make_user(Role.REQUESTER))
    request_id = api.post("/requests", requester, json={"provider_id": team.provider.id})
    accepted = api.post(f"/requests/{request_id.get_json()['id']}/accept", team.p).get_json()

    response = api.post(f"/visits/{accepted['visit_id']}/{action}", team.s)

    assert assert_error(response, 409, "conflict")["state"] == "open"


def test_search_takes_percent_and_underscore_as_typed(api, team):
    noon = datetime(2031, 7, 1, 16, 0, tzinfo=UTC)
    book(api, team, noon, name="Ann 100% Smith")
    book(api, team, noon, name="Bob Jones")

    def found(q):
        return [v["patient"]["name"] for v in day(api, team, FUTURE_DAY, q=q)["visits"]]

    assert found("%25") == ["Ann 100% Smith"]  # "%" in the URL
    assert found("_") == []


def test_a_failed_email_is_not_hidden_by_an_sms_that_arrived(app, api, team, mailbox):
    from app.services.jobs import run_due

    body = {
        "clinic_id": team.clinic["id"],
        "start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "patient": {"name": "Jo", "email": "jo@example.org", "mobile": "+44 7911 123456"},
    }
    visit_id = api.post("/visits", team.p, json=body).get_json()["id"]
    mailbox.down = True
    with app.app_context():
        run_due()

    [patient] = api.get(f"/visits/{visit_id}", team.s).get_json()["participants"]

    assert patient["delivery"]["state"] == "pending"
    assert patient["delivery"]["channels"]["sms"]["state"] == "sent"
    assert patient["delivery"]["channels"]["email"]["state"] == "pending"
    assert "451" in patient["delivery"]["channels"]["email"]["error"]
