"""Every service that publishes does so after its commit: whatever an event announces, a
connection of its own to the database (not the service's session) already sees.

A screen that hears an event and reloads, or another web instance reading the row, must
find the change; an event published before the commit could announce a change that is
not there yet, or one that a failed commit then undoes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Connection, Engine, create_engine, select
from sqlalchemy.pool import NullPool

from app.extensions import db, socketio
from app.models import Participant, Role, SessionRequest, StreamVersion, User, Visit
from app.services.availability import set_availability
from app.services.session_requests import (
    accept_request,
    cancel_request,
    create_request,
    decline_request,
    dismiss_request,
)
from app.services.visits import disconnect_sid, end_visit, enter_visit, leave_visit

PATIENT_SID, HOST_SID = "patient-socket", "host-socket"

# What an event says → (what it is, as announced, as committed), read on `conn`.
Comparison = tuple[str, object, object]


def _request(conn: Connection, payload: dict) -> Iterator[Comparison]:
    row = conn.execute(
        select(
            SessionRequest.state,
            SessionRequest.decline_note,
            SessionRequest.dismissed_at,
            SessionRequest.visit_id,
        ).where(SessionRequest.id == payload["id"])
    ).one_or_none()
    if row is None:
        yield f"request {payload['id']}", "present", "absent"
        return
    yield "request state", payload["state"], row.state
    yield "decline note", payload["decline_note"], row.decline_note
    yield "dismissed", payload["dismissed"], row.dismissed_at is not None
    yield "request's visit", payload["visit_id"], row.visit_id


def _availability(conn: Connection, payload: dict) -> Iterator[Comparison]:
    available = conn.scalar(select(User.available).where(User.id == payload["provider_id"]))
    yield "availability", payload["available"], available


def _visit(conn: Connection, payload: dict) -> Iterator[Comparison]:
    state = conn.scalar(select(Visit.state).where(Visit.id == payload["id"]))
    yield "visit state", payload["state"], state
    announced = {p["id"]: p["presence"] for p in payload["participants"]}
    presences = conn.execute(
        select(Participant.id, Participant.presence).where(Participant.visit_id == payload["id"])
    ).all()
    yield "presences", announced, dict(presences)


def _participant(conn: Connection, payload: dict) -> Iterator[Comparison]:
    announced = payload["participant"]
    presence = conn.scalar(select(Participant.presence).where(Participant.id == announced["id"]))
    yield f"participant {announced['id']}'s presence", announced["presence"], presence


def _visit_ended(conn: Connection, payload: dict) -> Iterator[Comparison]:
    state = conn.scalar(select(Visit.state).where(Visit.id == payload["visit_id"]))
    yield "visit state", "ended", state


CHECKS: dict[str, Callable[[Connection, dict], Iterator[Comparison]]] = {
    "request_created": _request,
    "request_updated": _request,
    "availability_changed": _availability,
    "visit_updated": _visit,
    "participant_updated": _participant,
    "visit_ended": _visit_ended,
}


@dataclass
class CommittedCheck:
    """Stands in for socketio.emit and compares each event with a fresh read.

    It records what it finds instead of raising: Outbox.publish logs and swallows an
    exception from emit (a failed emit must not fail a committed change).
    """

    engine: Engine
    seen: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def __call__(self, event: str, payload: dict, to: str | None = None, **_options) -> None:
        self.seen.append(event)
        if event not in CHECKS:
            self.stale.append(f"{event}: this test has no check for it yet; add one to CHECKS")
            return
        with self.engine.connect() as conn:
            found = list(CHECKS[event](conn, payload))
            version = conn.scalar(
                select(StreamVersion.version).where(StreamVersion.name == payload.get("stream"))
            )
        for what, announced, committed in found:
            if announced != committed:
                self.stale.append(
                    f"{event} to {to}: {what} is {announced!r} in the event "
                    f"but {committed!r} in the database"
                )
        # >=: a later event of the same commit may have moved the stream on already.
        if "version" in payload and (version or 0) < payload["version"]:
            self.stale.append(f"{event} to {to}: version {payload['version']}, committed {version}")


@dataclass
class Clinic:
    """One provider and one requester, and the steps that lead up to each service call."""

    provider: User
    requester: User

    def nothing(self) -> None:
        return None

    def provider_away(self) -> None:
        set_availability(self.provider, False)

    def pending_request(self) -> int:
        return create_request(self.requester, self.provider.id, None).id

    def declined_request(self) -> int:
        request_id = self.pending_request()
        decline_request(self.provider, request_id, "Not today")
        return request_id

    def accepted_visit(self) -> int:
        return accept_request(self.provider, self.pending_request()).visit_id

    def patient_waiting(self) -> int:
        visit_id = self.accepted_visit()
        enter_visit(self.requester, visit_id, PATIENT_SID)
        return visit_id

    def call_going(self) -> int:
        visit_id = self.patient_waiting()
        enter_visit(self.provider, visit_id, HOST_SID)
        return visit_id


def case(setup, act, events, name):
    return pytest.param(setup, act, set(events), id=name)


CASES = [
    case(
        Clinic.nothing,
        lambda c, _: create_request(c.requester, c.provider.id, None),
        ["request_created", "request_updated"],
        "create_request",
    ),
    case(
        Clinic.provider_away,
        lambda c, _: create_request(c.requester, c.provider.id, None),
        ["request_updated"],
        "create_request to an unavailable provider",
    ),
    case(
        Clinic.pending_request,
        lambda c, request_id: accept_request(c.provider, request_id),
        ["request_updated", "visit_updated"],
        "accept_request",
    ),
    case(
        Clinic.pending_request,
        lambda c, request_id: decline_request(c.provider, request_id, "Busy"),
        ["request_updated"],
        "decline_request",
    ),
    case(
        Clinic.pending_request,
        lambda c, request_id: cancel_request(c.requester, request_id),
        ["request_updated"],
        "cancel_request",
    ),
    case(
        Clinic.declined_request,
        lambda c, request_id: dismiss_request(c.requester, request_id),
        ["request_updated"],
        "dismiss_request",
    ),
    case(
        Clinic.pending_request,
        lambda c, _: set_availability(c.provider, False),
        ["availability_changed", "request_updated"],
        "set_availability declining what is pending",
    ),
    case(
        Clinic.provider_away,
        lambda c, _: set_availability(c.provider, True),
        ["availability_changed"],
        "set_availability back",
    ),
    case(
        Clinic.accepted_visit,
        lambda c, visit_id: enter_visit(c.requester, visit_id, PATIENT_SID),
        ["visit_updated", "participant_updated"],
        "enter_visit into the waiting room",
    ),
    case(
        Clinic.patient_waiting,
        lambda c, visit_id: enter_visit(c.provider, visit_id, HOST_SID),
        ["visit_updated", "participant_updated"],
        "enter_visit as the host, admitting the patient",
    ),
    case(
        Clinic.call_going,
        lambda c, visit_id: leave_visit(c.requester, visit_id, PATIENT_SID),
        ["visit_updated", "participant_updated"],
        "leave_visit",
    ),
    case(
        Clinic.call_going,
        lambda c, _: disconnect_sid(PATIENT_SID),
        ["visit_updated", "participant_updated"],
        "disconnect_sid",
    ),
    case(
        Clinic.call_going,
        lambda c, visit_id: end_visit(c.provider, visit_id),
        ["visit_updated", "participant_updated", "visit_ended"],
        "end_visit",
    ),
]


@pytest.fixture
def fresh_reads(app) -> Iterator[Engine]:
    """An engine of its own on the test database: it sees only what is committed."""
    with app.app_context():
        url = db.engine.url
    engine = create_engine(url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("setup", "act", "events"), CASES)
def test_what_an_event_announces_is_already_committed(
    ctx, make_user, fresh_reads, monkeypatch, setup, act, events
):
    clinic = Clinic(
        make_user(Role.PROVIDER, services=["General"], available=True),
        make_user(Role.REQUESTER),
    )
    subject = setup(clinic)
    check = CommittedCheck(fresh_reads)
    monkeypatch.setattr(socketio, "emit", check)

    act(clinic, subject)

    assert not check.stale, "\n".join(check.stale)
    assert events <= set(check.seen), check.seen  # the events this call must announce
