"""The room page's files: sending one to the call's chat, and downloading one; the frame
of a camera snapshot its participant allowed, and staff viewing it.

Both serve a signed-in user's session and a guest's (opened by their link), so a patient
without an account can send and open files too. Sending needs the page's CSRF token
(X-CSRFToken) like any form. Registered on the visits blueprint (app.visits.routes).
"""

from __future__ import annotations

from flask import jsonify, request, send_file

from app.auth.session import current_caller
from app.extensions import login_manager
from app.security import accepts_upload
from app.services import camera_snapshots, chat
from app.services.attachments import Upload
from app.services.chat import Download
from app.services.errors import Invalid
from app.visits.routes import bp


def upload_from_request() -> Upload | None:
    """The multipart body's `file` field, if one was chosen (a form whose file input was
    left empty sends a part with no name and no bytes)."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return None
    return Upload(file.filename, file.stream)


def attachment_response(download: Download):
    """A file, always as a download under the name it was sent with (RFC 5987 for any
    name beyond ASCII), with its detected type, which browsers may not second-guess."""
    response = send_file(
        download.path,
        mimetype=download.content_type,
        as_attachment=True,
        download_name=download.name,
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # app.security adds Cache-Control: no-store to every answer but static files.
    return response


@bp.post("/<id:visit_id>/attachments")
@accepts_upload
def send_attachment(visit_id: int):
    """The room page sends a file (multipart: `file`, and maybe `text`) to the call's
    chat; answers with the chat message, which everyone in the call also gets live."""
    who = current_caller()
    if who is None:
        return login_manager.unauthorized()
    upload = upload_from_request()
    if upload is None:
        raise Invalid("Choose a file to send.", fields={"file": "Required."})
    message = chat.post_message(who, visit_id, request.form.get("text"), upload)
    return jsonify(message), 201


@bp.get("/<id:visit_id>/attachments/<id:attachment_id>")
def download_attachment(visit_id: int, attachment_id: int):
    """A file of the call's chat, for the visit's participants and its clinic's staff."""
    who = current_caller()
    if who is None:
        return login_manager.unauthorized()
    return attachment_response(chat.attachment_for_download(who, visit_id, attachment_id))


@bp.post("/<id:visit_id>/snapshots/<id:snapshot_id>")
@accepts_upload
def send_snapshot(visit_id: int, snapshot_id: int):
    """The page of a participant who allowed a snapshot sends the frame it took of their
    camera (multipart: `file`); the host who asked gets snapshot_saved."""
    who = current_caller()
    if who is None:
        return login_manager.unauthorized()
    upload = upload_from_request()
    if upload is None:
        raise Invalid("Choose a file to send.", fields={"file": "Required."})
    saved = camera_snapshots.save_snapshot(who, visit_id, snapshot_id, upload)
    return jsonify(camera_snapshots.snapshot_dict(saved)), 201


@bp.get("/<id:visit_id>/snapshots/<id:snapshot_id>")
def view_snapshot(visit_id: int, snapshot_id: int):
    """A snapshot's image for the visit's staff: shown in the page, or with ?download=1
    as a file to keep."""
    who = current_caller()
    if who is None:
        return login_manager.unauthorized()
    image = camera_snapshots.image_for_viewing(who, visit_id, snapshot_id)
    response = send_file(
        image.path,
        mimetype=image.content_type,
        as_attachment=request.args.get("download") == "1",
        download_name=image.name,
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
