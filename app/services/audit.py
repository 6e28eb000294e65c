"""The audit trail: every action on patient data, appended in the same transaction as the
action, chained by hashes so that a changed or deleted entry is found.

`record()` is the one way in. Nothing updates or deletes audit rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import AuditEvent, AuditHead, Participant, Station, User, Visit
from app.models.types import utcnow

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who did it: a signed-in user, a guest by their link, a station, or the system."""

    kind: str
    id: int | None
    label: str

    @classmethod
    def user(cls, user: User) -> Actor:
        return cls("user", user.id, f"{user.name} <{user.email}>")

    @classmethod
    def guest(cls, participant: Participant) -> Actor:
        return cls("guest", participant.id, f"{participant.display_name} (guest)")

    @classmethod
    def station(cls, station: Station) -> Actor:
        return cls("station", station.id, f"{station.name} (station, {station.site})")

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "Anteroom")


def _digest(entry: AuditEvent) -> str:
    canonical = json.dumps(
        {
            "at": entry.at.isoformat(),
            "actor": [entry.actor_kind, entry.actor_id, entry.actor_label],
            "action": entry.action,
            "visit_id": entry.visit_id,
            "patient_id": entry.patient_id,
            "detail": entry.detail,
            "prev": entry.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_head() -> str:
    """Take the head row's lock (creating it once) and return the newest entry's hash.
    Appends queue here, so each one chains onto the one before it."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(AuditHead).values(id=HEAD_ID, last_hash=GENESIS).on_conflict_do_nothing()
    )
    db.session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=AuditHead.last_hash)
    )
    return db.session.scalar(
        select(AuditHead.last_hash)
        .where(AuditHead.id == HEAD_ID)
        .execution_options(populate_existing=True)
    )


def record(
    actor: Actor,
    action: str,
    visit: Visit | None = None,
    patient_id: int | None = None,
    detail: dict | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an entry in the caller's transaction; it commits (or rolls back) with the
    action it records."""
    prev = _lock_head()
    if patient_id is None and visit is not None:
        patient_id = visit.patient_id
    entry = AuditEvent(
        # Microseconds dropped: the database stores what the hash covers, exactly.
        at=(now or utcnow()).astimezone(UTC).replace(microsecond=0),
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label[:160],
        action=action,
        visit_id=visit.id if visit is not None else None,
        patient_id=patient_id,
        detail=detail or {},
        prev_hash=prev,
    )
    entry.hash = _digest(entry)
    db.session.add(entry)
    db.session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ID).values(last_hash=entry.hash)
    )
    return entry


@dataclass
class Verdict:
    checked: int = 0
    broken_at: int | None = None  # the first entry that does not hold (its id)
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.broken_at is None and not self.reason


def verify() -> Verdict:
    """Walk the chain from the first entry; name the first one that does not hold."""
    verdict = Verdict()
    prev = GENESIS
    for entry in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(500):
        verdict.checked += 1
        if entry.prev_hash != prev:
            verdict.broken_at = entry.id
            verdict.reason = "the entry before it was changed or deleted"
            return verdict
        if _digest(entry) != entry.hash:
            verdict.broken_at = entry.id
            verdict.reason = "this entry was changed"
            return verdict
        prev = entry.hash
    head = db.session.get(AuditHead, HEAD_ID)
    if head is not None and head.last_hash != prev:
        verdict.reason = "entries at the end of the trail were deleted"
    return verdict


def trail_of_visit(visit_id: int) -> list[AuditEvent]:
    """A visit's entries, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.visit_id == visit_id).order_by(AuditEvent.id)
        )
    )
