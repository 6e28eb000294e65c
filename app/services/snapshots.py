"""What a dashboard shows right now, with the stream version it was taken at."""

from __future__ import annotations

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Role, Service, SessionRequest, StreamVersion, User, provider_services
from app.realtime.publish import (
    DIRECTORY_PREFIX,
    clinic_stream,
    directory_stream,
    provider_stream,
    requester_stream,
)
from app.services.clinics import clinic_for, clinics_of
from app.services.errors import Forbidden
from app.services.request_queue import queued_dicts
from app.services.schedule import day_schedule, today_in
from app.services.serialize import provider_summary, request_dict, visit_dict
from app.services.visits import live_visits_for
from clinicqueue import RequestState
from clinicqueue.request import READ_UNTIL_DISMISSED


def streams_for(user: User) -> list[str]:
    """The live streams a user may follow: their dashboard's, their organisation's
    directory, and the schedule of each clinic they work in."""
    clinics = [clinic_stream(c.id) for c in clinics_of(user)] if user.role != Role.REQUESTER else []
    directory = directory_stream(user.organisation_id)
    if user.role == Role.PROVIDER:
        return [provider_stream(user.id), directory, *clinics]
    if user.role == Role.REQUESTER:
        return [requester_stream(user.id), directory]
    return [directory, *clinics]


def take_snapshot(user: User, stream: str) -> dict:
    """{stream, version, data} for one of the user's streams."""
    if stream not in streams_for(user):
        raise Forbidden("You cannot follow this stream.")
    return take_snapshots(user, [stream])[0]


def take_snapshots(user: User, streams: list[str]) -> list[dict]:
    """take_snapshot of each of `streams`, which must come from streams_for(user), in one
    read: a connecting dashboard's, without asking again which streams it may follow and
    reloading the user for each one (bench/connect_storm.py)."""
    # Versions first: the data read after them is at least that new, and events are
    # applied idempotently, so a newer event after the snapshot does no harm.
    versions = dict(
        db.session.execute(
            select(StreamVersion.name, StreamVersion.version).where(StreamVersion.name.in_(streams))
        ).all()
    )
    db.session.expire_all()
    snapshots = []
    for stream in streams:
        if stream.startswith(DIRECTORY_PREFIX):
            data = {"providers": list_providers(int(stream.removeprefix(DIRECTORY_PREFIX)))}
        elif stream.startswith("clinic:"):
            data = clinic_today(user, int(stream.split(":", 1)[1]))
        elif stream.startswith("provider:"):
            data = provider_dashboard(user)
        else:
            data = requester_dashboard(user)
        snapshots.append({"stream": stream, "version": versions.get(stream, 0), "data": data})
    db.session.rollback()  # end the read transaction; nothing was written
    return snapshots


def list_providers(organisation_id: int) -> list[dict]:
    """The organisation's active providers, by name (a directory's snapshot).

    Read as rows, not ORM objects: every connecting dashboard reads it, and building a
    User and its Services for each provider was 40% of the connect handler's time when
    hundreds of dashboards reconnected at once (BENCHMARKS.md, kill -9)."""
    scope = (
        User.role == Role.PROVIDER,
        User.active.is_(True),
        User.organisation_id == organisation_id,
    )
    providers = {
        row.id: provider_summary(row.id, row.name, row.available, [])
        for row in db.session.execute(
            select(User.id, User.name, User.available).where(*scope).order_by(User.name, User.id)
        )
    }
    offered = db.session.execute(
        select(provider_services.c.provider_id, Service.id, Service.name)
        .join(Service, Service.id == provider_services.c.service_id)
        .join(User, User.id == provider_services.c.provider_id)
        .where(*scope)
        .order_by(Service.name)
    )
    for provider_id, service_id, name in offered:
        providers[provider_id]["services"].append({"id": service_id, "name": name})
    return list(providers.values())


def provider_dashboard(provider: User) -> dict:
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


def requester_dashboard(requester: User) -> dict:
    """The requester's requests still on their screen (pending, with their place in the
    queue; declined or expired and not yet dismissed) and their live sessions."""
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


def clinic_today(user: User, clinic_id: int) -> dict:
    """A clinic stream's snapshot: today's rows in the clinic's zone. A schedule page
    showing another day reads that day from the API, with the version it was read at."""
    clinic = clinic_for(user, clinic_id)
    today = today_in(clinic.timezone)
    return {"date": today.isoformat(), "visits": day_schedule(user, clinic.id, today)}
