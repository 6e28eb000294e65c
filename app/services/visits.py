"""Entering, leaving and ending visits: the waiting room and the call."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Job, Participant, Role, User, Visit
from app.models.types import utcnow
from app.realtime.publish import (
    Outbox,
    provider_stream,
    requester_stream,
    visit_room,
    waiting_room,
)
from app.services import audit
from app.services.errors import Conflict, Forbidden, NotFound
from app.services.jobs import enqueue, handles
from app.services.schedule import announce_row
from app.services.serialize import participant_dict, visit_dict
from clinicqueue import (
    InvalidTransition,
    Presence,
    PresenceAction,
    VisitAction,
    VisitSource,
    VisitState,
    admission_refusal,
    arrival_presence,
    host_departure,
    lets_in_on_entry,
    transition_presence,
    transition_visit,
)
from clinicqueue.schedule import LinkState, link_state
from clinicqueue.visit import LIVE_VISIT_STATES

Who = User | Participant  # a signed-in user, or a guest (their participant, by their link)


def load_visit(who: Who, visit_id: int, lock: bool = False) -> tuple[Visit, Participant]:
    """The visit and the caller's place in it; only its participants may open it (to
    anyone else it does not exist: NotFound, so ids cannot be probed). A guest is a
    participant of exactly one visit.

    With lock, the visit's row is locked first (a no-op write, which also serialises
    SQLite), so arrivals, departures and the host's entry never decide from stale
    presences: a patient arriving as the host enters is always admitted.
    """
    if lock:
        _lock(visit_id)
    visit = db.session.get(Visit, visit_id, populate_existing=True)
    if visit is None:
        raise NotFound("No such session.")
    if isinstance(who, Participant):
        participant = next((p for p in visit.participants if p.id == who.id), None)
    else:
        participant = visit.participant_for(who.id)
    if participant is None:
        raise NotFound("No such session.")
    return visit, participant


def _actor(who: Who) -> audit.Actor:
    return audit.Actor.guest(who) if isinstance(who, Participant) else audit.Actor.user(who)


def _open_booked(visit: Visit, me: Participant, now: datetime) -> None:
    """The first arrival opens a booked visit's waiting room, once its links are open
    (staff may open it any time)."""
    opens_before = timedelta(minutes=current_app.config["GUEST_LINK_OPENS_MINUTES"])
    state = link_state(visit.state, visit.scheduled_for, opens_before, now)
    if me.role != "host" and state != LinkState.OPEN:
        raise Conflict("The waiting room is not open yet.", state=visit.state)
    visit.state = transition_visit(visit.state, VisitAction.OPEN, now).state
    db.session.flush()


def _lock(visit_id: int) -> None:
    db.session.execute(update(Visit).where(Visit.id == visit_id).values(state=Visit.state))


def _stream_for(participant: Participant) -> str:
    if participant.role == "host":
        return provider_stream(participant.user_id)
    return requester_stream(participant.user_id)


def _announce(outbox: Outbox, visit: Visit, changed: list[Participant]) -> None:
    summary = visit_dict(visit)
    if visit.source == VisitSource.REQUEST:  # the on-demand dashboards
        for participant in visit.participants:
            if participant.user_id is not None:
                outbox.add("visit_updated", _stream_for(participant), summary)
    announce_row(outbox, visit)
    for participant in changed:
        payload = {"visit_id": visit.id, "participant": participant_dict(participant)}
        outbox.add_call("participant_updated", visit_room(visit.id), payload)
        outbox.add_call("participant_updated", waiting_room(visit.id), payload)


def move_presence(
    participant: Participant,
    presence: Presence,
    now: datetime,
    sid: str | None,
    held: bool | None = None,
) -> None:
    """Conditional update: the row must still hold the presence we decided from."""
    values = {"presence": presence, "updated_at": now, "presence_sid": sid, "disconnected_at": None}
    if presence == Presence.WAITING and participant.presence != Presence.WAITING:
        values["waiting_since"] = now
    if held is not None:
        values["held"] = held
    result = db.session.execute(
        update(Participant)
        .where(Participant.id == participant.id, Participant.presence == participant.presence)
        .values(**values)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("Someone else changed this participant; try again.")


def publish_changes(outbox: Outbox, visit: Visit, changed: list[Participant]) -> None:
    """Commit, then tell the dashboards, the schedule and the call rooms (and whatever the
    outbox already holds)."""
    db.session.flush()
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    changed_ids = {p.id for p in changed}
    _announce(outbox, visit, [p for p in visit.participants if p.id in changed_ids])
    outbox.stamp()
    db.session.commit()
    outbox.publish()


def enter_visit(who: Who, visit_id: int, sid: str, now: datetime | None = None) -> str:
    """Open the visit's room: the host enters the meeting, anyone else the waiting room.

    When the host enters, the visit goes in_call and everyone waiting is admitted; someone
    arriving while the host is in the meeting is admitted at once. Emits visit_updated to
    the participants' dashboards and participant_updated to the call rooms. Returns the
    user's presence.
    """
    now = now or utcnow()
    # populate_existing in load_visit reloads the participants too, after the lock.
    visit, me = load_visit(who, visit_id, lock=True)
    if visit.state == VisitState.SCHEDULED:
        _open_booked(visit, me, now)
    if visit.state not in (VisitState.OPEN, VisitState.IN_CALL):
        raise Conflict("This session has ended.", state=visit.state)
    if me.presence == Presence.REMOVED:
        raise Conflict("You were removed from this session.", state=visit.state)
    if me.role != "host":
        audit.record(_actor(who), "enter", visit=visit, now=now)
    changed = [me]
    limit = current_app.config["CALL_MESH_LIMIT"]
    in_call = sum(p.presence == Presence.ADMITTED for p in visit.participants if p.id != me.id)
    if me.role == "host":
        if visit.state == VisitState.OPEN:
            visit.state = transition_visit(visit.state, VisitAction.START_CALL, now).state
            visit.started_at = now
        presence = arrival_presence(me.presence, visit.state, True, now).presence
        move_presence(me, presence, now, sid)
        in_call += 1
        # The patient comes in with the host; anyone else waits for an explicit Admit.
        for other in visit.participants:
            if (
                other.id != me.id
                and other.presence == Presence.WAITING
                and lets_in_on_entry(other.role, other.held)
                and admission_refusal(in_call, limit) is None
            ):
                admitted = transition_presence(other.presence, PresenceAction.ADMIT, now)
                move_presence(other, admitted.presence, now, other.presence_sid)
                changed.append(other)
                in_call += 1
                audit.record(
                    _actor(who), "admit", visit=visit, detail={"participant_id": other.id}, now=now
                )
    else:
        host_in_call = any(
            p.role == "host" and p.presence == Presence.ADMITTED for p in visit.participants
        )
        self_admitted = lets_in_on_entry(me.role, me.held) and (
            me.presence == Presence.ADMITTED or admission_refusal(in_call, limit) is None
        )
        presence = arrival_presence(
            me.presence, visit.state, host_in_call, now, self_admitted
        ).presence
        move_presence(me, presence, now, sid)
    publish_changes(Outbox(), visit, changed)
    return presence.value


def leave_visit(who: Who, visit_id: int, sid: str, now: datetime | None = None) -> None:
    """The user hangs up or closes the room; the visit goes on for the others.

    When the host leaves, whoever was admitted goes back to the waiting room (their
    waiting clock starts again) until the host enters again.
    """
    now = now or utcnow()
    visit, me = load_visit(who, visit_id, lock=True)
    _leave(visit, me, sid, now)


def _leave(visit: Visit, me: Participant, sid: str, now: datetime) -> None:
    # A stale connection (an old tab, a reload) must not undo a newer arrival.
    if me.presence_sid != sid:
        return
    try:
        presence = transition_presence(me.presence, PresenceAction.LEAVE, now).presence
    except InvalidTransition:
        return
    move_presence(me, presence, now, None)
    changed = [me]
    hosts_left = not any(
        p.role == "host" and p.presence == Presence.ADMITTED
        for p in visit.participants
        if p.id != me.id
    )
    if me.role == "host" and hosts_left:
        others = {p.id: p for p in visit.participants if p.id != me.id}
        moved = host_departure({pid: p.presence for pid, p in others.items()}, now)
        for participant_id, outcome in moved.items():
            other = others[participant_id]
            move_presence(other, outcome.presence, now, other.presence_sid)
            changed.append(other)
    publish_changes(Outbox(), visit, changed)


def disconnect_sid(sid: str, now: datetime | None = None) -> list[int]:
    """A Socket.IO connection closed: whoever it held in a waiting room or call is
    "reconnecting". They keep their place for RECONNECT_GRACE_SECONDS, so a reload or a
    dropped network brings them back into the same call (join_visit on a new connection);
    the job presence_grace lets them go after that. Emits participant_updated. Returns the
    ids of the visits it was in.
    """
    now = now or utcnow()
    grace = current_app.config["RECONNECT_GRACE_SECONDS"]
    held = db.session.scalars(select(Participant).where(Participant.presence_sid == sid)).all()
    dropped = []
    for participant in held:
        _lock(participant.visit_id)
        db.session.refresh(participant)
        if participant.presence_sid != sid:  # a newer connection holds them now
            db.session.rollback()
            continue
        if grace <= 0:
            try:
                _leave(participant.visit, participant, sid, now)
            except Conflict:
                continue
        else:
            participant.disconnected_at = now
            enqueue(
                "presence_grace",
                now + timedelta(seconds=grace),
                visit_id=participant.visit_id,
                participant_id=participant.id,
                payload={"sid": sid},
            )
            publish_changes(Outbox(), participant.visit, [participant])
        dropped.append(participant.visit_id)
    return dropped


@handles("presence_grace")
def end_grace(job: Job, now: datetime) -> None:
    """The grace period of a dropped connection ran out: unless they came back on a new
    connection (or left or were moved meanwhile), they have left."""
    participant = db.session.get(Participant, job.participant_id) if job.participant_id else None
    if participant is None:
        return
    _lock(participant.visit_id)
    db.session.refresh(participant)
    sid = job.payload.get("sid")
    if participant.disconnected_at is None or participant.presence_sid != sid:
        db.session.rollback()
        return
    _leave(participant.visit, participant, sid, now)


def end_visit(user: User, visit_id: int, now: datetime | None = None) -> Visit:
    """The host ends the session for everyone. Emits visit_updated and visit_ended."""
    now = now or utcnow()
    visit, me = load_visit(user, visit_id, lock=True)
    if me.role != "host":
        raise Forbidden("Only the host can end the session.")
    try:
        state = transition_visit(visit.state, VisitAction.END, now).state
    except InvalidTransition:
        raise Conflict("This session has already ended.", state=visit.state) from None
    result = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.state == visit.state)
        .values(state=state, ended_at=now)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("This session changed; reload.", state=visit.state)
    audit.record(audit.Actor.user(user), "end", visit=visit, now=now)
    close_rooms(visit, now, "ended")
    return visit


def close_rooms(visit: Visit, now: datetime, reason: str) -> None:
    """The visit is over (ended, cancelled or completed: its state already changed in
    this transaction). Whoever is still in its rooms leaves; the rooms hear visit_ended
    with the reason; dashboards and the clinic schedule are told. Commits."""
    changed = []
    for participant in visit.participants:
        if participant.presence in (Presence.WAITING, Presence.ADMITTED):
            move_presence(participant, Presence.LEFT, now, None)
            changed.append(participant)
    outbox = Outbox()
    ended = {"visit_id": visit.id, "reason": reason}
    outbox.add_call("visit_ended", visit_room(visit.id), ended)
    outbox.add_call("visit_ended", waiting_room(visit.id), ended)
    publish_changes(outbox, visit, changed)


def take_visit(user: User, visit_id: int, now: datetime | None = None) -> Participant:
    """A provider of the visit's clinic takes its patient from the schedule: they join the
    visit as a host (unless they already are one). Refused while a colleague is with the
    patient: no second provider takes them. Commits."""
    from app.services.clinics import is_member

    now = now or utcnow()
    _lock(visit_id)
    visit = db.session.get(Visit, visit_id, populate_existing=True)
    if (
        visit is None
        or visit.clinic_id is None
        or user.role != Role.PROVIDER
        or not is_member(user.id, visit.clinic_id)
    ):
        raise NotFound("No such session.")
    if visit.state not in {s.value for s in LIVE_VISIT_STATES}:
        raise Conflict("This session has ended.", state=visit.state)
    mine = visit.participant_for(user.id)
    if mine is not None:
        db.session.rollback()
        return mine
    with_patient = next(
        (p for p in visit.participants if p.role == "host" and p.presence == Presence.ADMITTED),
        None,
    )
    if with_patient is not None:
        raise Conflict(f"{with_patient.display_name} is with the patient.", state=visit.state)
    mine = Participant(user_id=user.id, role="host", presence="absent", updated_at=now)
    visit.participants.append(mine)
    audit.record(audit.Actor.user(user), "take", visit=visit, now=now)
    db.session.commit()
    return mine


def live_visits_for(user: User, role: str) -> list[Visit]:
    return db.session.scalars(
        select(Visit)
        .join(Participant, Participant.visit_id == Visit.id)
        .where(
            Participant.user_id == user.id,
            Participant.role == role,
            Visit.source == VisitSource.REQUEST,
            Visit.state.in_([s.value for s in LIVE_VISIT_STATES]),
        )
        .order_by(Visit.created_at.desc(), Visit.id.desc())
    ).all()
