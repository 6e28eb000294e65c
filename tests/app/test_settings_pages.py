"""My meeting room (a provider's external room, the telehealth connector) as pages: the
settings form with the service's per-field errors, CSRF, providers only; booking a visit
in the host's room through the invite form; Join telehealth session's redirect to the
host link; and the schedule page's masked contact hints for the link-sending actions."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ExternalRoom, Role, Visit
from app.services import clinics
from tests.app.helpers import assert_no_trace
from tests.app.test_pages import embedded
from tests.conftest import Auth

LONDON = ZoneInfo("Europe/London")
PAGE = "/settings/external-room"
HOST_URL = "https://meet.example.com/host/dr-okafor?key=abc"
GUEST_URL = "https://meet.example.com/room/dr-okafor"


@pytest.fixture
def team(app, make_user):
    """A London clinic with two providers (Dr. Okafor registers a room) and a scheduler."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    scheduler = make_user(Role.SCHEDULER, name="Sam Scheduler")
    with app.app_context():
        clinic = clinics.create_clinic("Wound care", "Riverside Health", "Europe/London")
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


def csrf_of(client, path: str = PAGE) -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def error_for(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    assert found, f"no error shown for {field_id}"
    return html.unescape(found.group(1))


def room_of(app, user) -> tuple[str, str, str] | None:
    with app.app_context():
        room = db.session.scalar(select(ExternalRoom).where(ExternalRoom.provider_id == user.id))
        found = (room.label, room.host_url, room.guest_url) if room else None
        db.session.rollback()
        return found


def save_room(client, **changes):
    data = {
        "csrf_token": csrf_of(client),
        "label": "Zoom room",
        "host_url": HOST_URL,
        "guest_url": GUEST_URL,
        **changes,
    }
    return client.post(PAGE, data=data)


def visits_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Visit.id)))


def invite(client, team, **changes):
    tomorrow = (datetime.now(LONDON) + timedelta(days=1)).date().isoformat()
    data = {
        "csrf_token": csrf_of(client, f"/clinics/{team.id}/invite"),
        "host_id": str(team.provider.id),
        "date": tomorrow,
        "time": "09:30",
        "duration_minutes": "15",
        "patient_name": "Jo Bloggs",
        "patient_email": "jo@example.org",
        "patient_mobile": "",
        "patient_mrn": "",
        **changes,
    }
    return client.post(f"/clinics/{team.id}/invite", data=data)


# The settings page ---------------------------------------------------------------------


def test_a_provider_registers_their_meeting_room_and_the_page_shows_it(app, team):
    client = signed_in(app, team.provider)
    empty = client.get(PAGE).get_data(as_text=True)
    assert "Register your room" in empty
    assert ">Remove</button>" not in empty

    response = save_room(client)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Your meeting room is saved." in page
    assert "Change your room" in page and ">Remove</button>" in page
    assert html.escape(HOST_URL) in page and GUEST_URL in page
    assert room_of(app, team.provider) == ("Zoom room", HOST_URL, GUEST_URL)


def test_saving_again_changes_the_room(app, team):
    client = signed_in(app, team.provider)
    save_room(client)

    save_room(client, label="Teams room", guest_url="https://teams.example.com/r/okafor")

    assert room_of(app, team.provider) == (
        "Teams room",
        HOST_URL,
        "https://teams.example.com/r/okafor",
    )


def test_links_that_are_not_https_are_refused_on_their_fields_and_kept_as_typed(app, team):
    client = signed_in(app, team.provider)

    response = save_room(client, host_url="http://meet.example.com/h", guest_url="")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_for(page, "host_url") == "Enter an https:// link."
    assert error_for(page, "guest_url") == "Enter the link."
    assert 'value="http://meet.example.com/h"' in page
    assert "Your meeting room was not saved" in page
    assert '<a href="#host_url">Enter an https:// link.</a>' in page
    assert page.count('aria-invalid="true"') == 2
    assert "<title>Error: My meeting room" in page
    assert room_of(app, team.provider) is None


def test_a_link_with_a_control_character_is_refused_not_stored(app, team):
    # PostgreSQL cannot store a NUL: before, the page was a 500 there.
    client = signed_in(app, team.provider)

    response = save_room(client, host_url=HOST_URL + "\x00", guest_url=GUEST_URL + "\n1")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_for(page, "host_url") == "Enter an https:// link."
    assert error_for(page, "guest_url") == "Enter an https:// link."
    assert room_of(app, team.provider) is None


def test_the_settings_form_needs_its_csrf_token(app, team):
    client = signed_in(app, team.provider)

    response = client.post(PAGE, data={"host_url": HOST_URL, "guest_url": GUEST_URL})

    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert room_of(app, team.provider) is None


def test_remove_forgets_the_room_and_a_second_remove_says_there_is_none(app, team):
    client = signed_in(app, team.provider)
    save_room(client)

    token = csrf_of(client)
    first = client.post(f"{PAGE}/remove", data={"csrf_token": token})
    assert first.status_code == 302
    assert room_of(app, team.provider) is None
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Your meeting room is removed." in page
    assert "Register your room" in page

    again = client.post(f"{PAGE}/remove", data={"csrf_token": token})
    assert again.status_code == 302
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "You have no meeting room registered." in page
    assert "Your meeting room is removed." not in page


def test_remove_needs_its_csrf_token(app, team):
    client = signed_in(app, team.provider)
    save_room(client)

    response = client.post(f"{PAGE}/remove")

    assert response.status_code == 400
    assert room_of(app, team.provider) is not None


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.ADMIN, Role.REQUESTER])
def test_only_providers_have_a_meeting_room_page(app, make_user, role):
    client = signed_in(app, make_user(role))

    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/remove", data={"csrf_token": csrf_of(client, "/")}).status_code == (
        403
    )
    assert "My meeting room" not in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_signed_out_the_page_asks_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


# Booking in the room through the invite form --------------------------------------------


def test_the_invite_form_books_a_visit_in_the_hosts_meeting_room(app, team):
    save_room(signed_in(app, team.provider))
    client = signed_in(app, team.scheduler)
    form = client.get(f"/clinics/{team.id}/invite").get_data(as_text=True)
    assert "Hold it in the host&#39;s external meeting room" in form
    assert "Registered now: Dr. Ada Okafor." in form

    response = invite(client, team, external="y")

    assert response.status_code == 302
    with app.app_context():
        visit = db.session.scalar(select(Visit))
        assert visit.external_room is not None
        assert visit.external_room.guest_url == GUEST_URL


def test_holding_a_visit_in_a_room_the_host_has_not_registered_is_refused_on_the_form(app, team):
    client = signed_in(app, team.scheduler)

    response = invite(client, team, host_id=str(team.colleague.id), external="y")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_for(page, "external") == "The host has no external meeting room registered."
    assert '<a href="#external">' in page
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="external"', page) or re.search(
        r'<input[^>]*id="external"[^>]*aria-invalid="true"', page
    )
    assert visits_count(app) == 0


def test_without_the_option_a_visit_is_held_here(app, team):
    save_room(signed_in(app, team.provider))
    client = signed_in(app, team.scheduler)

    assert invite(client, team).status_code == 302

    with app.app_context():
        assert db.session.scalar(select(Visit)).external_room is None


# Join telehealth session ----------------------------------------------------------------


def booked_visit(app, team, **changes) -> int:
    assert invite(signed_in(app, team.scheduler), team, **changes).status_code == 302
    with app.app_context():
        return db.session.scalar(select(Visit.id).order_by(Visit.id.desc()))


def test_join_telehealth_session_opens_the_host_link_of_an_external_visit(app, team):
    save_room(signed_in(app, team.provider))
    visit_id = booked_visit(app, team, external="y")

    response = signed_in(app, team.colleague).get(f"/visits/{visit_id}/telehealth")

    assert response.status_code == 302
    assert response.headers["Location"] == HOST_URL


def test_join_telehealth_session_of_a_visit_held_here_opens_its_room(app, team):
    visit_id = booked_visit(app, team)

    response = signed_in(app, team.provider).get(f"/visits/{visit_id}/telehealth")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/visits/{visit_id}")


@pytest.mark.parametrize("path", ["/visits/{id}/telehealth", "/visits/424242/telehealth"])
def test_another_clinics_visit_has_no_telehealth_link_for_you(app, team, make_user, path):
    visit_id = booked_visit(app, team)
    stranger = signed_in(app, make_user(Role.PROVIDER))

    response = stranger.get(path.format(id=visit_id))

    assert response.status_code == 404
    assert "meet.example.com" not in response.headers.get("Location", "")
    assert_no_trace(response)


# The schedule page's contact hints ------------------------------------------------------


def test_the_schedule_page_says_how_each_patient_can_be_reached_without_the_addresses(app, team):
    visit_id = booked_visit(
        app, team, patient_email="jo.bloggs@example.org", patient_mobile="+44 7911 123456"
    )
    email_only = booked_visit(app, team, patient_name="Sam Smith", patient_email="sam@example.org")
    day = (datetime.now(LONDON) + timedelta(days=1)).date().isoformat()

    response = signed_in(app, team.scheduler).get(f"/clinics/{team.id}/schedule?date={day}")

    contacts = embedded(response, "page-config")["contacts"]
    assert contacts == {
        str(visit_id): {"email": "jo.bloggs@…", "sms": "…3456"},
        str(email_only): {"email": "sam@…", "sms": None},
    }
    page = response.get_data(as_text=True)
    assert "jo.bloggs@example.org" not in page and "7911123456" not in page
