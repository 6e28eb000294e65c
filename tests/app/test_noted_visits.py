"""Which visits a member of staff keeps private notes on (GET /api/v1/notes): what the
provider's dashboard and the clinic schedule ask to offer "Private notes" only where
there are some. Only the caller's own notes count, and only on visits they may still see;
nothing any note says is in the answer, so asking is not audited."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Role, clinic_members
from tests.app.calls import audit_actions, book, make_clinic
from tests.app.helpers import assert_error


@pytest.fixture
def clinic(app, make_user, api):
    return make_clinic(app, make_user, api)


def test_a_provider_sees_the_visits_they_keep_notes_on_latest_first(api, clinic):
    first = book(api, clinic, "Jo Bloggs")
    second = book(api, clinic, "Ann Other", minutes_ahead=60)
    untouched = book(api, clinic, "Nobody Noted", minutes_ahead=90)
    colleague = api.token(clinic.colleague)
    api.post(f"/visits/{first}/notes", clinic.p, json={"text": "One"})
    api.post(f"/visits/{second}/notes", clinic.p, json={"text": "Two"})
    api.post(f"/visits/{first}/notes", clinic.p, json={"text": "Three"})
    api.post(f"/visits/{second}/notes", colleague, json={"text": "The colleague's"})

    noted = api.get("/notes", clinic.p).get_json()

    assert [(n["visit_id"], n["count"], n["patient"]) for n in noted] == [
        (first, 2, "Jo Bloggs"),
        (second, 1, "Ann Other"),
    ]
    assert set(noted[0]) == {
        "visit_id", "count", "last_written_at", "clinic_id", "state", "starts_at", "patient",
        "service",
    }  # fmt: skip
    assert "One" not in str(noted) and "Three" not in str(noted)
    assert [(n["visit_id"], n["count"]) for n in api.get("/notes", colleague).get_json()] == [
        (second, 1)
    ]
    # The rows a schedule shows: only those.
    asked = api.get(f"/notes?visit_id={second},{untouched}", clinic.p).get_json()
    assert [(n["visit_id"], n["count"]) for n in asked] == [(second, 1)]


def test_asking_which_visits_have_notes_is_not_a_reading_of_them(app, api, clinic):
    visit_id = book(api, clinic)
    api.post(f"/visits/{visit_id}/notes", clinic.p, json={"text": "Private"})

    api.get("/notes", clinic.p)
    api.get(f"/notes?visit_id={visit_id}", clinic.p)

    assert [a[0] for a in audit_actions(app, visit_id) if a[0].startswith("note")] == ["note_add"]


def test_notes_on_a_visit_of_a_clinic_the_provider_left_are_not_listed(app, api, clinic):
    visit_id = book(api, clinic)
    colleague = api.token(clinic.colleague)
    api.post(f"/visits/{visit_id}/notes", colleague, json={"text": "Before moving on"})
    with app.app_context():
        db.session.execute(
            clinic_members.delete().where(clinic_members.c.user_id == clinic.colleague.id)
        )
        db.session.commit()

    assert api.get("/notes", colleague).get_json() == []


@pytest.mark.parametrize("asked", ["x", "1,,-2", "0", "99999999999", "1²", ",".join(["1"] * 201)])
def test_the_visits_asked_about_are_ids(api, clinic, asked):
    response = api.get(f"/notes?visit_id={asked}", clinic.p)

    assert "visit_id" in assert_error(response, 422, "invalid")["fields"]


def test_a_requester_keeps_no_notes_to_list(api, make_user):
    requester = api.token(make_user(Role.REQUESTER))

    assert_error(api.get("/notes", requester), 403)
