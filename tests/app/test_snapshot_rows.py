"""A dashboard's own snapshot is read as rows (app/services/snapshots.py): the same bytes as
the ORM reading it replaced, on a database holding every kind of request and session."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import or_, select, update

from app.extensions import db
from app.models import Participant, Role, Service, SessionRequest, User, Visit
from app.models.types import utcnow
from app.services.request_queue import queued_dicts
from app.services.serialize import provider_dict, request_dict, visit_dict
from app.services.snapshots import list_providers, provider_dashboard, requester_dashboard
from app.services.visits import live_visits_for
from clinicqueue import RequestState
from clinicqueue.request import READ_UNTIL_DISMISSED

# The ORM reading the rows replaced (commit 44981c8), kept here as the reference.


def orm_provider_dashboard(provider: User) -> dict:
    me = db.session.get(User, provider.id)
    pending = db.session.scalars(
        select(SessionRequest)
        .where(
            SessionRequest.provider_id == provider.id,
            SessionRequest.state == RequestState.PENDING,
        )
        .order_by(SessionRequest.created_at.desc(), SessionRequest.id.desc())
    ).all()
    return {
        "available": me.available,
        "requests": [request_dict(r) for r in pending],
        "sessions": [visit_dict(v) for v in live_visits_for(provider, "host")],
    }


def orm_list_providers(organisation_id: int) -> list[dict]:
    providers = db.session.scalars(
        select(User)
        .where(
            User.role == Role.PROVIDER,
            User.active.is_(True),
            User.organisation_id == organisation_id,
        )
        .order_by(User.name, User.id)
    ).all()
    return [provider_dict(p) for p in providers]


def orm_requester_dashboard(requester: User) -> dict:
    open_requests = db.session.scalars(
        select(SessionRequest)
        .where(
            SessionRequest.requester_id == requester.id,
            or_(
                SessionRequest.state == RequestState.PENDING,
                SessionRequest.state.in_([s.value for s in READ_UNTIL_DISMISSED])
                & SessionRequest.dismissed_at.is_(None),
            ),
        )
        .order_by(SessionRequest.created_at.desc(), SessionRequest.id.desc())
    ).all()
    return {
        "requests": queued_dicts(open_requests),
        "sessions": [visit_dict(v) for v in live_visits_for(requester, "patient")],
    }


def populate(make_user) -> tuple[list[int], list[int]]:
    """Providers and requesters with requests in every state (some at the same instant,
    some without a service, one with a note), and live and finished sessions from requests
    with every kind of participant (a guest with and without a name, one reconnecting, one
    held, one waiting)."""
    wound = make_user(Role.PROVIDER, name="Dr. Wound", services=["Wound care"], available=True)
    plain = make_user(Role.PROVIDER, name="Dr. Plain", available=True)
    both = make_user(Role.PROVIDER, name="Dr. Both", services=["Wound care", "Check-in"])
    # Two of one name (the id decides), one gone, and a requester are not listed twice.
    make_user(Role.PROVIDER, name="Dr. Both", services=["Check-in"])
    gone = make_user(Role.PROVIDER, name="Dr. Gone", services=["Check-in"])
    db.session.execute(update(User).where(User.id == gone.id).values(active=False))
    db.session.commit()
    providers = [wound, plain, both]
    requesters = [make_user(Role.REQUESTER, name=f"Station {n}") for n in range(4)]
    now = utcnow().replace(microsecond=0)
    service_id = db.session.scalar(select(Service.id).where(Service.name == "Wound care"))
    states = [
        ("pending", None, None, None),
        ("declined", "declined", "Busy today", None),
        ("declined", "unavailable", None, now),  # dismissed: off the screen
        ("expired", None, None, None),
        ("accepted", None, None, None),
        ("cancelled", None, None, None),
    ]
    n = 0
    for r, requester in enumerate(requesters):
        for p, provider in enumerate(providers):
            # Everyone waits for the first provider (a queue of four); the rest vary.
            state, reason, note, dismissed = states[0 if p == 0 else (r + p) % len(states)]
            created = now - timedelta(minutes=n % 3)  # some share an instant: id breaks ties
            db.session.add(
                SessionRequest(
                    requester_id=requester.id,
                    provider_id=provider.id,
                    service_id=service_id if p != 1 else None,
                    state=state,
                    decline_reason=reason,
                    decline_note=note,
                    dismissed_at=dismissed,
                    created_at=created,
                    updated_at=created + timedelta(seconds=40 + n),
                )
            )
            n += 1
    # An answered history for the queue estimates (accepted, and declined not dismissed).
    for k in range(4):
        db.session.add(
            SessionRequest(
                requester_id=requesters[k].id,
                provider_id=wound.id,
                service_id=service_id,
                state="accepted",
                created_at=now - timedelta(minutes=10 + k),
                updated_at=now - timedelta(minutes=9 + k),
            )
        )
    visits = [
        ("open", wound, requesters[0], service_id),
        ("in_call", wound, requesters[1], None),
        ("scheduled", plain, requesters[0], service_id),
        ("ended", wound, requesters[0], service_id),  # not live
    ]
    for v, (state, host, patient, service) in enumerate(visits):
        visit = Visit(
            source="request",
            state=state,
            host_id=host.id,
            service_id=service,
            created_at=now - timedelta(minutes=v % 2),
        )
        db.session.add(visit)
        db.session.flush()
        db.session.add_all(
            [
                Participant(visit_id=visit.id, user_id=host.id, role="host", presence="admitted"),
                Participant(
                    visit_id=visit.id,
                    user_id=patient.id,
                    role="patient",
                    presence="waiting",
                    waiting_since=now - timedelta(seconds=30),
                    disconnected_at=now if v == 1 else None,
                ),
                Participant(
                    visit_id=visit.id, role="guest", name="Aunt May", presence="admitted", held=True
                ),
                Participant(visit_id=visit.id, role="guest", presence="left"),
            ]
        )
    # A session from an invitation is not on a dashboard.
    invite = Visit(source="invite", state="open", host_id=wound.id, created_at=now)
    db.session.add(invite)
    db.session.flush()
    db.session.add(
        Participant(visit_id=invite.id, user_id=requesters[0].id, role="patient", presence="absent")
    )
    db.session.commit()
    return [u.id for u in providers], [u.id for u in requesters]


def as_sent(snapshot: dict) -> str:
    return json.dumps(snapshot)  # what Socket.IO sends: key order included


def test_rows_give_the_same_snapshots_as_the_orm(app, ctx, make_user):
    provider_ids, requester_ids = populate(make_user)
    organisation_id = db.session.get(User, provider_ids[0]).organisation_id
    directory = list_providers(organisation_id)
    assert as_sent(directory) == as_sent(orm_list_providers(organisation_id))
    assert len(directory) == 4 and sum(not p["services"] for p in directory) == 1
    seen_requests = seen_sessions = seen_places = 0
    for user_id in provider_ids:
        user = db.session.get(User, user_id)
        old, new = orm_provider_dashboard(user), provider_dashboard(user)
        assert as_sent(new) == as_sent(old)
        seen_requests += len(new["requests"])
        seen_sessions += len(new["sessions"])
    for user_id in requester_ids:
        user = db.session.get(User, user_id)
        old, new = orm_requester_dashboard(user), requester_dashboard(user)
        assert as_sent(new) == as_sent(old)
        seen_places += sum("position" in r for r in new["requests"])
        seen_sessions += len(new["sessions"])
        db.session.rollback()
    # Not a comparison of empty lists: requests, queue places and sessions were all there.
    assert seen_requests >= 4 and seen_places >= 4 and seen_sessions >= 6
