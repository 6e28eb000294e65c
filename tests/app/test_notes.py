"""Private notes: a member of staff writes notes on a visit that only they ever read,
during the visit and after it, over the JSON API and the room page's Socket.IO; guests,
requesters and strangers keep none; writing and reading are audited."""

from __future__ import annotations

import pytest

from app.models import Role
from tests.app.calls import audit_actions, book, in_call, make_clinic, staff_browser
from tests.app.helpers import assert_error


@pytest.fixture
def clinic(app, make_user, api):
    return make_clinic(app, make_user, api)


@pytest.fixture
def call(app, api, clinic, socket_client):
    return in_call(app, api, clinic, socket_client)


def test_a_provider_keeps_notes_that_only_they_read(api, clinic, call):
    url = f"/visits/{call.visit_id}/notes"
    colleague = api.token(clinic.colleague)

    added = api.post(url, clinic.p, json={"text": "Wound 2 cm, clean edges.\nReview in a week."})
    api.post(url, colleague, json={"text": "Colleague's own thought"})

    assert added.status_code == 201
    note = added.get_json()
    assert note["text"] == "Wound 2 cm, clean edges.\nReview in a week."
    assert set(note) == {"id", "visit_id", "text", "written_at"}
    assert api.get(url, clinic.p).get_json() == [note]
    assert [n["text"] for n in api.get(url, colleague).get_json()] == ["Colleague's own thought"]
    assert api.get(url, api.token(clinic.scheduler)).get_json() == []


def test_notes_over_the_room_pages_socket_reach_nobody_else(app, call):
    ack = call.host.socket.emit(
        "note_add", {"visit_id": call.visit_id, "text": "Anxious about the dressing"}, callback=True
    )
    history = call.host.socket.emit("note_history", {"visit_id": call.visit_id}, callback=True)

    assert ack["ok"] is True
    assert history["notes"] == [ack["note"]]
    # Nothing about it reaches the call, the patient least of all.
    for socket in (call.guest.socket, call.host.socket):
        assert [e for e in socket.get_received() if "Anxious" in str(e["args"])] == []


def test_guests_keep_and_read_no_notes(api, clinic, call):
    api.post(f"/visits/{call.visit_id}/notes", clinic.p, json={"text": "Provider only"})

    for event in ("note_history", "note_add"):
        ack = call.guest.socket.emit(event, {"visit_id": call.visit_id, "text": "x"}, callback=True)
        assert ack["error"]["code"] == "forbidden"
    assert call.guest.client.get(f"/api/v1/visits/{call.visit_id}/notes").status_code == 401


def test_a_requester_in_an_on_demand_session_keeps_no_notes(api, make_user):
    provider = make_user(Role.PROVIDER, available=True)
    requester = api.token(make_user(Role.REQUESTER))
    request = api.post("/requests", requester, json={"provider_id": provider.id}).get_json()
    visit_id = api.post(f"/requests/{request['id']}/accept", api.token(provider)).get_json()[
        "visit_id"
    ]

    assert_error(api.get(f"/visits/{visit_id}/notes", requester), 403, "forbidden")
    assert_error(
        api.post(f"/visits/{visit_id}/notes", requester, json={"text": "hi"}), 403, "forbidden"
    )


def test_another_clinic_or_visit_sees_no_notes(app, api, clinic, call, make_user, socket_client):
    url = f"/visits/{call.visit_id}/notes"
    stranger = api.token(make_user(Role.PROVIDER))
    other_host = make_user(Role.PROVIDER)
    other_socket = socket_client(flask_client=staff_browser(app, other_host))

    assert_error(api.get(url, stranger), 404, "not_found")
    assert_error(api.post(url, stranger, json={"text": "hi"}), 404, "not_found")
    ack = other_socket.emit("note_history", {"visit_id": call.visit_id}, callback=True)
    assert ack["error"]["code"] == "not_found"


def test_notes_outlive_the_visit(api, clinic, call):
    url = f"/visits/{call.visit_id}/notes"
    api.post(url, clinic.p, json={"text": "During"})
    api.post(f"/visits/{call.visit_id}/end", clinic.p)

    after = api.post(url, clinic.p, json={"text": "After: referred to dermatology"})

    assert after.status_code == 201
    assert [n["text"] for n in api.get(url, clinic.p).get_json()] == [
        "During",
        "After: referred to dermatology",
    ]


def test_a_scheduler_of_the_clinic_keeps_notes_on_a_visit_not_yet_started(api, clinic):
    visit_id = book(api, clinic, minutes_ahead=24 * 60)
    scheduler = api.token(clinic.scheduler)

    added = api.post(f"/visits/{visit_id}/notes", scheduler, json={"text": "Needs an interpreter"})

    assert added.status_code == 201
    assert [n["text"] for n in api.get(f"/visits/{visit_id}/notes", scheduler).get_json()] == [
        "Needs an interpreter"
    ]
    assert api.get(f"/visits/{visit_id}/notes", clinic.p).get_json() == []


@pytest.mark.parametrize("text", ["", " \n ", None, 7, "x" * 10_001])
def test_a_note_needs_some_text_of_a_sensible_length(api, clinic, call, text):
    response = api.post(f"/visits/{call.visit_id}/notes", clinic.p, json={"text": text})

    assert "text" in assert_error(response, 422, "invalid")["fields"]


def test_writing_and_reading_notes_is_audited_without_their_text(app, api, clinic, call):
    url = f"/visits/{call.visit_id}/notes"
    note = api.post(url, clinic.p, json={"text": "Confidential"}).get_json()
    api.get(url, clinic.p)

    entries = [a for a in audit_actions(app, call.visit_id) if a[0].startswith("note")]
    assert entries == [
        ("note_add", "user", {"note_id": note["id"]}),
        ("notes_read", "user", {}),
    ]
    assert "Confidential" not in str(audit_actions(app, call.visit_id))
