"""A provider says whether they take sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.models import SessionRequest, User
from app.models.types import utcnow
from app.realtime.publish import Outbox, directory_stream, provider_stream, requester_stream
from app.services.serialize import request_dict
from clinicqueue import (
    UNAVAILABLE_NOTE,
    DeclineReason,
    RequestAction,
    RequestState,
    transition_request,
)


def lock_provider(provider_id: int) -> User | None:
    """Take the provider's row lock (a no-op write) and reload it.

    Requests and availability changes both pass through here, so a request can never be
    left pending behind a provider who just turned unavailable. The write also serialises
    SQLite, which has no row locks.
    """
    db.session.execute(update(User).where(User.id == provider_id).values(available=User.available))
    return db.session.get(User, provider_id, populate_existing=True)


def set_availability(provider: User, available: bool, now: datetime | None = None) -> bool:
    """Turn a provider (un)available; turning unavailable declines every pending request.

    Emits availability_changed to the provider and their organisation's directory, and
    request_updated for each declined request.
    """
    now = now or utcnow()
    provider = lock_provider(provider.id)
    outbox = Outbox()
    if provider.available != available:
        provider.available = available
        if not available:
            decline_all_pending(provider, UNAVAILABLE_NOTE, now, outbox)
        change = {"provider_id": provider.id, "available": available}
        outbox.add("availability_changed", directory_stream(provider.organisation_id), change)
        outbox.add("availability_changed", provider_stream(provider.id), change)
    outbox.stamp()
    db.session.commit()
    outbox.publish()
    return available


def decline_all_pending(provider: User, note: str, now: datetime, outbox: Outbox) -> None:
    transition_request(RequestState.PENDING, RequestAction.DECLINE, now)
    declined_ids = db.session.scalars(
        update(SessionRequest)
        .where(
            SessionRequest.provider_id == provider.id,
            SessionRequest.state == RequestState.PENDING,
        )
        .values(
            state=RequestState.DECLINED,
            decline_note=note,
            decline_reason=DeclineReason.UNAVAILABLE,
            updated_at=now,
        )
        .returning(SessionRequest.id)
    ).all()
    if not declined_ids:
        return
    declined = db.session.scalars(
        select(SessionRequest)
        .where(SessionRequest.id.in_(declined_ids))
        .execution_options(populate_existing=True)
    ).all()
    for req in declined:
        payload = request_dict(req)
        outbox.add("request_updated", provider_stream(req.provider_id), payload)
        outbox.add("request_updated", requester_stream(req.requester_id), payload)
