"""What the timers of a pending request do: jobs written with the request
(session_requests.create_request), each claimed once whatever the number of web processes.

While nobody answers, the provider's alert repeats every REQUEST_ALERT_REPEAT; after
REQUEST_ESCALATE_AFTER they are emailed as well; after REQUEST_EXPIRE_AFTER the request
expires and the requester is told. Each does its work only while the request is pending.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.extensions import db
from app.models import Job, SessionRequest
from app.realtime.publish import Outbox, provider_stream
from app.services.jobs import enqueue, handles, settle
from app.services.notifications import notify_provider_of_waiting
from app.services.serialize import request_dict
from app.services.session_requests import expire_request
from clinicqueue import RequestState


def _still_pending(job: Job) -> SessionRequest | None:
    request_id = job.payload.get("request_id")
    req = db.session.get(SessionRequest, request_id, populate_existing=True) if request_id else None
    return req if req is not None and req.state == RequestState.PENDING else None


@handles("request_remind")
def remind_provider(job: Job, now: datetime) -> None:
    """Still unanswered: the provider's page alerts again (request_reminded to
    provider:<id>), and the next reminder is due one REQUEST_ALERT_REPEAT later."""
    req = _still_pending(job)
    # The reminder and the next one are written with the job's own completion, so a run
    # repeated after a lost lease never starts a second chain of reminders.
    if req is None or not settle(job, now):
        db.session.rollback()
        return
    enqueue(
        "request_remind",
        now + current_app.config["REQUEST_ALERT_REPEAT"],
        payload={"request_id": req.id},
    )
    outbox = Outbox()
    outbox.add("request_reminded", provider_stream(req.provider_id), request_dict(req))
    outbox.stamp()
    db.session.commit()
    outbox.publish()


@handles("request_escalate")
def escalate_to_provider(job: Job, now: datetime) -> None:
    """Unanswered for REQUEST_ESCALATE_AFTER: the provider is emailed too (retried like any
    message if the mail server is down, and dropped once the request is answered)."""
    req = _still_pending(job)
    if req is not None:
        notify_provider_of_waiting(req, now)


@handles("request_expire")
def expire_unanswered(job: Job, now: datetime) -> None:
    """Unanswered for REQUEST_EXPIRE_AFTER: the request expires, unless an answer won."""
    request_id = job.payload.get("request_id")
    if request_id:
        expire_request(request_id, now)
