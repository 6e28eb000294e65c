"""A snapshot of one participant's camera, only with their consent.

A host in the call asks (`request_snapshot`); that participant's page asks them; they
allow or deny (`answer_snapshot`), and the host is told which. On allow, their page takes
one frame of their own camera (nothing else of their screen) and sends it at once
(`save_snapshot`). Staff of the visit (its hosts and its clinic) view and download it.
Every request, answer, image and viewing is written to the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app

from app.extensions import db
from app.models import CameraSnapshot, Participant, User, Visit
from app.models.types import utcnow
from app.realtime.publish import Outbox
from app.services import attachments, audit
from app.services.attachments import Upload
from app.services.chat import actor_of, visit_for_reader
from app.services.errors import Conflict, Forbidden, NotFound
from app.services.serialize import iso
from app.services.visits import Who, load_visit
from clinicqueue import Presence

IMAGE_TYPES = ("image/png", "image/jpeg")
OPEN_STATES = ("requested", "allowed")
OPEN_SECONDS = 120  # how long a request waits for its answer and its frame


def snapshot_dict(snapshot: CameraSnapshot) -> dict:
    saved = snapshot.state == "saved"
    return {
        "id": snapshot.id,
        "visit_id": snapshot.visit_id,
        "participant_id": snapshot.participant_id,
        "name": snapshot.participant.display_name,
        "state": snapshot.state,
        "requested_at": iso(snapshot.requested_at),
        "answered_at": iso(snapshot.answered_at) if snapshot.answered_at else None,
        "saved_at": iso(snapshot.saved_at) if snapshot.saved_at else None,
        "url": f"/visits/{snapshot.visit_id}/snapshots/{snapshot.id}" if saved else None,
    }


def _host_in_call(who: Who, visit_id: int) -> tuple[Visit, Participant]:
    visit, me = load_visit(who, visit_id, lock=True)
    if me.role != "host":
        db.session.rollback()
        raise Forbidden("Only the host can ask for a snapshot.")
    if me.presence != Presence.ADMITTED:
        db.session.rollback()
        raise Conflict("Enter the call to ask for a snapshot.", presence=me.presence)
    return visit, me


def _tell_requester(outbox: Outbox, visit: Visit, snapshot: CameraSnapshot, event: str) -> None:
    """The host who asked hears the answer (on whichever connection holds them now)."""
    asker = visit.participant_for(snapshot.requested_by_id)
    if asker is not None and asker.presence_sid:
        outbox.add_call(event, asker.presence_sid, snapshot_dict(snapshot))


def request_snapshot(
    who: Who, visit_id: int, participant_id: int, now: datetime | None = None
) -> CameraSnapshot:
    """A host in the call asks for a snapshot of someone else in it. Emits
    snapshot_requested to that person's page, which asks them. Commits."""
    now = now or utcnow()
    visit, me = _host_in_call(who, visit_id)
    target = next((p for p in visit.participants if p.id == participant_id), None)
    if target is None:
        db.session.rollback()
        raise NotFound("No such participant.")
    if target.id == me.id or target.presence != Presence.ADMITTED or not target.presence_sid:
        db.session.rollback()
        raise Conflict("Only someone else in the call can be asked.", presence=target.presence)
    # A request nobody finished in time (no answer, or a frame that never came: a page
    # closed, a network cut) lapses, so it never blocks asking again.
    db.session.execute(
        db.update(CameraSnapshot)
        .where(
            CameraSnapshot.visit_id == visit.id,
            CameraSnapshot.participant_id == target.id,
            CameraSnapshot.state.in_(OPEN_STATES),
            CameraSnapshot.requested_at < now - timedelta(seconds=OPEN_SECONDS),
        )
        .values(state="expired")
    )
    pending = db.session.scalar(
        db.select(CameraSnapshot).where(
            CameraSnapshot.visit_id == visit.id,
            CameraSnapshot.participant_id == target.id,
            CameraSnapshot.state.in_(OPEN_STATES),
        )
    )
    if pending is not None:
        db.session.rollback()
        raise Conflict(f"Still waiting for {target.display_name} to answer.", state=pending.state)
    snapshot = CameraSnapshot(
        visit_id=visit.id,
        participant_id=target.id,
        requested_by_id=me.user_id,
        state="requested",
        requested_at=now,
    )
    db.session.add(snapshot)
    db.session.flush()
    audit.record(
        actor_of(who),
        "snapshot_request",
        visit=visit,
        detail={"snapshot_id": snapshot.id, "participant_id": target.id},
        now=now,
    )
    outbox = Outbox()
    outbox.add_call(
        "snapshot_requested",
        target.presence_sid,
        {"visit_id": visit.id, "snapshot_id": snapshot.id, "by": me.display_name},
    )
    db.session.commit()
    outbox.publish()
    return snapshot


def _own_request(who: Who, visit_id: int, snapshot_id: int) -> tuple[Visit, CameraSnapshot]:
    visit, me = load_visit(who, visit_id, lock=True)
    snapshot = db.session.get(CameraSnapshot, snapshot_id, populate_existing=True)
    if snapshot is None or snapshot.visit_id != visit.id or snapshot.participant_id != me.id:
        db.session.rollback()
        raise NotFound("No such snapshot request.")
    return visit, snapshot


def answer_snapshot(
    who: Who, visit_id: int, snapshot_id: int, allow: bool, now: datetime | None = None
) -> CameraSnapshot:
    """The person asked allows or denies. Emits snapshot_answered to the host who asked.
    Commits."""
    now = now or utcnow()
    visit, snapshot = _own_request(who, visit_id, snapshot_id)
    if snapshot.state != "requested":
        db.session.rollback()
        raise Conflict("This request was already answered.", state=snapshot.state)
    snapshot.state = "allowed" if allow else "denied"
    snapshot.answered_at = now
    audit.record(
        actor_of(who),
        "snapshot_allowed" if allow else "snapshot_denied",
        visit=visit,
        detail={"snapshot_id": snapshot.id},
        now=now,
    )
    db.session.flush()
    outbox = Outbox()
    _tell_requester(outbox, visit, snapshot, "snapshot_answered")
    db.session.commit()
    outbox.publish()
    return snapshot


def save_snapshot(
    who: Who, visit_id: int, snapshot_id: int, upload: Upload, now: datetime | None = None
) -> CameraSnapshot:
    """The page of the person who allowed sends the frame it took (PNG or JPEG, checked
    from its content; at most SNAPSHOT_MAX_BYTES). Emits snapshot_saved to the host who
    asked. Commits; a failed commit leaves no file behind."""
    now = now or utcnow()
    visit, snapshot = _own_request(who, visit_id, snapshot_id)
    if snapshot.state != "allowed":
        db.session.rollback()
        raise Conflict("This snapshot was not allowed, or is already saved.", state=snapshot.state)
    db.session.rollback()  # release the lock while the file is written
    stored = attachments.store(
        upload, types=IMAGE_TYPES, limit=current_app.config["SNAPSHOT_MAX_BYTES"]
    )
    try:
        visit, snapshot = _own_request(who, visit_id, snapshot_id)
        if snapshot.state != "allowed":
            raise Conflict("This snapshot is already saved.", state=snapshot.state)
        snapshot.state = "saved"
        snapshot.saved_at = now
        snapshot.stored_name = stored.stored_name
        snapshot.content_type = stored.content_type
        snapshot.size = stored.size
        snapshot.sha256 = stored.sha256
        audit.record(
            actor_of(who),
            "snapshot_saved",
            visit=visit,
            detail={"snapshot_id": snapshot.id, "sha256": stored.sha256},
            now=now,
        )
        db.session.flush()
        outbox = Outbox()
        _tell_requester(outbox, visit, snapshot, "snapshot_saved")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        attachments.discard(stored.stored_name)
        raise
    outbox.publish()
    return snapshot


def _staff_visit(user: User, visit_id: int) -> Visit:
    """The visit, for its hosts and its clinic's staff: the people who look at snapshots.
    NotFound for anyone else, Forbidden for its other participants."""
    visit, me = visit_for_reader(user, visit_id)
    if not isinstance(user, User) or (me is not None and me.role != "host"):
        raise Forbidden("Only the clinic's staff see snapshots.")
    return visit


def snapshots_of(user: User, visit_id: int) -> list[CameraSnapshot]:
    """Every snapshot request of the visit, oldest first (staff only)."""
    visit = _staff_visit(user, visit_id)
    return list(
        db.session.scalars(
            db.select(CameraSnapshot)
            .where(CameraSnapshot.visit_id == visit.id)
            .order_by(CameraSnapshot.id)
        )
    )


@dataclass(frozen=True)
class Image:
    path: Path
    content_type: str
    name: str


def image_for_viewing(
    user: User, visit_id: int, snapshot_id: int, now: datetime | None = None
) -> Image:
    """A saved snapshot's image, for staff of the visit; the viewing is audited. Commits."""
    now = now or utcnow()
    visit = _staff_visit(user, visit_id)
    snapshot = db.session.get(CameraSnapshot, snapshot_id)
    if snapshot is None or snapshot.visit_id != visit.id or snapshot.state != "saved":
        raise NotFound("No such snapshot.")
    audit.record(
        actor_of(user), "snapshot_view", visit=visit, detail={"snapshot_id": snapshot.id}, now=now
    )
    db.session.commit()
    extension = "png" if snapshot.content_type == "image/png" else "jpg"
    taken = snapshot.saved_at.strftime("%Y-%m-%d-%H%M%S")
    return Image(
        attachments.path_of(snapshot.stored_name),
        snapshot.content_type,
        f"snapshot-visit-{visit.id}-{taken}.{extension}",
    )
