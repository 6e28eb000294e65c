"""Private notes: what a provider (or another member of staff) writes down about a visit
for themselves. Only their author ever reads them, during the visit and afterwards (from
the provider's sessions and the clinic schedule). Writing and reading are audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Participant, PrivateNote, Role, User, Visit
from app.models.types import utcnow
from app.services import audit
from app.services.chat import visit_for_reader
from app.services.clinics import clinics_of
from app.services.errors import Forbidden, Invalid
from app.services.serialize import iso
from app.services.text import clean_text
from app.services.visits import Who
from clinicqueue import Presence

MAX_LENGTH = 10_000
MAX_NOTED_VISITS = 200
STAFF_ROLES = (Role.PROVIDER, Role.SCHEDULER, Role.ADMIN)


def note_dict(note: PrivateNote) -> dict:
    return {
        "id": note.id,
        "visit_id": note.visit_id,
        "text": note.text,
        "written_at": iso(note.created_at),
    }


def _visit_for_keeper(who: Who, visit_id: int) -> Visit:
    """The visit, for a member of staff who is in it or works in its clinic (NotFound
    for anyone who may not see it; Forbidden for a guest or requester who may)."""
    visit, _ = visit_for_reader(who, visit_id)
    if isinstance(who, Participant) or not who.has_role(*STAFF_ROLES):
        raise Forbidden("Only staff keep notes on a visit.")
    return visit


def add_note(who: Who, visit_id: int, text, now: datetime | None = None) -> dict:
    """A member of staff writes a private note on a visit (a guest or a requester is
    refused). Commits; nobody is told."""
    now = now or utcnow()
    visit = _visit_for_keeper(who, visit_id)
    if text is not None and not isinstance(text, str):
        raise Invalid("text must be text.", fields={"text": "Not text."})
    text = clean_text(text or "")
    if not text:
        raise Invalid("Write the note.", fields={"text": "Required."})
    if len(text) > MAX_LENGTH:
        raise Invalid(
            "The note is too long.", fields={"text": f"Keep it under {MAX_LENGTH} characters."}
        )
    note = PrivateNote(visit_id=visit.id, author_id=who.id, text=text, created_at=now)
    db.session.add(note)
    db.session.flush()
    audit.record(
        audit.Actor.user(who), "note_add", visit=visit, detail={"note_id": note.id}, now=now
    )
    found = note_dict(note)
    db.session.commit()
    return found


def notes_of(who: Who, visit_id: int, now: datetime | None = None) -> list[dict]:
    """The caller's own notes on a visit, oldest first (never anyone else's). The reading
    is audited. Commits."""
    visit = _visit_for_keeper(who, visit_id)
    found = db.session.scalars(
        select(PrivateNote)
        .where(PrivateNote.visit_id == visit.id, PrivateNote.author_id == who.id)
        .order_by(PrivateNote.created_at, PrivateNote.id)
    )
    notes = [note_dict(n) for n in found]
    audit.record(audit.Actor.user(who), "notes_read", visit=visit, now=now)
    db.session.commit()
    return notes


def noted_visits(
    user: User, visit_ids: list[int] | None = None, limit: int = MAX_NOTED_VISITS
) -> list[dict]:
    """The visits on which the caller keeps notes (of `visit_ids`, when given), the latest
    written first: how many, when the last one was written, and which visit, among the
    visits they may still see (they are in it, or work in its clinic). Says nothing any
    note says, so it is not audited; reading the notes is (`notes_of`). Read only."""
    last = func.max(PrivateNote.created_at)
    query = (
        select(PrivateNote.visit_id, func.count(PrivateNote.id), last)
        .where(PrivateNote.author_id == user.id)
        .group_by(PrivateNote.visit_id)
        .order_by(last.desc(), PrivateNote.visit_id.desc())
    )
    if visit_ids is not None:
        query = query.where(PrivateNote.visit_id.in_(visit_ids))
    counted = db.session.execute(query).all()
    if not counted:
        return []
    visits = {
        v.id: v
        for v in db.session.scalars(select(Visit).where(Visit.id.in_([r[0] for r in counted])))
    }
    clinics = {c.id for c in clinics_of(user)}
    found = []
    for visit_id, count, written in counted:
        visit = visits.get(visit_id)
        me = visit.participant_for(user.id) if visit else None
        in_it = me is not None and me.presence != Presence.REMOVED
        if visit is None or not (in_it or visit.clinic_id in clinics):
            continue
        patient = next((p for p in visit.participants if p.role == "patient"), None)
        found.append(
            {
                "visit_id": visit.id,
                "count": count,
                "last_written_at": iso(written),
                "clinic_id": visit.clinic_id,
                "state": visit.state,
                "starts_at": iso(visit.scheduled_for or visit.created_at),
                "patient": visit.patient.name
                if visit.patient
                else (patient.display_name if patient else "Guest"),
                "service": visit.service.name if visit.service else None,
            }
        )
        if len(found) == limit:
            break
    return found
