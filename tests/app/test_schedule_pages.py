"""The schedule pages: the day's page with its embedded rows and stream version, the
invite form (the service's field errors on their fields, nothing saved), the task list,
the top bar's links, and that nobody outside a clinic finds any of it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, Visit
from app.services import clinics
from tests.app.helpers import assert_no_trace
from tests.app.test_pages import embedded
from tests.conftest import Auth

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def team(app, make_user):
    """A New York clinic with two providers and a scheduler."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    scheduler = make_user(Role.SCHEDULER, name="Sam Scheduler")
    with app.app_context():
        clinic = clinics.create_clinic("Harbour", "Riverside Health", "America/New_York")
        for user in (provider, colleague, scheduler):
            clinics.add_member(clinic.id, user.email)
        clinic_id = clinic.id
    return SimpleNamespace(
        id=clinic_id, provider=provider, colleague=colleague, scheduler=scheduler
    )


def signed_in(app, user):
    client = app.test_client()
    Auth(client).login(user)
    return client


def csrf_of(client, path: str) -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def visits_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Visit.id)))


def tomorrow_there() -> str:
    return (datetime.now(NEW_YORK) + timedelta(days=1)).date().isoformat()


def form_data(client, team, **changes) -> dict:
    data = {
        "csrf_token": csrf_of(client, f"/clinics/{team.id}/invite"),
        "host_id": str(team.provider.id),
        "date": tomorrow_there(),
        "time": "09:30",
        "duration_minutes": "20",
        "patient_name": "Jo Bloggs",
        "patient_email": "jo@example.org",
        "patient_mobile": "",
        "patient_mrn": "A-100",
    }
    data.update(changes)
    return data


def error_for(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    assert found, f"no error shown for {field_id}"
    return html.unescape(found.group(1))


# The schedule page ----------------------------------------------------------------------


def test_the_schedule_page_embeds_the_days_rows_and_the_version_they_were_read_at(app, team):
    client = signed_in(app, team.scheduler)
    day = tomorrow_there()
    start = datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=NEW_YORK)
    book = form_data(client, team, time="10:00")
    assert client.post(f"/clinics/{team.id}/invite", data=book).status_code == 302

    response = client.get(f"/clinics/{team.id}/schedule?date={day}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Harbour" in page and "America/New_York" in page
    [snapshot] = embedded(response, "snapshots")
    assert snapshot["stream"] == f"clinic:{team.id}"
    assert snapshot["version"] >= 1  # the booking advanced it
    assert snapshot["data"]["date"] == day
    [row] = snapshot["data"]["visits"]
    assert row["patient"]["name"] == "Jo Bloggs"
    assert row["scheduled_for"] == start.astimezone(UTC).isoformat().replace("+00:00", "Z")
    config = embedded(response, "page-config")
    assert config["clinic"]["timezone"] == "America/New_York"
    assert (config["date"], config["filter"], config["q"]) == (day, "all", "")
    assert config["me"]["role"] == "scheduler"


def test_the_schedule_page_passes_its_filter_and_search_to_the_rows(app, team):
    client = signed_in(app, team.scheduler)
    day = tomorrow_there()
    for name, mrn, time in (("Jo Bloggs", "A-1", "09:00"), ("Sam Smith", "B-2", "10:00")):
        data = form_data(client, team, patient_name=name, patient_mrn=mrn, time=time)
        assert client.post(f"/clinics/{team.id}/invite", data=data).status_code == 302

    def names(query: str) -> list[str]:
        response = client.get(f"/clinics/{team.id}/schedule?date={day}&{query}")
        return [r["patient"]["name"] for r in embedded(response, "snapshots")[0]["data"]["visits"]]

    assert names("") == ["Jo Bloggs", "Sam Smith"]
    assert names("q=smi") == ["Sam Smith"]
    assert names("q=a-1") == ["Jo Bloggs"]
    assert names("q=smi%00") == ["Sam Smith"]  # a NUL is cleaned away (a 500 on PostgreSQL)
    assert names("filter=live") == []
    assert names("filter=invites") == ["Jo Bloggs", "Sam Smith"]
    # An unknown filter shows everything rather than an error page.
    assert names("filter=mine") == ["Jo Bloggs", "Sam Smith"]


def test_a_day_that_is_not_a_date_is_a_clear_400(app, team):
    client = signed_in(app, team.provider)

    response = client.get(f"/clinics/{team.id}/schedule?date=tomorrow")

    assert response.status_code == 400
    assert "2026-03-05" in response.get_data(as_text=True)
    assert_no_trace(response)


def test_schedule_opens_the_users_first_clinic(app, team):
    client = signed_in(app, team.provider)

    response = client.get("/schedule")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/clinics/{team.id}/schedule")
    assert client.get("/tasks").headers["Location"].endswith(f"/clinics/{team.id}/tasks")


def test_someone_in_no_clinic_is_told_so(app, make_user):
    client = signed_in(app, make_user(Role.SCHEDULER))

    response = client.get("/schedule")

    assert response.status_code == 200
    assert "You are not in a clinic yet" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        "/clinics/{id}/schedule",
        "/clinics/{id}/schedule?date=2031-07-01",
        "/clinics/{id}/invite",
        "/clinics/{id}/tasks",
        "/clinics/424242/schedule",
    ],
)
def test_another_clinics_pages_do_not_exist_for_you(app, team, make_user, path):
    client = signed_in(app, make_user(Role.PROVIDER))

    response = client.get(path.format(id=team.id))

    assert response.status_code == 404
    assert "Harbour" not in response.get_data(as_text=True)
    assert_no_trace(response)


def test_a_stranger_cannot_book_into_another_clinic(app, team, make_user):
    stranger = make_user(Role.SCHEDULER)
    client = signed_in(app, stranger)
    data = form_data(signed_in(app, team.scheduler), team)
    data["csrf_token"] = csrf_of(client, "/schedule")

    response = client.post(f"/clinics/{team.id}/invite", data=data)

    assert response.status_code == 404
    assert visits_count(app) == 0


def test_requesters_have_no_schedule(app, team, make_user):
    client = signed_in(app, make_user(Role.REQUESTER))

    assert client.get(f"/clinics/{team.id}/schedule").status_code == 403
    assert client.get("/schedule").status_code == 403


def test_the_top_bar_links_staff_to_the_schedule_and_tasks(app, team, make_user):
    provider_page = signed_in(app, team.provider).get("/provider").get_data(as_text=True)
    scheduler_page = signed_in(app, team.scheduler).get("/").get_data(as_text=True)
    requester_page = signed_in(app, make_user(Role.REQUESTER)).get("/requester")

    nav = re.search(r'<nav class="topnav".*?</nav>', provider_page, re.S).group(0)
    assert [html.unescape(t) for t in re.findall(r">([^<>]+)</a>", nav)] == [
        "Requests",
        "Schedule",
        "Tasks",
        "My meeting room",  # a provider's own external room (tests/app/test_settings_pages.py)
    ]
    nav = re.search(r'<nav class="topnav".*?</nav>', scheduler_page, re.S).group(0)
    assert re.findall(r">([^<>]+)</a>", nav) == ["Schedule", "Tasks"]
    assert "Open the clinic schedule" in scheduler_page  # the overview links to it too
    assert 'class="topnav"' not in requester_page.get_data(as_text=True)


# The invite form ------------------------------------------------------------------------


def test_the_invite_form_starts_with_the_provider_as_host_and_fifteen_minutes(app, team):
    page = signed_in(app, team.provider).get(f"/clinics/{team.id}/invite").get_data(as_text=True)

    assert re.search(rf'<option selected value="{team.provider.id}">', page)
    assert 'value="15"' in page
    assert "Choose a provider" not in page


def test_a_scheduler_must_choose_the_host(app, team):
    client = signed_in(app, team.scheduler)
    page = client.get(f"/clinics/{team.id}/invite").get_data(as_text=True)
    assert '<option selected value="">Choose a provider</option>' in page

    response = client.post(f"/clinics/{team.id}/invite", data=form_data(client, team, host_id=""))

    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "host_id") == (
        "Choose the provider who hosts the visit."
    )
    assert visits_count(app) == 0


def test_a_booking_converts_the_clinics_local_time_and_goes_to_that_day(app, team):
    client = signed_in(app, team.scheduler)
    day = tomorrow_there()

    response = client.post(
        f"/clinics/{team.id}/invite",
        data=form_data(
            client,
            team,
            host_id=str(team.colleague.id),
            time="09:30",
            **{
                "participants-0-name": "Kim Lee",
                "participants-0-email": "kim@example.org",
                "participants-0-description": "Daughter",
            },
        ),
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/clinics/{team.id}/schedule?date={day}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invitation sent to Jo Bloggs and Kim Lee." in page
    with app.app_context():
        visit = db.session.scalar(select(Visit))
        local = datetime.fromisoformat(f"{day}T09:30").replace(tzinfo=NEW_YORK)
        assert visit.scheduled_for == local.astimezone(UTC)
        assert visit.duration_minutes == 20
        assert visit.host_id == team.colleague.id
        assert {(p.role, p.display_name, p.description) for p in visit.participants} == {
            ("host", "Dr. Ben Lindqvist", None),
            ("patient", "Jo Bloggs", None),
            ("guest", "Kim Lee", "Daughter"),
        }


def test_bad_input_shows_each_error_on_its_field_and_keeps_what_was_typed(app, team):
    client = signed_in(app, team.scheduler)
    yesterday = (datetime.now(NEW_YORK) - timedelta(days=1)).date().isoformat()
    data = form_data(
        client,
        team,
        date=yesterday,
        duration_minutes="2",
        patient_email="not-an-email",
        patient_name="Jo <Bloggs>",
        **{
            # An empty extra participant (ADD pressed once too often) is dropped; the
            # numbers in the service's errors still point at the right one.
            "participants-0-name": "",
            "participants-1-name": "Kim Lee",
            "participants-1-mobile": "12",
        },
    )

    response = client.post(f"/clinics/{team.id}/invite", data=data)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_for(page, "start") == "Choose a time in the future."
    assert error_for(page, "duration_minutes") == "Choose between 5 and 480 minutes."
    assert error_for(page, "patient_email") == "Enter a valid email address."
    assert error_for(page, "participants-1-mobile").startswith("Enter a valid mobile number")
    assert 'id="participants-0-name-error"' not in page
    assert 'value="Jo &lt;Bloggs&gt;"' in page  # kept as typed (and escaped)
    assert 'value="not-an-email"' in page
    assert f'value="{yesterday}"' in page
    assert 'aria-invalid="true"' in page
    assert "The invitation was not sent" in page
    assert '<a href="#patient_email">' in page
    assert visits_count(app) == 0


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"patient_name": ""}, "patient_name", "Enter a name."),
        ({"patient_email": ""}, "patient_email", "Enter an email address or a mobile number."),
        ({"date": "", "time": ""}, "start", "Choose a date and time."),
        ({"time": "25:99"}, "start", "Choose a date and time."),
        ({"duration_minutes": "soon"}, "duration_minutes", "Choose between 5 and 480 minutes."),
        ({"duration_minutes": ""}, "duration_minutes", "Choose between 5 and 480 minutes."),
        ({"host_id": "99999"}, "host_id", "Choose a provider of this clinic."),
        ({"host_id": "x"}, "host_id", "Choose a provider of this clinic."),
    ],
)
def test_each_missing_or_unreadable_field_is_named(app, team, changes, field_id, message):
    client = signed_in(app, team.scheduler)

    response = client.post(f"/clinics/{team.id}/invite", data=form_data(client, team, **changes))

    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), field_id) == message
    assert visits_count(app) == 0


def test_add_without_javascript_grows_the_form_and_books_nothing(app, team):
    client = signed_in(app, team.scheduler)
    data = form_data(client, team, add_participant="1")

    page = client.post(f"/clinics/{team.id}/invite", data=data).get_data(as_text=True)

    assert 'name="participants-0-name"' in page
    assert 'value="Jo Bloggs"' in page
    assert visits_count(app) == 0


def test_the_invite_form_needs_its_csrf_token(app, team):
    client = signed_in(app, team.scheduler)
    data = form_data(client, team)
    del data["csrf_token"]

    response = client.post(f"/clinics/{team.id}/invite", data=data)

    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert visits_count(app) == 0


# Tasks ----------------------------------------------------------------------------------


@pytest.fixture
def task(app, team, api):
    """A visit tomorrow with one open task, written by the provider."""
    client = signed_in(app, team.scheduler)
    assert client.post(f"/clinics/{team.id}/invite", data=form_data(client, team)).status_code
    token = api.token(team.provider)
    with app.app_context():
        visit_id = db.session.scalar(select(Visit.id))
    response = api.post(f"/visits/{visit_id}/tasks", token, json={"text": "Send the results"})
    assert response.status_code == 201
    return response.get_json()


def test_the_task_list_shows_open_tasks_and_closes_one(app, team, task):
    client = signed_in(app, team.scheduler)
    page = client.get(f"/clinics/{team.id}/tasks").get_data(as_text=True)
    assert "Send the results" in page and "Jo Bloggs" in page and "Dr. Ada Okafor" in page
    assert "09:30" in page  # the visit's time, in the clinic's zone

    response = client.post(
        f"/clinics/{team.id}/tasks/{task['id']}/close",
        data={"csrf_token": csrf_of(client, "/schedule")},
    )

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Task closed: “Send the results”" in page
    assert "No open tasks" in page
    closed = client.get(f"/clinics/{team.id}/tasks?closed=1").get_data(as_text=True)
    assert "Send the results" in closed and "Closed by Sam Scheduler" in closed


def test_closing_a_closed_task_says_so(app, team, task):
    client = signed_in(app, team.scheduler)
    token = csrf_of(client, "/schedule")
    url = f"/clinics/{team.id}/tasks/{task['id']}/close"
    client.post(url, data={"csrf_token": token})

    response = client.post(url, data={"csrf_token": token}, follow_redirects=True)

    assert "This task is already closed." in response.get_data(as_text=True)


def test_closing_a_task_needs_its_csrf_token(app, team, task):
    client = signed_in(app, team.scheduler)

    response = client.post(f"/clinics/{team.id}/tasks/{task['id']}/close")

    assert response.status_code == 400
    page = client.get(f"/clinics/{team.id}/tasks").get_data(as_text=True)
    assert "Send the results" in page


def test_a_stranger_cannot_close_another_clinics_task(app, team, task, make_user):
    client = signed_in(app, make_user(Role.PROVIDER))
    token = csrf_of(client, "/schedule")

    response = client.post(
        f"/clinics/{team.id}/tasks/{task['id']}/close", data={"csrf_token": token}
    )

    assert response.status_code == 404
    page = signed_in(app, team.scheduler).get(f"/clinics/{team.id}/tasks")
    assert "Send the results" in page.get_data(as_text=True)
