"""A snapshot of a participant's camera, only with their consent: the host asks, the
patient allows or denies, the page sends the frame, staff view and download it; who may
do what, and the audit trail of every step."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.models import CameraSnapshot
from tests.app.calls import (
    audit_actions,
    book,
    guest_browser,
    in_call,
    make_clinic,
    received,
    staff_browser,
)


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, red) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def clinic(app, make_user, api):
    return make_clinic(app, make_user, api)


@pytest.fixture
def call(app, api, clinic, socket_client):
    return in_call(app, api, clinic, socket_client)


def ask(call) -> dict:
    answer = call.host.socket.emit(
        "request_snapshot",
        {"visit_id": call.visit_id, "participant_id": call.guest.participant_id},
        callback=True,
    )
    assert "snapshot" in answer, answer
    return answer["snapshot"]


def answer(call, snapshot_id: int, allow: bool) -> dict:
    return call.guest.socket.emit(
        "answer_snapshot",
        {"visit_id": call.visit_id, "snapshot_id": snapshot_id, "allow": allow},
        callback=True,
    )


def fetch(client, url: str):
    """GET a file answer, read and closed (send_file keeps the file open until then)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def send_frame(call, snapshot_id: int, data: bytes, name="frame.png"):
    return call.guest.client.post(
        f"/visits/{call.visit_id}/snapshots/{snapshot_id}",
        data={"file": (io.BytesIO(data), name)},
        headers={"X-CSRFToken": call.guest.csrf, "Accept": "application/json"},
        content_type="multipart/form-data",
    )


def test_the_patient_is_asked_and_allowing_saves_the_frame_for_the_provider(app, call):
    snapshot = ask(call)
    assert snapshot["state"] == "requested"
    [asked] = received(call.guest.socket, "snapshot_requested")
    assert asked == {
        "visit_id": call.visit_id,
        "snapshot_id": snapshot["id"],
        "by": "Dr. Ada Okafor",
    }

    assert answer(call, snapshot["id"], True)["snapshot"]["state"] == "allowed"
    [told] = received(call.host.socket, "snapshot_answered")
    assert (told["state"], told["name"]) == ("allowed", "Jo Bloggs")

    frame = png()
    sent = send_frame(call, snapshot["id"], frame, name="anything.gif")
    assert sent.status_code == 201, sent.get_json()
    [saved] = received(call.host.socket, "snapshot_saved")
    assert saved["state"] == "saved"
    assert saved["url"] == f"/visits/{call.visit_id}/snapshots/{snapshot['id']}"

    viewed = fetch(call.host.client, saved["url"])
    assert viewed.status_code == 200
    assert viewed.data == frame
    assert viewed.mimetype == "image/png"
    assert viewed.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in viewed.headers.get("Content-Disposition", "")
    download = fetch(call.host.client, saved["url"] + "?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Disposition"].endswith(".png")
    with app.app_context():
        stored = db.session.get(CameraSnapshot, snapshot["id"])
        path = Path(app.config["ATTACHMENTS_DIR"]) / stored.stored_name
        assert path.read_bytes() == frame
        assert "static" not in path.parts
    actions = [a for a, _, _ in audit_actions(app, call.visit_id) if a.startswith("snapshot")]
    assert actions == [
        "snapshot_request",
        "snapshot_allowed",
        "snapshot_saved",
        "snapshot_view",
        "snapshot_view",
    ]


def test_denying_tells_the_provider_and_no_frame_can_be_sent(app, call):
    snapshot = ask(call)

    assert answer(call, snapshot["id"], False)["snapshot"]["state"] == "denied"

    [told] = received(call.host.socket, "snapshot_answered")
    assert told["state"] == "denied"
    refused = send_frame(call, snapshot["id"], png())
    assert refused.status_code == 409
    kinds = [(a, k) for a, k, _ in audit_actions(app, call.visit_id) if a.startswith("snapshot")]
    assert kinds == [("snapshot_request", "user"), ("snapshot_denied", "guest")]


def test_an_answer_counts_once(app, call):
    snapshot = ask(call)
    answer(call, snapshot["id"], False)

    again = answer(call, snapshot["id"], True)

    assert again["error"]["code"] == "conflict"
    with app.app_context():
        assert db.session.get(CameraSnapshot, snapshot["id"]).state == "denied"


def test_one_request_at_a_time_per_person(app, call):
    ask(call)

    second = call.host.socket.emit(
        "request_snapshot",
        {"visit_id": call.visit_id, "participant_id": call.guest.participant_id},
        callback=True,
    )

    assert second["error"]["code"] == "conflict"
    assert "Still waiting for Jo Bloggs" in second["error"]["message"]


def test_only_an_image_is_kept_whatever_its_name(app, call):
    snapshot = ask(call)
    answer(call, snapshot["id"], True)

    pdf = send_frame(call, snapshot["id"], b"%PDF-1.4\n%...\n", name="frame.png")

    assert pdf.status_code == 415
    with app.app_context():
        assert db.session.get(CameraSnapshot, snapshot["id"]).state == "allowed"
    assert send_frame(call, snapshot["id"], png()).status_code == 201


def test_a_frame_beyond_the_limit_is_413_and_leaves_nothing(app, call, monkeypatch):
    monkeypatch.setitem(app.config, "SNAPSHOT_MAX_BYTES", 200)
    snapshot = ask(call)
    answer(call, snapshot["id"], True)
    folder = Path(app.config["ATTACHMENTS_DIR"])
    before = set(folder.iterdir()) if folder.exists() else set()

    big = send_frame(call, snapshot["id"], png(64, 64) + b"\x00" * 400)

    assert big.status_code == 413
    assert set(folder.iterdir()) == before


def test_the_patient_cannot_ask_or_see_snapshots(app, api, call):
    refused = call.guest.socket.emit(
        "request_snapshot",
        {"visit_id": call.visit_id, "participant_id": call.guest.participant_id},
        callback=True,
    )
    assert refused["error"]["code"] == "forbidden"
    snapshot = ask(call)
    answer(call, snapshot["id"], True)
    send_frame(call, snapshot["id"], png())

    looked = call.guest.client.get(f"/visits/{call.visit_id}/snapshots/{snapshot['id']}")

    assert looked.status_code == 403


def test_only_the_person_asked_answers_and_sends(app, api, clinic, call, socket_client):
    snapshot = ask(call)

    by_host = call.host.socket.emit(
        "answer_snapshot",
        {"visit_id": call.visit_id, "snapshot_id": snapshot["id"], "allow": True},
        callback=True,
    )

    assert by_host["error"]["code"] == "not_found"


def test_colleagues_in_the_clinic_see_snapshots_and_strangers_do_not(
    app, api, make_user, clinic, call
):
    snapshot = ask(call)
    answer(call, snapshot["id"], True)
    send_frame(call, snapshot["id"], png())
    url = f"/visits/{call.visit_id}/snapshots/{snapshot['id']}"

    assert fetch(staff_browser(app, clinic.colleague), url).status_code == 200
    listed = api.get(f"/visits/{call.visit_id}/snapshots", api.token(clinic.colleague))
    assert [s["state"] for s in listed.get_json()] == ["saved"]
    stranger = make_user(role="provider", name="Dr. Elsewhere")
    assert staff_browser(app, stranger).get(url).status_code == 404
    assert api.get(f"/visits/{call.visit_id}/snapshots", api.token(stranger)).status_code == 404
    # Nor does the patient of another visit.
    other = guest_browser(app, book(api, clinic, "Max Other"))
    assert other.client.get(url).status_code == 404


def test_nobody_asks_for_someone_not_in_the_call(app, api, clinic, call):
    call.guest.socket.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)

    response = api.post(
        f"/visits/{call.visit_id}/participants/{call.guest.participant_id}/snapshot", clinic.p
    )

    assert response.status_code == 409


def test_the_api_asks_too(app, api, clinic, call):
    response = api.post(
        f"/visits/{call.visit_id}/participants/{call.guest.participant_id}/snapshot", clinic.p
    )

    assert response.status_code == 201
    assert response.get_json()["state"] == "requested"
    assert len(received(call.guest.socket, "snapshot_requested")) == 1


def test_a_request_left_unfinished_lapses_so_the_host_can_ask_again(app, call):
    first = ask(call)
    answer(call, first["id"], True)  # allowed, but the frame never comes (the page closed)
    with app.app_context():
        row = db.session.get(CameraSnapshot, first["id"])
        row.requested_at = row.requested_at - timedelta(minutes=3)
        db.session.commit()

    second = ask(call)

    assert second["id"] != first["id"]
    with app.app_context():
        assert db.session.get(CameraSnapshot, first["id"]).state == "expired"
    assert send_frame(call, first["id"], png()).status_code == 409
