"""The people of a visit: who takes part, and what the host does with them. Admit and
Deny someone waiting; Remove someone from the call or Move them back to the waiting room;
ask them to mute; add someone during the call, who gets their own link at once.

Only a host of the visit changes people (a guest, or the patient, never does). Removed
and denied people are out for good: their link stops working, and the authority registry
closes a guest's sockets. Each change is a conditional update of the presence it was
decided from, audited, and published after the commit (participant_updated to both call
rooms; peer_left to the call when someone leaves it), with the person's connection moved
between the call and waiting rooms so that it hears only what it may.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Participant, Role, User, Visit
from app.models.types import utcnow
from app.realtime.publish import Outbox, visit_room, waiting_room
from app.services import audit
from app.services.clinics import is_member
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.guests import issue_link, revoke_links
from app.services.invitations import enqueue_message, read_person, visit_for_staff
from app.services.serialize import participant_dict
from app.services.visits import Who, load_visit, move_presence, publish_changes
from clinicqueue import (
    InvalidTransition,
    Presence,
    PresenceAction,
    admission_refusal,
    transition_presence,
)
from clinicqueue.visit import LIVE_VISIT_STATES

ACTIONS = {
    "admit": PresenceAction.ADMIT,
    "deny": PresenceAction.DENY,
    "remove": PresenceAction.REMOVE,
    "hold": PresenceAction.MOVE_BACK,
}
# What the person is told, and what 409 says when their presence does not allow it.
NOT_NOW = {
    "admit": "Only someone in the waiting room can be admitted.",
    "deny": "Only someone in the waiting room can be denied.",
    "remove": "Only someone in the call can be removed.",
    "hold": "Only someone in the call can be moved back to the waiting room.",
}


def person_dict(participant: Participant) -> dict:
    """What the panel and the API show of someone: participant_dict and their description."""
    return {
        **{k: v for k, v in participant_dict(participant).items() if k != "user_id"},
        "description": participant.description,
    }


def _visit_for(user: User, visit_id: int, lock: bool = False) -> tuple[Visit, Participant | None]:
    """The visit, to one of its participants or a member of its clinic's staff; NotFound
    to anyone else. With the caller's participant when they are one."""
    try:
        return load_visit(user, visit_id, lock=lock)
    except NotFound:
        return visit_for_staff(user, visit_id, lock=lock), None


def people_of(who: Who, visit_id: int) -> list[Participant]:
    """Everyone in the visit, in the order they were added."""
    if isinstance(who, Participant):
        visit, _ = load_visit(who, visit_id)
    else:
        visit, _ = _visit_for(who, visit_id)
    return list(visit.participants)


def _as_host(who: Who, visit_id: int) -> tuple[Visit, Participant]:
    visit, me = load_visit(who, visit_id, lock=True)
    if me.role != "host":
        db.session.rollback()
        raise Forbidden("Only the host can change who takes part.")
    return visit, me


def change_presence(
    who: Who, visit_id: int, participant_id: int, action: str, now: datetime | None = None
) -> Participant:
    """The host admits or denies someone waiting, removes someone from the call or moves
    them back to the waiting room. Emits participant_updated (and peer_left when they
    leave the call). Commits. Conflict when their presence does not allow it."""
    now = now or utcnow()
    visit, me = _as_host(who, visit_id)
    target = next((p for p in visit.participants if p.id == participant_id), None)
    if target is None:
        db.session.rollback()
        raise NotFound("No such participant.")
    if target.role == "host":
        db.session.rollback()
        raise Conflict("Hosts come and go by themselves.", presence=target.presence)
    try:
        presence = transition_presence(target.presence, ACTIONS[action], now).presence
    except InvalidTransition:
        db.session.rollback()
        raise Conflict(NOT_NOW[action], presence=target.presence) from None
    outbox = Outbox()
    sid = target.presence_sid
    if action == "admit":
        if me.presence != Presence.ADMITTED:
            db.session.rollback()
            raise Conflict("Enter the call before admitting anyone.", presence=target.presence)
        in_call = sum(p.presence == Presence.ADMITTED for p in visit.participants)
        refusal = admission_refusal(in_call, current_app.config["CALL_MESH_LIMIT"])
        if refusal:
            db.session.rollback()
            raise Conflict(refusal, presence=target.presence)
        move_presence(target, presence, now, sid, held=False)
        outbox.move(sid, leave=(waiting_room(visit.id),), enter=(visit_room(visit.id),))
    elif action == "hold":
        move_presence(target, presence, now, sid, held=True)
        outbox.add_call("peer_left", visit_room(visit.id), {"visit_id": visit.id, "sid": sid})
        outbox.move(sid, leave=(visit_room(visit.id),), enter=(waiting_room(visit.id),))
    else:  # deny, remove: out for good, and their link with them
        move_presence(target, presence, now, None)
        revoke_links(visit.id, target.id)
        if action == "remove":
            outbox.add_call("peer_left", visit_room(visit.id), {"visit_id": visit.id, "sid": sid})
        outbox.move(sid, leave=(visit_room(visit.id), waiting_room(visit.id)))
    audit.record(
        audit.Actor.user(who) if isinstance(who, User) else audit.Actor.guest(who),
        action,
        visit=visit,
        detail={"participant_id": target.id},
        now=now,
    )
    publish_changes(outbox, visit, [target])
    return db.session.get(Participant, target.id)


def ask_to_mute(who: Who, visit_id: int, participant_id: int) -> None:
    """The host asks someone in the call to mute: their page mutes its microphone, and
    they can unmute. Emits mute_requested to that person's connection."""
    visit, me = _as_host(who, visit_id)
    target = next((p for p in visit.participants if p.id == participant_id), None)
    if target is None:
        db.session.rollback()
        raise NotFound("No such participant.")
    if target.presence != Presence.ADMITTED or not target.presence_sid or target.id == me.id:
        db.session.rollback()
        raise Conflict(
            "Only someone else in the call can be asked to mute.", presence=target.presence
        )
    sid = target.presence_sid
    db.session.rollback()
    outbox = Outbox()
    outbox.add_call("mute_requested", sid, {"visit_id": visit.id, "by": me.display_name})
    outbox.publish()


def _colleague(visit: Visit, email: str | None) -> User | None:
    """The provider this email belongs to, when they work in the visit's clinic (any
    provider, for an on-demand visit of no clinic): added, they join as staff."""
    if not email:
        return None
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None or user.role != Role.PROVIDER or not user.active:
        return None
    if visit.clinic_id is not None and not is_member(user.id, visit.clinic_id):
        return None
    return user


def add_participant(user: User, visit_id: int, data, now: datetime | None = None) -> Participant:
    """The host (or staff of the visit's clinic) adds someone: name, email or mobile, and
    an optional description. They get their own link at once, by email and/or SMS, and
    wait to be admitted. A provider of the clinic (by their email) joins as staff instead:
    their message links to the room, where they enter as a host and can be handed the
    visit. Refused beyond the call's limit. Emits participant_updated. Commits."""
    now = now or utcnow()
    visit, me = _visit_for(user, visit_id, lock=True)
    if me is not None and me.role != "host":
        db.session.rollback()
        raise Forbidden("Only the host can add people to this session.")
    if visit.state not in {s.value for s in LIVE_VISIT_STATES}:
        db.session.rollback()
        raise Conflict("This session is over.", state=visit.state)
    fields: dict[str, str] = {}
    person = read_person(data, "person", fields, patient=False)
    if fields:
        db.session.rollback()
        raise Invalid(
            "Check the person's details.",
            fields={k.removeprefix("person."): v for k, v in fields.items()},
        )
    limit = current_app.config["CALL_MESH_LIMIT"]
    people = sum(p.presence != Presence.REMOVED for p in visit.participants)
    if people >= limit:
        db.session.rollback()
        raise Conflict(
            f"This session already has {people} people, the most a call here can hold "
            f"({limit}). Group calls for more people are not available yet.",
            state=visit.state,
        )
    colleague = _colleague(visit, person.email)
    if colleague is not None and visit.participant_for(colleague.id) is not None:
        db.session.rollback()
        raise Conflict(f"{colleague.name} is already in this session.", state=visit.state)
    guest = Participant(
        user_id=colleague.id if colleague else None,
        role="host" if colleague else "guest",
        name=None if colleague else person.name,
        email=person.email,
        mobile=person.mobile,
        description=person.description,
        presence="absent",
        updated_at=now,
    )
    visit.participants.append(guest)
    db.session.flush()
    if colleague is None:
        issue_link(guest)
    for channel, contact in (("email", guest.email), ("sms", guest.mobile)):
        if contact:
            enqueue_message(visit, guest, "send_join_now", now, channel)
    audit.record(
        audit.Actor.user(user),
        "add_participant",
        visit=visit,
        detail={"participant_id": guest.id},
        now=now,
    )
    publish_changes(Outbox(), visit, [guest])
    return db.session.get(Participant, guest.id)


def hand_over_host(
    who: Who, visit_id: int, participant_id: int, now: datetime | None = None
) -> Participant:
    """A host about to leave hands the visit to another member of staff in the call: the
    visit is theirs from now on (the schedule shows them; they end it). Emits
    participant_updated, host_changed and the visit's updates. Commits."""
    now = now or utcnow()
    visit, me = _as_host(who, visit_id)
    target = next((p for p in visit.participants if p.id == participant_id), None)
    if target is None:
        db.session.rollback()
        raise NotFound("No such participant.")
    staff = target.user is not None and target.user.role in (Role.PROVIDER,)
    if target.id == me.id or not staff or target.presence != Presence.ADMITTED:
        db.session.rollback()
        raise Conflict(
            "The host role goes only to another provider in the call.", presence=target.presence
        )
    visit.host_id = target.user_id
    target.role = "host"
    audit.record(
        audit.Actor.user(who),
        "hand_over",
        visit=visit,
        detail={"participant_id": target.id, "from_user_id": me.user_id},
        now=now,
    )
    outbox = Outbox()
    # Said in so many words, to everyone in the visit: the colleague's page tells them the
    # session is theirs now (they end it), and the others whom they are with.
    news = {
        "visit_id": visit.id,
        "host": {"participant_id": target.id, "user_id": target.user_id},
        "name": target.display_name,
        "by": me.display_name,
    }
    for room in (visit_room(visit.id), waiting_room(visit.id)):
        outbox.add_call("host_changed", room, news)
    publish_changes(outbox, visit, [target])
    return db.session.get(Participant, target.id)
