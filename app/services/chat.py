"""The chat of a call: messages (maybe with a file) to everyone in it, kept with the visit,
delivered live as chat_message to visit:<id>, and read again on (re)connect.

Who may do what: the visit's participants and its clinic's staff read the chat and its
files; participants admitted to the call, and its hosts, write to it; someone removed
from the visit (or denied entry) does neither. To anyone else the visit does not exist.
Every writing and reading is audited. Files are kept by app/services/attachments.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, ChatMessage, Participant, Visit
from app.models.types import utcnow
from app.realtime.publish import Outbox, visit_room
from app.services import attachments, audit
from app.services.attachments import Upload
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.invitations import visit_for_staff
from app.services.serialize import iso
from app.services.text import clean_text
from app.services.visits import Who, load_visit
from clinicqueue import Presence
from clinicqueue.visit import LIVE_VISIT_STATES

MAX_LENGTH = 2000


@dataclass(frozen=True)
class Download:
    """An attachment to send: where its bytes are, and what to call it."""

    path: Path
    name: str
    content_type: str
    size: int


def attachment_dict(attachment: Attachment) -> dict:
    return {
        "id": attachment.id,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        # The room page's download (a session, a guest's too); the API has its own.
        "url": f"/visits/{attachment.visit_id}/attachments/{attachment.id}",
    }


def message_dict(message: ChatMessage) -> dict:
    author = message.author
    found = {
        "id": message.id,
        "visit_id": message.visit_id,
        "author": {"participant_id": author.id, "name": author.display_name, "role": author.role},
        "text": message.text,
        "sent_at": iso(message.created_at),
    }
    if message.attachment is not None:
        found["attachment"] = attachment_dict(message.attachment)
    return found


def actor_of(who: Who) -> audit.Actor:
    return audit.Actor.guest(who) if isinstance(who, Participant) else audit.Actor.user(who)


def visit_for_reader(who: Who, visit_id: int) -> tuple[Visit, Participant | None]:
    """The visit, for someone who may read what is written in it: one of its participants
    (their place in it comes back too), or staff of its clinic (None). NotFound for
    anyone else, and for a guest who was removed or denied entry."""
    try:
        visit, me = load_visit(who, visit_id)
    except NotFound:
        if isinstance(who, Participant):
            raise
        return visit_for_staff(who, visit_id), None
    if me.presence == Presence.REMOVED:
        if isinstance(who, Participant):
            raise NotFound("No such session.")
        return visit_for_staff(who, visit_id), None
    return visit, me


def _writer(who: Who, visit_id: int) -> tuple[Visit, Participant]:
    """The visit and the caller's place in it, when they may write to its chat."""
    visit, me = visit_for_reader(who, visit_id)
    if me is None:
        raise Forbidden("Join the call to write to its chat.")
    if me.role != "host" and me.presence != Presence.ADMITTED:
        raise Forbidden("Only people in the call can write to its chat.")
    if visit.state not in {s.value for s in LIVE_VISIT_STATES}:
        raise Conflict("This session is over.", state=visit.state)
    return visit, me


def _message_text(text, required: bool) -> str:
    if text is not None and not isinstance(text, str):
        raise Invalid("text must be text.", fields={"text": "Not text."})
    text = clean_text(text or "")
    if required and not text:
        raise Invalid("Write a message.", fields={"text": "Required."})
    if len(text) > MAX_LENGTH:
        raise Invalid(
            "The message is too long.", fields={"text": f"Keep it under {MAX_LENGTH} characters."}
        )
    return text


def post_message(
    who: Who, visit_id: int, text, upload: Upload | None = None, now: datetime | None = None
) -> dict:
    """Someone in the call writes to its chat, maybe sending a file (its type told from
    its content: 415 when not allowed; 413 beyond MAX_UPLOAD_BYTES). Emits chat_message to
    visit:<id>. Commits; if the commit fails, the file is removed again."""
    now = now or utcnow()
    visit, me = _writer(who, visit_id)
    text = _message_text(text, required=upload is None)
    stored = attachments.store(upload) if upload is not None else None
    try:
        attachment = None
        if stored is not None:
            attachment = Attachment(
                visit_id=visit.id,
                uploader_participant_id=me.id,
                original_name=stored.original_name,
                content_type=stored.content_type,
                size=stored.size,
                stored_name=stored.stored_name,
                sha256=stored.sha256,
                created_at=now,
            )
            db.session.add(attachment)
        message = ChatMessage(
            visit_id=visit.id,
            author=me,
            text=text,
            attachment=attachment,
            created_at=now,
        )
        db.session.add(message)
        db.session.flush()
        detail = {"message_id": message.id}
        if attachment is not None:
            detail.update(
                attachment_id=attachment.id,
                content_type=attachment.content_type,
                size=attachment.size,
                sha256=attachment.sha256,
            )
        audit.record(actor_of(who), "chat_message", visit=visit, detail=detail, now=now)
        payload = message_dict(message)
        outbox = Outbox()
        outbox.add_call("chat_message", visit_room(visit.id), payload)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if stored is not None:
            attachments.discard(stored.stored_name)
        raise
    outbox.publish()
    return payload


def messages_for(who: Who, visit_id: int, now: datetime | None = None) -> list[dict]:
    """The visit's chat, oldest first, for its participants and its clinic's staff. The
    reading is audited. Commits."""
    visit, _ = visit_for_reader(who, visit_id)
    found = db.session.scalars(
        select(ChatMessage)
        .where(ChatMessage.visit_id == visit.id)
        .order_by(ChatMessage.created_at, ChatMessage.id)
    )
    messages = [message_dict(m) for m in found]
    audit.record(actor_of(who), "chat_read", visit=visit, now=now)
    db.session.commit()
    return messages


def attachment_for_download(
    who: Who, visit_id: int, attachment_id: int, now: datetime | None = None
) -> Download:
    """A file of the visit's chat, for its participants and its clinic's staff (NotFound
    for anyone else, and for another visit's file). The download is audited. Commits."""
    visit, _ = visit_for_reader(who, visit_id)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.visit_id != visit.id:
        raise NotFound("No such file.")
    path = attachments.path_of(attachment.stored_name)
    if not path.is_file():
        raise NotFound("This file is no longer kept.")
    download = Download(path, attachment.original_name, attachment.content_type, attachment.size)
    audit.record(
        actor_of(who),
        "attachment_download",
        visit=visit,
        detail={"attachment_id": attachment.id},
        now=now,
    )
    db.session.commit()
    return download
