"""What a dashboard shows right now, with the stream version it was taken at."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select

from app.extensions import db
from app.models import (
    Participant,
    Role,
    Service,
    SessionRequest,
    StreamVersion,
    User,
    Visit,
    provider_services,
)
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
from clinicqueue import RequestState
from clinicqueue.request import READ_UNTIL_DISMISSED
from clinicqueue.visit import LIVE_VISIT_STATES, VisitSource


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
    versions = dict(db.session.connection().execute(_versions_query(), {"names": streams}).all())
    snapshots = []
    expired = False
    for stream in streams:
        if stream.startswith(DIRECTORY_PREFIX):
            data = {"providers": list_providers(int(stream.removeprefix(DIRECTORY_PREFIX)))}
        elif stream.startswith("clinic:"):
            if not expired:
                # The schedule is read as ORM objects: none may come from before the
                # versions. (The other snapshots are rows, read fresh: expiring for them
                # only made the user reload, a query per connect.)
                db.session.expire_all()
                expired = True
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

    Read as rows, not ORM objects, in one prepared statement: every connecting dashboard
    reads it, and building a User and its Services for each provider was 40% of the
    connect handler's time when hundreds of dashboards reconnected at once (BENCHMARKS.md,
    kill -9)."""
    providers: dict[int, dict] = {}
    rows = db.session.connection().execute(_directory_query(), {"organisation_id": organisation_id})
    for provider_id, name, available, service_id, service_name in rows:
        listed = providers.get(provider_id)
        if listed is None:
            listed = providers[provider_id] = provider_summary(provider_id, name, available, [])
        if service_id is not None:
            listed["services"].append({"id": service_id, "name": service_name})
    return list(providers.values())


def provider_dashboard(provider: User) -> dict:
    """The provider's availability, their pending requests (newest first) and their live
    sessions, read as rows (see requester_dashboard)."""
    available = (
        db.session.connection()
        .execute(_availability_query(), {"user_id": provider.id})
        .scalar_one()
    )
    return {
        "available": available,
        "requests": [
            request_dict(r) for r in _request_rows(_provider_requests_query(), provider.id)
        ],
        "sessions": _live_visit_dicts(provider.id, "host"),
    }


def requester_dashboard(requester: User) -> dict:
    """The requester's requests still on their screen (pending, with their place in the
    queue; declined or expired and not yet dismissed) and their live sessions.

    Read as rows, not ORM objects, by prepared statements, and shaped by the same
    serializers (request_dict, visit_dict) as everywhere else: building and loading ORM
    queries was most of a connecting dashboard's cost (BENCHMARKS.md, connect storm)."""
    return {
        "requests": queued_dicts(_request_rows(_requester_requests_query(), requester.id)),
        "sessions": _live_visit_dicts(requester.id, "patient"),
    }


# Plain rows in the shape request_dict, visit_dict and participant_dict read (attributes
# of the same names as the models'), so there is one serializer for each thing.


@dataclass(frozen=True, slots=True)
class _Named:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class _RequestRow:
    id: int
    state: str
    provider_id: int
    requester: _Named
    provider: _Named
    service: _Named | None
    decline_note: str | None
    decline_reason: str | None
    dismissed_at: datetime | None
    visit_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class _ParticipantRow:
    id: int
    user_id: int | None
    display_name: str
    role: str
    presence: str
    waiting_since: datetime | None
    disconnected_at: datetime | None
    held: bool


@dataclass(frozen=True, slots=True)
class _VisitRow:
    id: int
    state: str
    source: str
    host: _Named
    service: _Named | None
    created_at: datetime
    participants: list[_ParticipantRow]


def _request_rows(query, user_id: int) -> list[_RequestRow]:
    return [
        _RequestRow(
            id=row.id,
            state=row.state,
            provider_id=row.provider_id,
            requester=_Named(row.requester_id, row.requester_name),
            provider=_Named(row.provider_id, row.provider_name),
            service=_Named(row.service_id, row.service_name) if row.service_id else None,
            decline_note=row.decline_note,
            decline_reason=row.decline_reason,
            dismissed_at=row.dismissed_at,
            visit_id=row.visit_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in db.session.connection().execute(query, {"user_id": user_id})
    ]


def _live_visit_dicts(user_id: int, role: str) -> list[dict]:
    """visit_dict of each live session from a request the user takes part in as `role`
    (newest first), as visits.live_visits_for reads them; participants in a second query,
    only when there is a visit."""
    connection = db.session.connection()
    visits = connection.execute(_live_visits_query(), {"user_id": user_id, "role": role}).all()
    if not visits:
        return []
    participants: dict[int, list[_ParticipantRow]] = {row.id: [] for row in visits}
    for row in connection.execute(_participants_query(), {"visit_ids": list(participants)}):
        participants[row.visit_id].append(
            _ParticipantRow(
                id=row.id,
                user_id=row.user_id,
                display_name=row.user_name if row.user_id is not None else (row.name or "Guest"),
                role=row.role,
                presence=row.presence,
                waiting_since=row.waiting_since,
                disconnected_at=row.disconnected_at,
                held=row.held,
            )
        )
    return [
        visit_dict(
            _VisitRow(
                id=row.id,
                state=row.state,
                source=row.source,
                host=_Named(row.host_id, row.host_name),
                service=_Named(row.service_id, row.service_name) if row.service_id else None,
                created_at=row.created_at,
                participants=participants[row.id],
            )
        )
        for row in visits
    ]


# The statements are built once (building one costs more than running it on SQLite) and
# are Core, not ORM: their rows are tuples, with no identity map or loader behind them.


@functools.cache
def _versions_query():
    versions = StreamVersion.__table__
    return select(versions.c.name, versions.c.version).where(
        versions.c.name.in_(bindparam("names", expanding=True))
    )


@functools.cache
def _directory_query():
    """Each active provider of an organisation with each service they offer (a row with
    no service for one who offers none), by provider name and then service name."""
    users, services = User.__table__, Service.__table__
    return (
        select(users.c.id, users.c.name, users.c.available, services.c.id, services.c.name)
        .outerjoin(provider_services, provider_services.c.provider_id == users.c.id)
        .outerjoin(services, services.c.id == provider_services.c.service_id)
        .where(
            users.c.role == Role.PROVIDER.value,
            users.c.active.is_(True),
            users.c.organisation_id == bindparam("organisation_id"),
        )
        .order_by(users.c.name, users.c.id, services.c.name)
    )


@functools.cache
def _availability_query():
    users = User.__table__
    return select(users.c.available).where(users.c.id == bindparam("user_id"))


def _requests_query(*where):
    requests = SessionRequest.__table__
    requester, provider = User.__table__.alias("requester"), User.__table__.alias("provider")
    services = Service.__table__
    return (
        select(
            requests.c.id,
            requests.c.state,
            requests.c.provider_id,
            requests.c.requester_id,
            requester.c.name.label("requester_name"),
            provider.c.name.label("provider_name"),
            requests.c.service_id,
            services.c.name.label("service_name"),
            requests.c.decline_note,
            requests.c.decline_reason,
            requests.c.dismissed_at,
            requests.c.visit_id,
            requests.c.created_at,
            requests.c.updated_at,
        )
        .join(requester, requester.c.id == requests.c.requester_id)
        .join(provider, provider.c.id == requests.c.provider_id)
        .outerjoin(services, services.c.id == requests.c.service_id)
        .where(*where)
        .order_by(requests.c.created_at.desc(), requests.c.id.desc())
    )


@functools.cache
def _requester_requests_query():
    requests = SessionRequest.__table__
    return _requests_query(
        requests.c.requester_id == bindparam("user_id"),
        or_(
            requests.c.state == RequestState.PENDING.value,
            requests.c.state.in_([s.value for s in READ_UNTIL_DISMISSED])
            & requests.c.dismissed_at.is_(None),
        ),
    )


@functools.cache
def _provider_requests_query():
    requests = SessionRequest.__table__
    return _requests_query(
        requests.c.provider_id == bindparam("user_id"),
        requests.c.state == RequestState.PENDING.value,
    )


@functools.cache
def _live_visits_query():
    visits, participants = Visit.__table__, Participant.__table__
    host, services = User.__table__.alias("host"), Service.__table__
    return (
        select(
            visits.c.id,
            visits.c.state,
            visits.c.source,
            visits.c.host_id,
            host.c.name.label("host_name"),
            visits.c.service_id,
            services.c.name.label("service_name"),
            visits.c.created_at,
        )
        .join(participants, participants.c.visit_id == visits.c.id)
        .join(host, host.c.id == visits.c.host_id)
        .outerjoin(services, services.c.id == visits.c.service_id)
        .where(
            participants.c.user_id == bindparam("user_id"),
            participants.c.role == bindparam("role"),
            visits.c.source == VisitSource.REQUEST.value,
            visits.c.state.in_([s.value for s in LIVE_VISIT_STATES]),
        )
        .order_by(visits.c.created_at.desc(), visits.c.id.desc())
    )


@functools.cache
def _participants_query():
    participants, users = Participant.__table__, User.__table__
    return (
        select(
            participants.c.id,
            participants.c.visit_id,
            participants.c.user_id,
            users.c.name.label("user_name"),
            participants.c.name,
            participants.c.role,
            participants.c.presence,
            participants.c.waiting_since,
            participants.c.disconnected_at,
            participants.c.held,
        )
        .outerjoin(users, users.c.id == participants.c.user_id)
        .where(participants.c.visit_id.in_(bindparam("visit_ids", expanding=True)))
        .order_by(participants.c.id)
    )


def clinic_today(user: User, clinic_id: int) -> dict:
    """A clinic stream's snapshot: today's rows in the clinic's zone. A schedule page
    showing another day reads that day from the API, with the version it was read at."""
    clinic = clinic_for(user, clinic_id)
    today = today_in(clinic.timezone)
    return {"date": today.isoformat(), "visits": day_schedule(user, clinic.id, today)}
