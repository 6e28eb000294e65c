"""Files in the call's chat: their type told from their content (415 for anything not
allowed, whatever its name), a size limit (413), kept outside the web root under random
names, downloaded only by the visit's people and its clinic's staff, always as a
download; a failed upload or transaction leaves no file behind."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import segno
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app.extensions import db
from app.models import Attachment, ChatMessage, Role
from app.services import attachments, audit
from config import BASE_DIR, Config, ConfigError
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

JSON = {"Accept": "application/json"}
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    out = io.BytesIO()
    segno.make("Anteroom").save(out, kind="png", scale=4)
    return out.getvalue()


def zip_file() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not a letter")
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


@pytest.fixture(autouse=True)
def store(app, tmp_path, monkeypatch) -> Path:
    """Each test keeps its files in a folder of its own."""
    folder = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(folder))
    return folder


@pytest.fixture
def clinic(app, make_user, api):
    return make_clinic(app, make_user, api)


@pytest.fixture
def call(app, api, clinic, socket_client):
    return in_call(app, api, clinic, socket_client)


def send_as_guest(call, content: bytes, name: str, text: str | None = None, csrf: bool = True):
    data = {"file": (io.BytesIO(content), name)}
    if text is not None:
        data["text"] = text
    headers = {**JSON, **({"X-CSRFToken": call.guest.csrf} if csrf else {})}
    return call.guest.client.post(
        f"/visits/{call.visit_id}/attachments",
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )


def send_by_api(api, token, visit_id: int, content: bytes, name: str, **fields):
    return api.post(
        f"/visits/{visit_id}/messages",
        token,
        data={"file": (io.BytesIO(content), name), **fields},
        content_type="multipart/form-data",
    )


def closed(response):
    """An answer read whole and closed (a file download holds the file open until then)."""
    response.get_data()
    response.close()
    return response


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_the_patient_sends_a_photo_the_provider_gets_it_live_and_both_download_it(
    app, api, clinic, call
):
    photo = png()

    response = send_as_guest(call, photo, "rash.png", text="Since Monday")

    assert response.status_code == 201, response.get_data(as_text=True)
    message = response.get_json()
    assert message["text"] == "Since Monday"
    attachment = message["attachment"]
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == (
        "rash.png",
        "image/png",
        len(photo),
    )
    assert received(call.host.socket, "chat_message") == [message]
    for browser in (call.host.client, call.guest.client):
        download = closed(browser.get(attachment["url"]))
        assert download.status_code == 200
        assert download.data == photo
        assert download.headers["Content-Type"] == "image/png"
        assert download.headers["Content-Disposition"] == "attachment; filename=rash.png"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in download.headers["Cache-Control"]
    by_api = closed(api.get(f"/visits/{call.visit_id}/attachments/{attachment['id']}", clinic.p))
    assert by_api.status_code == 200 and by_api.data == photo
    [listed] = api.get(f"/visits/{call.visit_id}/messages", clinic.p).get_json()
    assert listed["attachment"] == attachment


def test_a_pdf_named_png_is_kept_and_served_as_a_pdf(app, api, clinic, call):
    response = send_by_api(api, clinic.p, call.visit_id, PDF, "photo.png")

    assert response.status_code == 201, response.get_data(as_text=True)
    attachment = response.get_json()["attachment"]
    assert attachment["content_type"] == "application/pdf"
    assert response.get_json()["text"] == ""
    download = closed(call.guest.client.get(attachment["url"]))
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == "attachment; filename=photo.png"


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (EXE, "letter.pdf"),
        (zip_file(), "referral.pdf"),
        (b"<html><script>alert(1)</script></html>", "results.png"),
        (b"\x00\x01\x02\x03 just bytes", "scan.jpg"),
    ],
    ids=["program", "zip", "html", "unknown"],
)
def test_anything_not_allowed_is_refused_with_415_whatever_its_name(
    app, api, clinic, call, store, content, name
):
    by_guest = send_as_guest(call, content, name)
    by_api = send_by_api(api, clinic.p, call.visit_id, content, name)

    for response in (by_guest, by_api):
        error = assert_error(response, 415, "unsupported_media_type")
        assert "PDF" in error["message"]
    assert files_in(store) == []
    assert rows(app, Attachment) == rows(app, ChatMessage) == 0
    assert received(call.host.socket, "chat_message") == []


def test_a_file_over_the_size_limit_is_413_and_leaves_nothing(
    app, api, clinic, call, store, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 64 * 1024)
    big = PDF + b"%" * (80 * 1024)

    declared = send_by_api(api, clinic.p, call.visit_id, big, "big.pdf")
    by_guest = send_as_guest(call, big, "big.pdf")

    assert "64 KB" in assert_error(declared, 413, "too_large")["message"]
    assert_error(by_guest, 413, "too_large")
    assert files_in(store) == []
    assert rows(app, Attachment) == 0


def test_a_streamed_upload_with_no_length_is_held_to_the_limit_too(
    app, api, clinic, call, store, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 64 * 1024)

    def stream(content: bytes):
        builder = EnvironBuilder(
            f"/api/v1/visits/{call.visit_id}/messages",
            method="POST",
            data={"file": (io.BytesIO(content), "scan.pdf")},
            headers={"Authorization": f"Bearer {clinic.p}", "Transfer-Encoding": "chunked"},
        )
        environ = builder.get_environ()
        builder.close()
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True  # what gevent's server says of chunked input
        return api.client.open(Request(environ))

    over = stream(PDF + b"%" * (80 * 1024))
    within = stream(PDF)

    assert_error(over, 413, "too_large")
    assert within.status_code == 201, within.get_data(as_text=True)
    assert len(files_in(store)) == 1


def test_a_json_message_keeps_the_ordinary_body_limit(api, clinic, call):
    response = api.post(
        f"/visits/{call.visit_id}/messages", clinic.p, json={"text": "x" * (2 * 1024 * 1024)}
    )

    assert "1024 KB" in assert_error(response, 413, "too_large")["message"]


def test_the_file_is_kept_outside_the_web_root_under_a_random_name(app, call, store):
    photo = png()

    attachment = send_as_guest(call, photo, "rash.png").get_json()["attachment"]

    [kept] = files_in(store)
    with app.app_context():
        row = db.session.get(Attachment, attachment["id"])
        assert (row.original_name, row.stored_name) == ("rash.png", kept.name)
        assert row.sha256 == hashlib.sha256(photo).hexdigest()
    assert "rash" not in kept.name and "." not in kept.name
    assert len(kept.name) >= 40  # 256 random bits
    assert kept.read_bytes() == photo
    assert (BASE_DIR / "app" / "static") not in kept.resolve().parents
    # The default folder is the instance folder's, and the web root is never allowed.
    default_folder = Config.from_env({"ANTEROOM_ENV": "test", "SECRET_KEY": "x"}).ATTACHMENTS_DIR
    assert default_folder == str((BASE_DIR / "instance" / "attachments").resolve())
    with pytest.raises(ConfigError, match="outside the web root"):
        Config.from_env(
            {
                "ANTEROOM_ENV": "test",
                "SECRET_KEY": "x",
                "ATTACHMENTS_DIR": str(BASE_DIR / "app" / "static" / "files"),
            }
        )


def test_a_failed_transaction_leaves_no_file(app, call, store, monkeypatch):
    def lost_connection(*args, **kwargs):
        raise OperationalError("INSERT INTO audit_events", {}, Exception("disk I/O error"))

    monkeypatch.setattr(audit, "record", lost_connection)

    response = send_as_guest(call, png(), "rash.png")

    # A database that fails is "briefly unavailable" (app.errors), and nothing is left.
    assert_error(response, 503, "unavailable")
    assert files_in(store) == []
    assert rows(app, Attachment) == rows(app, ChatMessage) == 0
    assert received(call.host.socket, "chat_message") == []


def test_only_the_visits_people_and_clinic_staff_download_a_file(app, api, clinic, call, make_user):
    url = send_as_guest(call, PDF, "letter.pdf").get_json()["attachment"]["url"]
    attachment_id = int(url.rsplit("/", 1)[1])
    other_visit = book(api, clinic, patient="Max Other")
    other_guest = guest_browser(app, other_visit)
    stranger = staff_browser(app, make_user(Role.PROVIDER))
    scheduler = staff_browser(app, clinic.scheduler)

    assert closed(scheduler.get(url)).status_code == 200  # staff of the clinic
    assert other_guest.client.get(url, headers=JSON).status_code == 404
    # Another visit's participant asking for the file under their own visit's address.
    sideways = f"/visits/{other_visit}/attachments/{attachment_id}"
    assert other_guest.client.get(sideways, headers=JSON).status_code == 404
    assert stranger.get(url, headers=JSON).status_code == 404
    by_api = f"/visits/{call.visit_id}/attachments/{attachment_id}"
    assert closed(api.get(by_api, api.token(clinic.colleague))).status_code == 200
    assert_error(api.get(by_api, api.token(make_user(Role.PROVIDER))), 404, "not_found")
    assert app.test_client().get(url, headers=JSON).status_code == 401
    # A patient removed from the visit loses its files.
    set_presence(app, call.guest.participant_id, "removed")
    assert_error(call.guest.client.get(url, headers=JSON), 404, "not_found")


def test_sending_a_file_from_the_page_needs_its_csrf_token(app, call, store):
    response = send_as_guest(call, PDF, "letter.pdf", csrf=False)

    assert_error(response, 400, "csrf_failed")
    assert files_in(store) == []


def test_a_form_without_a_file_is_refused_on_its_field(call):
    response = call.guest.client.post(
        f"/visits/{call.visit_id}/attachments",
        data={"text": "no file"},
        headers={**JSON, "X-CSRFToken": call.guest.csrf},
        content_type="multipart/form-data",
    )

    assert assert_error(response, 422, "invalid")["fields"] == {"file": "Required."}


def test_an_empty_file_is_refused(call, store):
    error = assert_error(send_as_guest(call, b"", "empty.pdf"), 422, "invalid")

    assert "file" in error["fields"]
    assert files_in(store) == []


def test_a_patient_still_waiting_cannot_send_a_file(app, api, clinic, socket_client, store):
    visit_id = book(api, clinic)
    guest = guest_browser(app, visit_id)
    socket_client(flask_client=guest.client).emit(
        "join_visit", {"visit_id": visit_id}, callback=True
    )

    response = guest.client.post(
        f"/visits/{visit_id}/attachments",
        data={"file": (io.BytesIO(PDF), "letter.pdf")},
        headers={**JSON, "X-CSRFToken": guest.csrf},
        content_type="multipart/form-data",
    )

    assert_error(response, 403, "forbidden")
    assert files_in(store) == []


def test_the_download_name_is_the_cleaned_name_encoded_for_any_language(api, clinic, call):
    name = "../../\u202eÜberweisung Dr. Ø.pdf"

    attachment = send_by_api(api, clinic.p, call.visit_id, PDF, name).get_json()["attachment"]
    download = closed(call.guest.client.get(attachment["url"]))

    assert attachment["name"] == "Überweisung Dr. Ø.pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "filename*=UTF-8''%C3%9Cberweisung%20Dr.%20%C3%98.pdf" in disposition


def test_sending_and_downloading_files_is_audited(app, call):
    photo = png()
    attachment = send_as_guest(call, photo, "rash.png").get_json()["attachment"]
    closed(call.host.client.get(attachment["url"]))

    entries = [a for a in audit_actions(app, call.visit_id) if a[0] != "chat_read"]
    sent, downloaded = entries[-2:]
    assert sent[:2] == ("chat_message", "guest")
    assert sent[2]["attachment_id"] == attachment["id"]
    assert sent[2]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert downloaded == ("attachment_download", "user", {"attachment_id": attachment["id"]})


def test_plain_text_can_be_allowed_and_is_checked_to_its_last_byte(
    app, api, clinic, call, store, monkeypatch
):
    monkeypatch.setitem(app.config, "ATTACHMENT_TYPES", ("application/pdf", "text/plain"))
    text = "Blood pressure 120/80 ✓\n".encode() * 1000

    kept = send_by_api(api, clinic.p, call.visit_id, text, "readings.txt")
    binary_tail = send_by_api(api, clinic.p, call.visit_id, text + b"\x00\xff", "more.txt")

    assert kept.get_json()["attachment"]["content_type"] == "text/plain"
    assert_error(binary_tail, 415, "unsupported_media_type")
    assert len(files_in(store)) == 1
    assert attachments.detect_type(b"\xff\xfe not utf-8") is None
    assert attachments.detect_type(png()) == "image/png"


def test_the_allowed_types_are_checked_when_configured():
    config = Config.from_env(
        {"ANTEROOM_ENV": "test", "SECRET_KEY": "x", "ATTACHMENT_TYPES": "application/pdf"}
    )
    assert config.ATTACHMENT_TYPES == ("application/pdf",)
    with pytest.raises(ConfigError, match="image/jpg"):
        Config.from_env(
            {"ANTEROOM_ENV": "test", "SECRET_KEY": "x", "ATTACHMENT_TYPES": "image/jpg"}
        )
