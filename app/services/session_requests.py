"""On-demand requests: ask, accept, decline, cancel, expire, dismiss.

Every transition is one conditional UPDATE (… WHERE state = 'pending'): when two racing
callers both pass the domain check, the database lets exactly one of them win and the
others get Conflict with the state that beat them.
"""

from __future__ import annotations

import functools
from datetime import datetime
from enum import Enum

from flask import current_app
from sqlalchemy import Insert, Select, Update, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.metrics import observe_accept
from app.models import Participant, Role, SessionRequest, User, Visit
from app.models.types import utcnow
from app.realtime.publish import Outbox, provider_stream, requester_stream
from app.services.availability import lock_provider
from app.services.clinics import home_clinic_staff
from app.services.errors import Conflict, Invalid, NotFound
from app.services.jobs import enqueue
from app.services.request_queue import announce_queue, queued_dict
from app.services.schedule import announce_row
from app.services.serialize import REQUEST_PEOPLE, request_dict, visit_dict
from app.services.text import clean_text
from clinicqueue import (
    UNAVAILABLE_NOTE,
    DeclineReason,
    InvalidTransition,
    RequestAction,
    RequestBlocked,
    RequestState,
    VisitSource,
    VisitState,
    decide_new_request,
    transition_request,
)
from clinicqueue.request import READ_UNTIL_DISMISSED, OpenRequest, can_dismiss
from clinicqueue.visit import LIVE_VISIT_STATES

MAX_NOTE_LENGTH = 500


# The timers of a pending request (app/services/request_timers.py does each one's work).
TIMERS = (
    ("request_remind", "REQUEST_ALERT_REPEAT"),
    ("request_escalate", "REQUEST_ESCALATE_AFTER"),
    ("request_expire", "REQUEST_EXPIRE_AFTER"),
)


def _announce(outbox: Outbox, req: SessionRequest, now: datetime) -> None:
    """The request stopped waiting: tell both sides, and everyone behind it in the queue."""
    payload = request_dict(req)
    outbox.add("request_updated", provider_stream(req.provider_id), payload)
    outbox.add("request_updated", requester_stream(req.requester_id), payload)
    announce_queue(outbox, req.provider_id, now)


# The statements every answer runs are built once (functools.cache), with bound
# parameters: SQLAlchemy then finds each one's compiled form by a cache key it has already
# computed, instead of building the statement and its key again on every call.


@functools.cache
def _load_statement() -> Select:
    """A request with its people (REQUEST_PEOPLE), read afresh even if the session has it."""
    return (
        select(SessionRequest)
        .where(SessionRequest.id == bindparam("request_id"))
        .options(*REQUEST_PEOPLE)
        .execution_options(populate_existing=True)
    )


def _load(request_id: int) -> SessionRequest:
    req = db.session.scalars(_load_statement(), {"request_id": request_id}).first()
    if req is None:
        raise NotFound("No such request.")
    return req


def _conflict(request_id: int) -> Conflict:
    db.session.rollback()
    current = _load(request_id)
    return Conflict(
        f"The request was already {current.state}.",
        state=current.state,
        request=request_dict(current),
    )


def _check(req: SessionRequest, action: RequestAction, now: datetime):
    """The domain's verdict on the move (Conflict when it is not allowed from here)."""
    try:
        return transition_request(req.state, action, now)
    except InvalidTransition:
        raise _conflict(req.id) from None


@functools.cache
def _transition_statement(columns: tuple[str, ...]) -> Update:
    """UPDATE session_requests SET <columns> WHERE id = :request_id AND state = :from_state,
    on the table itself (the ORM's bulk-update path adds nothing here: the caller sets what
    it wrote on the loaded request)."""
    table = SessionRequest.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("request_id"), table.c.state == bindparam("from_state"))
        .values({name: bindparam(f"set_{name}", type_=table.c[name].type) for name in columns})
    )


def _apply(req: SessionRequest, action: RequestAction, now: datetime, **values) -> SessionRequest:
    """Check the move with the domain, then make it as one conditional update."""
    outcome = _check(req, action, now)
    values = {"state": outcome.state, "updated_at": now, **values}
    values = {key: v.value if isinstance(v, Enum) else v for key, v in values.items()}
    params = {f"set_{key}": value for key, value in values.items()}
    params.update(request_id=req.id, from_state=req.state)
    result = db.session.execute(_transition_statement(tuple(values)), params)
    if result.rowcount != 1:
        raise _conflict(req.id)
    # The row is now exactly what was loaded plus these values (the update matched it in
    # the state it was loaded in, and holds its lock): no need to read it again.
    for key, value in values.items():
        set_committed_value(req, key, value)
    return req


def create_request(
    requester: User, provider_id: int, service_id: int | None, now: datetime | None = None
) -> SessionRequest:
    """A requester asks a provider for a session now.

    Emits request_created to the provider when it is pending (with its timers: the repeated
    alert, the escalation and the expiry, as jobs in the same transaction); to an
    unavailable provider the request is created declined and only the requester hears of it.
    Asking again reads (dismisses) an earlier expired request to the same provider.
    """
    now = now or utcnow()
    provider = lock_provider(provider_id)
    if (
        provider is None
        or provider.role != Role.PROVIDER
        or not provider.active
        # Another organisation's provider does not exist for this requester.
        or provider.organisation_id != requester.organisation_id
    ):
        db.session.rollback()
        raise Invalid("Choose a provider.", fields={"provider_id": "No such provider."})
    service = _choose_service(provider, service_id)
    earlier = db.session.scalars(
        select(SessionRequest).where(
            SessionRequest.requester_id == requester.id,
            SessionRequest.provider_id == provider.id,
            or_(
                SessionRequest.state == RequestState.PENDING,
                (SessionRequest.state == RequestState.DECLINED)
                & SessionRequest.dismissed_at.is_(None),
            ),
        )
    ).all()
    try:
        outcome = decide_new_request(
            provider.available,
            [OpenRequest(RequestState(r.state), r.dismissed_at is not None) for r in earlier],
            now,
            live_session=has_live_session(requester.id, provider.id),
        )
    except RequestBlocked as blocked:
        db.session.rollback()
        raise Conflict(str(blocked), reason=blocked.reason, request=None) from None
    req = SessionRequest(
        requester_id=requester.id,
        provider_id=provider.id,
        service_id=service.id if service else None,
        state=outcome.state,
        decline_note=UNAVAILABLE_NOTE if outcome.decline_reason else None,
        decline_reason=outcome.decline_reason,
        created_at=now,
        updated_at=now,
    )
    db.session.add(req)
    try:
        db.session.flush()
    except IntegrityError:
        # The partial unique index caught a concurrent duplicate from the same requester.
        db.session.rollback()
        raise Conflict(
            "You already have a request waiting for this provider.", reason="pending"
        ) from None
    db.session.execute(
        update(SessionRequest)
        .where(
            SessionRequest.requester_id == requester.id,
            SessionRequest.provider_id == provider.id,
            SessionRequest.state == RequestState.EXPIRED,
            SessionRequest.dismissed_at.is_(None),
        )
        .values(dismissed_at=now)
    )
    outbox = Outbox()
    if outcome.state == RequestState.PENDING:
        config = current_app.config
        for kind, setting in TIMERS:
            enqueue(kind, now + config[setting], payload={"request_id": req.id})
        outbox.add("request_created", provider_stream(req.provider_id), request_dict(req))
    outbox.add("request_updated", requester_stream(req.requester_id), queued_dict(req, now))
    outbox.stamp()
    db.session.commit()
    outbox.publish()
    return req


def has_live_session(requester_id: int, provider_id: int) -> bool:
    """Whether the requester already has an accepted session with this provider that has
    not ended (waiting to start, or in the call)."""
    return (
        db.session.scalar(
            select(Visit.id)
            .join(Participant, Participant.visit_id == Visit.id)
            .where(
                Visit.host_id == provider_id,
                Visit.state.in_([s.value for s in LIVE_VISIT_STATES]),
                Participant.user_id == requester_id,
            )
            .limit(1)
        )
        is not None
    )


def _choose_service(provider: User, service_id: int | None):
    offered = provider.services
    if service_id is None:
        if len(offered) > 1:
            raise Invalid(
                "Choose a service.", fields={"service_id": "This provider offers several."}
            )
        return offered[0] if offered else None
    chosen = next((s for s in offered if s.id == service_id), None)
    if chosen is None:
        raise Invalid(
            "Choose a service this provider offers.",
            fields={"service_id": "Not offered by this provider."},
        )
    return chosen


def _own_request(provider: User, request_id: int) -> SessionRequest:
    req = _load(request_id)
    if req.provider_id != provider.id:
        raise NotFound("No such request.")  # another's request does not exist for you
    return req


def accept_request(provider: User, request_id: int, now: datetime | None = None) -> SessionRequest:
    """The provider accepts; the request becomes a visit with a waiting room.

    Emits request_updated and visit_updated to the provider and the requester.
    """
    now = now or utcnow()
    req = _own_request(provider, request_id)
    _check(req, RequestAction.ACCEPT, now)
    clinic_id, staff_ids = home_clinic_staff(req.provider_id)
    # The visit is written first so that the one conditional update both accepts and links
    # it; when another answer won the race, the rollback takes the visit away again.
    visit_row, participant_rows = _insert_visit(req, clinic_id, now)
    req = _apply(req, RequestAction.ACCEPT, now, visit_id=visit_row["id"])
    visit = _visit_as_written(req, visit_row, participant_rows)
    outbox = Outbox()
    _announce(outbox, req, now)
    summary = visit_dict(visit)
    outbox.add("visit_updated", provider_stream(req.provider_id), summary)
    outbox.add("visit_updated", requester_stream(req.requester_id), summary)
    # A visit made a moment ago in this transaction has no jobs and no tasks yet.
    announce_row(outbox, visit, now, jobs=[], open_tasks={}, staff_ids=staff_ids)
    outbox.stamp()
    asked_at = req.created_at  # read before the commit expires it
    _commit_as_written()
    observe_accept(asked_at, now)
    outbox.publish()
    return req


@functools.cache
def _insert_statement(table) -> Insert:
    """INSERT of one row or many, handing back every column as written (defaults too),
    in the order the rows were given."""
    return insert(table).returning(*table.c, sort_by_parameter_order=True)


def _insert_visit(req: SessionRequest, clinic_id: int | None, now: datetime):
    """Write the request's visit and its two participants (host and patient) with two
    INSERTs, on the tables themselves: the ORM's unit of work was the dearest part of an
    accept, and an accept writes these rows and nothing else. Returns the rows written."""
    visit_row = (
        db.session.execute(
            _insert_statement(Visit.__table__),
            {
                "source": VisitSource.REQUEST.value,
                "state": VisitState.OPEN.value,
                "host_id": req.provider_id,
                "service_id": req.service_id,
                # On the provider's clinic schedule (Live clinic list), when they have one.
                "clinic_id": clinic_id,
                "created_at": now,
            },
        )
        .mappings()
        .one()
    )
    people = ((req.provider_id, "host"), (req.requester_id, "patient"))
    participant_rows = (
        db.session.execute(
            _insert_statement(Participant.__table__),
            [
                {
                    "visit_id": visit_row["id"],
                    "user_id": user_id,
                    "role": role,
                    "presence": "absent",
                    "updated_at": now,
                }
                for user_id, role in people
            ],
        )
        .mappings()
        .all()
    )
    return visit_row, participant_rows


def _visit_as_written(req: SessionRequest, visit_row, participant_rows) -> Visit:
    """The visit just inserted, as the session would have loaded it: every column from the
    rows the INSERTs returned, its host, service and participants' people from the request
    already loaded (anything else would be read on first use, like any loaded object)."""
    people = {req.provider_id: req.provider, req.requester_id: req.requester}
    participants = []
    for row in participant_rows:
        participant = Participant(**row)
        make_transient_to_detached(participant)
        set_committed_value(participant, "user", people[row["user_id"]])
        participants.append(participant)
    visit = Visit(**visit_row)
    make_transient_to_detached(visit)
    set_committed_value(visit, "host", req.provider)
    set_committed_value(visit, "service", req.service)
    set_committed_value(visit, "participants", participants)
    db.session.add(visit)  # with its participants: persistent, nothing left to write
    return visit


def _commit_as_written() -> None:
    """Commit without expiring what the transaction loaded and wrote. It has read these
    rows and held the ones it changed until the commit, so they are what was committed:
    the caller answers from them without reading them all again."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def decline_request(
    provider: User, request_id: int, note: str | None = None, now: datetime | None = None
) -> SessionRequest:
    """The provider declines, with an optional note. Emits request_updated to both."""
    now = now or utcnow()
    note = clean_text(note or "") or None
    if not current_app.config["DECLINE_NOTES_ENABLED"]:
        note = None
    elif note and len(note) > MAX_NOTE_LENGTH:
        raise Invalid(
            "The note is too long.",
            fields={"note": f"Keep it under {MAX_NOTE_LENGTH} characters."},
        )
    req = _own_request(provider, request_id)
    req = _apply(
        req, RequestAction.DECLINE, now, decline_note=note, decline_reason=DeclineReason.DECLINED
    )
    return _commit_and_announce(req, now)


def cancel_request(requester: User, request_id: int, now: datetime | None = None):
    """The requester withdraws a pending request. Emits request_updated to both."""
    now = now or utcnow()
    req = _load(request_id)
    if req.requester_id != requester.id:
        raise NotFound("No such request.")
    req = _apply(req, RequestAction.CANCEL, now)
    return _commit_and_announce(req, now)


def expire_request(request_id: int, now: datetime) -> SessionRequest | None:
    """Nobody answered in time (the request_expire job): a pending request becomes expired,
    by the same conditional update as any answer, so exactly one of them wins. Emits
    request_updated to both sides and the queue; None when it was no longer pending."""
    req = db.session.get(SessionRequest, request_id, populate_existing=True)
    if req is None or req.state != RequestState.PENDING:
        db.session.rollback()
        return None
    try:
        req = _apply(req, RequestAction.EXPIRE, now)
    except Conflict:
        return None  # answered or withdrawn a moment before: that one won
    return _commit_and_announce(req, now)


def dismiss_request(requester: User, request_id: int, now: datetime | None = None):
    """The requester has read the decline (or the expiry); the provider may be asked again.

    Emits request_updated to the requester.
    """
    now = now or utcnow()
    req = _load(request_id)
    if req.requester_id != requester.id:
        raise NotFound("No such request.")
    if not can_dismiss(req.state, req.dismissed_at is not None):
        raise Conflict(
            "Only a declined or expired request can be dismissed.",
            state=req.state,
            request=request_dict(req),
        )
    result = db.session.execute(
        update(SessionRequest)
        .where(
            SessionRequest.id == req.id,
            SessionRequest.state.in_([s.value for s in READ_UNTIL_DISMISSED]),
            SessionRequest.dismissed_at.is_(None),
        )
        .values(dismissed_at=now, updated_at=now)
    )
    if result.rowcount != 1:
        db.session.rollback()
        current = _load(req.id)
        raise Conflict(
            "The request was already dismissed.", state=current.state, request=request_dict(current)
        )
    req = _load(req.id)
    outbox = Outbox()
    outbox.add("request_updated", requester_stream(req.requester_id), request_dict(req))
    outbox.stamp()
    db.session.commit()
    outbox.publish()
    return req


def _commit_and_announce(req: SessionRequest, now: datetime) -> SessionRequest:
    outbox = Outbox()
    _announce(outbox, req, now)
    outbox.stamp()
    db.session.commit()
    outbox.publish()
    return req


def get_request(user: User, request_id: int) -> SessionRequest:
    """A request its requester or provider may read."""
    req = _load(request_id)
    if user.id not in (req.requester_id, req.provider_id) and user.role != Role.ADMIN:
        raise NotFound("No such request.")
    return req
