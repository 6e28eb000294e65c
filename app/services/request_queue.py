"""Where each pending request stands in its provider's queue, and how long it may wait.

The database gives the queue (pending requests to one provider) and the provider's recent
response times; clinicqueue.waiting orders the one and estimates from the other. Response
times come from the request rows themselves (created_at → updated_at): accepted requests,
and requests the provider declined that the requester has not dismissed yet (dismissing
moves updated_at, so the moment of the answer is lost).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, and_, bindparam, or_, select

from app.extensions import db
from app.models import SessionRequest
from app.models.types import utcnow
from app.realtime.publish import Outbox, requester_stream
from app.services.serialize import REQUEST_PEOPLE, request_dict
from clinicqueue import DeclineReason, RequestState
from clinicqueue.waiting import RECENT_ANSWERS, Queued, QueuePlace, queue_places


def response_times(provider_id: int, now: datetime) -> list[float]:
    """Seconds the provider's recent answers took, newest first (at most RECENT_ANSWERS,
    none older than REQUEST_WAIT_HISTORY)."""
    since = now - current_app.config["REQUEST_WAIT_HISTORY"]
    answered = or_(
        SessionRequest.state == RequestState.ACCEPTED,
        and_(
            SessionRequest.state == RequestState.DECLINED,
            SessionRequest.decline_reason == DeclineReason.DECLINED,
            SessionRequest.dismissed_at.is_(None),
        ),
    )
    rows = db.session.execute(
        select(SessionRequest.created_at, SessionRequest.updated_at)
        .where(SessionRequest.provider_id == provider_id, answered)
        .where(SessionRequest.updated_at >= since)
        .order_by(SessionRequest.updated_at.desc())
        .limit(RECENT_ANSWERS)
    ).all()
    return [(answered_at - asked_at).total_seconds() for asked_at, answered_at in rows]


def _pending_to(provider_id: int) -> tuple:
    return (
        SessionRequest.provider_id == provider_id,
        SessionRequest.state == RequestState.PENDING,
    )


def _places(pending: Iterable, provider_id: int, now: datetime):
    return queue_places(
        [Queued(r.id, r.created_at) for r in pending],
        response_times(provider_id, now),
        current_app.config["REQUEST_WAIT_MIN_ANSWERS"],
    )


def places_in_queue(provider_id: int, now: datetime) -> dict[int, QueuePlace]:
    """Each pending request to the provider, by id: its place in line and estimated wait."""
    pending = db.session.execute(
        select(SessionRequest.id, SessionRequest.created_at).where(*_pending_to(provider_id))
    ).all()
    return _places(pending, provider_id, now)


def queued_dicts(requests: Iterable[SessionRequest], now: datetime | None = None) -> list[dict]:
    """request_dict of each request, the pending ones with their place in their provider's
    queue (read once per provider; nothing is read for a request no longer pending)."""
    now = now or utcnow()
    requests = list(requests)
    places: dict[int, QueuePlace] = {}
    for provider_id in {r.provider_id for r in requests if r.state == RequestState.PENDING}:
        places.update(places_in_queue(provider_id, now))
    return [request_dict(r, places.get(r.id)) for r in requests]


def queued_dict(req: SessionRequest, now: datetime | None = None) -> dict:
    """request_dict of one request, with its place in the queue while it is pending."""
    return queued_dicts([req], now)[0]


@functools.cache
def _anyone_waiting_statement() -> Select:
    return select(SessionRequest.id).where(*_pending_to(bindparam("provider_id"))).limit(1)


@functools.cache
def _queue_statement() -> Select:
    """The pending requests to :provider_id with their people, read afresh. Built once: every
    answer to a request runs it (SQLAlchemy then reuses its cache key and compiled form)."""
    return (
        select(SessionRequest)
        .where(*_pending_to(bindparam("provider_id")))
        .options(*REQUEST_PEOPLE)
        .execution_options(populate_existing=True)
    )


def announce_queue(outbox: Outbox, provider_id: int, now: datetime) -> None:
    """Tell every requester still waiting for the provider their place and estimate, after a
    request to them stopped waiting (answered, withdrawn or expired). One query reads the
    queue with its rows; the history is a second."""
    params = {"provider_id": provider_id}
    # Most answers leave nobody waiting: a plain indexed look first, so that they skip
    # setting up the ORM's loading of the queue's rows and people (and the history).
    if db.session.execute(_anyone_waiting_statement(), params).first() is None:
        return
    pending = db.session.scalars(_queue_statement(), params).all()
    if not pending:
        return  # answered or withdrawn since the look
    places = _places(pending, provider_id, now)
    for req in pending:
        outbox.add(
            "request_updated", requester_stream(req.requester_id), request_dict(req, places[req.id])
        )
