"""One-way messages from staff to the people in a visit's waiting room ("Running ten
minutes late"): saved with the visit, delivered live, shown again to whoever arrives.
Guests read them; they cannot answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import User, Visit, VisitMessage
from app.models.types import utcnow
from app.realtime.publish import Outbox, waiting_room
from app.services import audit
from app.services.errors import Conflict, Invalid
from app.services.invitations import visit_for_staff
from app.services.serialize import iso
from app.services.text import clean_text
from clinicqueue.visit import LIVE_VISIT_STATES

MAX_LENGTH = 500


def message_dict(message: VisitMessage) -> dict:
    return {
        "id": message.id,
        "visit_id": message.visit_id,
        "author": message.author.name,
        "text": message.text,
        "at": iso(message.created_at),
    }


def post_message(user: User, visit_id: int, text, now: datetime | None = None) -> VisitMessage:
    """Staff of the visit's clinic write to its waiting room. Emits waiting_message to the
    waiting room. Commits."""
    now = now or utcnow()
    visit = visit_for_staff(user, visit_id)
    if visit.state not in {s.value for s in LIVE_VISIT_STATES}:
        raise Conflict("This visit is over.", state=visit.state)
    text = clean_text(text if isinstance(text, str) else "")
    if not text:
        raise Invalid("Write a message.", fields={"text": "Required."})
    if len(text) > MAX_LENGTH:
        raise Invalid(
            "The message is too long.", fields={"text": f"Keep it under {MAX_LENGTH} characters."}
        )
    message = VisitMessage(visit_id=visit.id, author_id=user.id, text=text, created_at=now)
    db.session.add(message)
    audit.record(audit.Actor.user(user), "message", visit=visit, now=now)
    db.session.flush()
    outbox = Outbox()
    outbox.add_call("waiting_message", waiting_room(visit.id), message_dict(message))
    db.session.commit()
    outbox.publish()
    return message


def messages_of(visit: Visit) -> list[dict]:
    """A visit's waiting-room messages, oldest first."""
    found = db.session.scalars(
        select(VisitMessage)
        .where(VisitMessage.visit_id == visit.id)
        .order_by(VisitMessage.created_at, VisitMessage.id)
    )
    return [message_dict(m) for m in found]


def staff_messages(user: User, visit_id: int) -> list[dict]:
    return messages_of(visit_for_staff(user, visit_id))
