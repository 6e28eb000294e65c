"""The chat of a call: people in the call write to everyone in it, over Socket.IO and the
JSON API; it is kept with the visit, delivered live, read again on (re)connect; nobody
outside the visit (or removed from it) reads or writes it; all of it audited."""

from __future__ import annotations

import pytest

from app.models import Role
from tests.app.calls import (
    audit_actions,
    book,
    guest_browser,
    in_call,
    make_clinic,
    received,
    set_presence,
    staff_browser,
)
from tests.app.helpers import assert_error


@pytest.fixture
def clinic(app, make_user, api):
    return make_clinic(app, make_user, api)


@pytest.fixture
def call(app, api, clinic, socket_client):
    return in_call(app, api, clinic, socket_client)


def test_the_patient_writes_and_the_provider_gets_it_live(app, call):
    ack = call.guest.socket.emit(
        "chat_send",
        {"visit_id": call.visit_id, "text": "  The rash is \u202eworse\n"},
        callback=True,
    )

    assert ack["ok"] is True
    message = ack["message"]
    assert message["text"] == "The rash is worse"  # trimmed, the bidi override removed
    assert message["author"] == {
        "participant_id": call.guest.participant_id,
        "name": "Jo Bloggs",
        "role": "patient",
    }
    assert "attachment" not in message
    assert received(call.host.socket, "chat_message") == [message]


def test_the_chat_is_kept_and_read_again_on_reconnect_and_over_the_api(
    app, api, clinic, call, socket_client
):
    call.guest.socket.emit("chat_send", {"visit_id": call.visit_id, "text": "Hello"}, callback=True)
    posted = api.post(f"/visits/{call.visit_id}/messages", clinic.p, json={"text": "Good morning"})
    assert posted.status_code == 201
    assert posted.get_json()["author"]["name"] == "Dr. Ada Okafor"
    [live] = received(call.guest.socket, "chat_message")[-1:]
    assert live == posted.get_json()

    reconnected = socket_client(flask_client=call.guest.client)
    history = reconnected.emit("chat_history", {"visit_id": call.visit_id}, callback=True)
    listed = api.get(f"/visits/{call.visit_id}/messages", clinic.p)

    assert [m["text"] for m in history["messages"]] == ["Hello", "Good morning"]
    assert listed.status_code == 200
    assert listed.get_json() == history["messages"]
    first = listed.get_json()[0]
    assert set(first) == {"id", "visit_id", "author", "text", "sent_at"}
    assert first["sent_at"].endswith("Z")


def test_someone_still_waiting_reads_but_cannot_write(app, api, clinic, socket_client):
    visit_id = book(api, clinic)
    guest = guest_browser(app, visit_id)
    socket = socket_client(flask_client=guest.client)
    assert socket.emit("join_visit", {"visit_id": visit_id}, callback=True)["presence"] == "waiting"
    # The host may write before entering the call.
    assert (
        api.post(f"/visits/{visit_id}/messages", clinic.p, json={"text": "Soon"}).status_code == 201
    )

    refused = socket.emit("chat_send", {"visit_id": visit_id, "text": "Hi"}, callback=True)
    history = socket.emit("chat_history", {"visit_id": visit_id}, callback=True)

    assert refused["error"]["code"] == "forbidden"
    assert [m["text"] for m in history["messages"]] == ["Soon"]
    assert received(socket, "chat_message") == []  # the call's chat is not the waiting room's


def test_another_visits_patient_and_another_clinic_see_nothing(
    app, api, clinic, call, make_user, socket_client
):
    call.guest.socket.emit(
        "chat_send", {"visit_id": call.visit_id, "text": "Private"}, callback=True
    )
    other_visit = book(api, clinic, patient="Max Other")
    other = socket_client(flask_client=guest_browser(app, other_visit).client)
    stranger = api.token(make_user(Role.PROVIDER))
    url = f"/visits/{call.visit_id}/messages"

    for event in ("chat_history", "chat_send"):
        ack = other.emit(event, {"visit_id": call.visit_id, "text": "hi"}, callback=True)
        assert ack["error"]["code"] == "not_found"
    assert_error(api.get(url, stranger), 404, "not_found")
    assert_error(api.post(url, stranger, json={"text": "hi"}), 404, "not_found")
    assert [m["text"] for m in api.get(url, clinic.p).get_json()] == ["Private"]


def test_a_removed_patient_can_neither_read_nor_write(app, call):
    set_presence(app, call.guest.participant_id, "removed")

    history = call.guest.socket.emit("chat_history", {"visit_id": call.visit_id}, callback=True)
    sent = call.guest.socket.emit(
        "chat_send", {"visit_id": call.visit_id, "text": "still here?"}, callback=True
    )

    assert history["error"]["code"] == "not_found"
    assert sent["error"]["code"] == "not_found"
    assert received(call.host.socket, "chat_message") == []


def test_clinic_staff_outside_the_call_read_it_but_do_not_write(app, api, clinic, call):
    call.guest.socket.emit("chat_send", {"visit_id": call.visit_id, "text": "Hello"}, callback=True)
    scheduler = api.token(clinic.scheduler)
    url = f"/visits/{call.visit_id}/messages"

    assert [m["text"] for m in api.get(url, scheduler).get_json()] == ["Hello"]
    assert_error(api.post(url, scheduler, json={"text": "Hi"}), 403, "forbidden")
    colleague = staff_browser(app, clinic.colleague)
    assert colleague.get(f"/api/v1{url}").status_code == 200  # a signed-in page, too


@pytest.mark.parametrize("text", ["", "   ", None, 7, "x" * 2001])
def test_a_message_needs_some_text_of_a_sensible_length(api, clinic, call, text):
    response = api.post(f"/visits/{call.visit_id}/messages", clinic.p, json={"text": text})

    error = assert_error(response, 422, "invalid")
    assert "text" in error["fields"]


def test_a_socket_message_without_text_is_refused(call):
    ack = call.guest.socket.emit("chat_send", {"visit_id": call.visit_id}, callback=True)
    assert ack["error"]["code"] == "invalid"
    assert call.guest.socket.emit("chat_send", {"text": "hi"}, callback=True)["error"]["code"] == (
        "invalid"
    )


def test_nobody_writes_once_the_visit_is_over_but_it_can_still_be_read(api, clinic, call):
    api.post(f"/visits/{call.visit_id}/messages", clinic.p, json={"text": "Take care"})
    assert api.post(f"/visits/{call.visit_id}/end", clinic.p).status_code == 200
    url = f"/visits/{call.visit_id}/messages"

    assert_error(api.post(url, clinic.p, json={"text": "One more thing"}), 409, "conflict")
    assert [m["text"] for m in api.get(url, clinic.p).get_json()] == ["Take care"]


def test_writing_and_reading_the_chat_is_audited(app, api, clinic, call):
    call.guest.socket.emit("chat_send", {"visit_id": call.visit_id, "text": "Hi"}, callback=True)
    posted = api.post(f"/visits/{call.visit_id}/messages", clinic.p, json={"text": "Hello"})
    call.guest.socket.emit("chat_history", {"visit_id": call.visit_id}, callback=True)

    chat = [a for a in audit_actions(app, call.visit_id) if a[0].startswith("chat_")]
    assert [(action, kind) for action, kind, _ in chat] == [
        ("chat_message", "guest"),
        ("chat_message", "user"),
        ("chat_read", "guest"),
    ]
    assert chat[1][2] == {"message_id": posted.get_json()["id"]}
    assert "Hello" not in str(chat)  # the trail names the message, it does not copy it
