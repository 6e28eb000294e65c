"""Guests: a patient (or anyone invited along) joins from the link in their invitation,
without an account.

/join/<token> checks the link: unknown → 404; the visit over or cancelled → 410; too
early → the appointment and when its waiting room opens; otherwise the browser gets a
signed, HttpOnly guest session bound to that participant (it also authenticates the
guest's Socket.IO connection) and the waiting room opens.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, render_template, request, session

from app.auth.session import GUEST_KEY, GUEST_LINK_KEY
from app.limits import TooManyRequests, in_words, spend, wait_for
from app.models.types import utcnow
from app.security import uses_media
from app.services.guests import open_link, participant_for_token
from app.services.notifications import appointment
from app.visits.routes import render_room
from clinicqueue import VisitState
from clinicqueue.schedule import LinkState, link_state

bp = Blueprint("guests", __name__)


def _problem(status: int, title: str, message: str, appt=None):
    page = render_template("guests/link.html", title=title, message=message, appt=appt)
    return page, status


@bp.get("/join/<token>")
@uses_media
def join(token: str):
    address = request.remote_addr or "unknown"
    wait = wait_for("LINK_ATTEMPT_LIMIT", "guest-links", address)
    if wait is not None:
        raise TooManyRequests(f"Too many wrong links. Try again in {in_words(wait)}.", wait)
    participant = participant_for_token(token)
    if participant is None:
        spend("LINK_ATTEMPT_LIMIT", "guest-links", address)
        return _problem(
            404,
            "This link does not work",
            "Check that you opened the whole link from your invitation, or ask the clinic "
            "to send it again.",
        )
    visit = participant.visit
    appt = appointment(visit) if visit.scheduled_for and visit.clinic else None
    now = utcnow()
    opens_before = timedelta(minutes=current_app.config["GUEST_LINK_OPENS_MINUTES"])
    state = link_state(visit.state, visit.scheduled_for, opens_before, now)
    if state == LinkState.CLOSED:
        cancelled = visit.state == VisitState.CANCELLED
        return _problem(
            410,
            "This appointment was cancelled" if cancelled else "This appointment is over",
            "The clinic cancelled it. If you need a new appointment, contact them."
            if cancelled
            else "Thank you for attending. If you need to speak to the clinic again, contact them.",
            appt,
        )
    open_link(participant, now)
    if state == LinkState.EARLY:
        opens_at = (visit.scheduled_for - opens_before).astimezone(appt.starts_at.tzinfo)
        return render_template("guests/early.html", appt=appt, opens_at=opens_at)
    session.clear()
    session.permanent = True
    session[GUEST_KEY] = participant.id
    session[GUEST_LINK_KEY] = participant.token_hash
    return render_room(visit, participant, f"guest-{participant.id}", back_url=None)
