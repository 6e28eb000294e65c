"""JSON API v1: a visit's chat (with files) and the caller's private notes on it.

Registered on the API blueprint of app.api.routes (same authentication, CSRF rules and
error handling). Guests have no token: their room page uses app.visits.chat_routes and
Socket.IO instead.
"""

from __future__ import annotations

import re

from flask import current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.api import schemas as s
from app.api.routes import bp
from app.api.spec import json_body, operation, parse
from app.auth.access import role_required
from app.models import Role
from app.models.types import MAX_ID
from app.security import accepts_upload
from app.services import chat, notes
from app.services.errors import Invalid
from app.visits.chat_routes import attachment_response, upload_from_request


@bp.get("/visits/<id:visit_id>/messages")
@role_required()
@operation(list[s.ChatMessageOut])
def list_messages(visit_id: int):
    """The chat so far, oldest first: [{id, author, text, attachment?, sent_at}]."""
    return jsonify(chat.messages_for(current_user, visit_id))


@bp.post("/visits/<id:visit_id>/messages")
@accepts_upload
@role_required()
@operation(s.ChatMessageOut, status=201, body=s.TextIn, upload=s.ChatUpload, errors=(409,))
def post_message(visit_id: int):
    """Write to the chat: JSON {text}, or multipart with a `file` (and maybe `text`)."""
    if request.mimetype == "multipart/form-data":
        text, upload = request.form.get("text"), upload_from_request()
    else:
        # Only a file may be as large as MAX_UPLOAD_BYTES; JSON keeps the ordinary limit.
        request.max_content_length = current_app.config["MAX_CONTENT_LENGTH"]
        if (request.content_length or 0) > request.max_content_length:
            raise RequestEntityTooLarge()
        text, upload = parse(s.TextIn, json_body()).text, None
    return jsonify(chat.post_message(current_user, visit_id, text, upload)), 201


@bp.get("/visits/<id:visit_id>/attachments/<id:attachment_id>")
@role_required()
@operation(("*/*",))
def download_attachment(visit_id: int, attachment_id: int):
    """A file sent in the chat, as it was sent."""
    return attachment_response(chat.attachment_for_download(current_user, visit_id, attachment_id))


@bp.get("/visits/<id:visit_id>/notes")
@role_required()
@operation(list[s.NoteOut])
def list_notes(visit_id: int):
    """The caller's own private notes on the visit, oldest first."""
    return jsonify(notes.notes_of(current_user, visit_id))


@bp.post("/visits/<id:visit_id>/notes")
@role_required()
@operation(s.NoteOut, status=201, body=s.TextIn)
def add_note(visit_id: int, body: s.TextIn):
    """A private note on the visit, seen by its writer only."""
    return jsonify(notes.add_note(current_user, visit_id, body.text)), 201


@bp.get("/notes")
@role_required(Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)
@operation(list[s.NotedVisit], query=s.NotesQuery)
def list_noted_visits(query: s.NotesQuery):
    """The visits the caller keeps private notes on, the latest written first:
    [{visit_id, count, last_written_at, clinic_id, state, starts_at, patient, service}].
    `?visit_id=1,2,3` asks about those visits only (the rows a schedule page shows)."""
    raw = query.visit_id
    visit_ids = None
    if raw is not None:
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        valid = all(re.fullmatch(r"[0-9]{1,10}", p) and 1 <= int(p) <= MAX_ID for p in parts)
        if len(parts) > notes.MAX_NOTED_VISITS or not valid:
            raise Invalid(
                f"visit_id: up to {notes.MAX_NOTED_VISITS} visit ids, separated by commas.",
                fields={"visit_id": "Not a list of visit ids."},
            )
        visit_ids = [int(part) for part in parts]
    return jsonify(notes.noted_visits(current_user, visit_ids))
