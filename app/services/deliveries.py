"""What the background jobs of a booked visit do: send its invitations, reminders and
cancellation notices, and turn a waiting patient's row green at 5 minutes before the start.

Each job is claimed once (app.services.jobs), so each message goes out once, whatever the
number of web processes; a message that cannot go out is retried, and the schedule shows
it as not delivered yet (then the error, after the last try).
"""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import Job, Participant, Visit
from app.realtime.publish import Outbox
from app.services.jobs import JobFailed, after_each, handles
from app.services.notifications import notify
from app.services.schedule import announce_row
from clinicqueue import VisitState

KINDS = {
    "send_invite": "invite",
    "send_reminder": "reminder",
    "send_cancellation": "cancelled",
    "send_join_now": "join_now",  # someone added during a session
}
STILL_TO_COME = (VisitState.SCHEDULED, VisitState.OPEN, VisitState.IN_CALL)


def _participant(job: Job) -> Participant:
    participant = db.session.get(Participant, job.participant_id)
    if participant is None:
        raise JobFailed("the participant no longer exists")
    return participant


@handles("send_invite")
@handles("send_reminder")
@handles("send_cancellation")
@handles("send_join_now")
def send_message(job: Job, now: datetime) -> None:
    participant = _participant(job)
    visit = participant.visit
    kind = KINDS[job.kind]
    revoked = participant.user_id is None and not participant.token_hash  # staff have no link
    if kind != "cancelled" and (visit.state not in STILL_TO_COME or revoked):
        return  # the visit was cancelled or is over, or this guest's link was revoked
    notify(visit, participant, kind, job.payload.get("channel", "email"))


@handles("schedule_tick")
def refresh_row(job: Job, now: datetime) -> None:
    """Nothing changed but the time: publish the row so a waiting patient turns green."""
    _publish_row(job.visit_id, now)


@after_each("send_invite")
@after_each("send_join_now")
def invitation_settled(job: Job, now: datetime) -> None:
    """The row's "not delivered yet" becomes sent, or shows the error."""
    _publish_row(job.visit_id, now)


def _publish_row(visit_id: int | None, now: datetime) -> None:
    visit = db.session.get(Visit, visit_id) if visit_id else None
    if visit is None:
        return
    outbox = Outbox()
    announce_row(outbox, visit, now)
    outbox.stamp()
    db.session.commit()
    outbox.publish()
