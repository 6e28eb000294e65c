"""The telehealth connector: a provider's room in another conferencing product, and the
links of a visit, whichever room it is held in.

Six ways to hand a visit's links out, on every visit: email or SMS to the patient now,
the patient's link and the staff link to copy, the .ics to download, and a QR code of the
patient's link.
"""

from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import urlsplit

import segno
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import ExternalRoom, Participant, Role, User, Visit
from app.models.types import utcnow
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.guests import guest_link
from app.services.invitations import enqueue_message, visit_for_staff
from app.services.text import clean_line
from clinicqueue import VisitSource, VisitState


def _url(value, field: str, fields: dict) -> str | None:
    if not isinstance(value, str) or not value.strip():
        fields[field] = "Enter the link."
        return None
    value = value.strip()
    parts = urlsplit(value)
    bad = parts.scheme != "https" or not parts.netloc or len(value) > 2000
    if bad or any(ord(c) < 32 or ord(c) == 127 for c in value):  # a NUL, a line break
        fields[field] = "Enter an https:// link."
        return None
    return value


def set_room(provider: User, host_url, guest_url, label=None) -> ExternalRoom:
    """Register (or replace) the provider's external room. Commits."""
    if provider.role != Role.PROVIDER:
        raise Invalid("Only providers have external rooms.")
    fields: dict[str, str] = {}
    host_url = _url(host_url, "host_url", fields)
    guest_url = _url(guest_url, "guest_url", fields)
    if label is not None and not isinstance(label, str):
        fields["label"] = "Enter a name for the room."
    if fields:
        raise Invalid("The room could not be saved.", fields=fields)
    room = room_of(provider.id) or ExternalRoom(provider_id=provider.id)
    room.label = clean_line(label or "")[:120] or "My meeting room"
    room.host_url, room.guest_url, room.updated_at = host_url, guest_url, utcnow()
    db.session.add(room)
    db.session.commit()
    return room


def remove_room(provider: User) -> None:
    """Forget the provider's external room; visits booked in it keep their links. Commits."""
    room = room_of(provider.id)
    if room is None:
        raise NotFound("You have no external room.")
    db.session.delete(room)
    db.session.commit()


def room_of(provider_id: int) -> ExternalRoom | None:
    return db.session.scalar(select(ExternalRoom).where(ExternalRoom.provider_id == provider_id))


def staff_link(visit: Visit) -> str:
    """What staff open: the external room's host link, or the visit's room here."""
    if visit.external_room is not None:
        return visit.external_room.host_url
    return f"{current_app.config['PUBLIC_BASE_URL']}/visits/{visit.id}"


def patient_of(visit: Visit) -> Participant:
    patient = next((p for p in visit.participants if p.role == "patient"), None)
    if patient is None:
        raise NotFound("This visit has no patient to send links to.")
    return patient


def visit_links(user: User, visit_id: int, now: datetime | None = None) -> dict:
    """The patient's and the staff link of a visit of the user's clinic; audited. Commits."""
    visit = _booked(user, visit_id)
    links = {
        "patient_link": guest_link(visit, patient_of(visit)),
        "staff_link": staff_link(visit),
        "external": visit.external_room is not None,
    }
    audit.record(audit.Actor.user(user), "links", visit=visit, now=now)
    db.session.commit()
    return links


def _booked(user: User, visit_id: int) -> Visit:
    visit = visit_for_staff(user, visit_id)
    if visit.source != VisitSource.INVITE:
        raise NotFound("No such visit.")  # an on-demand session has no links to hand out
    return visit


def send_link(user: User, visit_id: int, channel: str, now: datetime | None = None) -> Visit:
    """Send the patient their link now, by email or SMS (a background job). Commits."""
    now = now or utcnow()
    visit = _booked(user, visit_id)
    if visit.state not in (VisitState.SCHEDULED, VisitState.OPEN, VisitState.IN_CALL):
        raise Conflict("This visit is over.", state=visit.state)
    patient = patient_of(visit)
    contact = {"email": patient.email, "sms": patient.mobile}
    if channel not in contact:
        raise Invalid("channel must be email or sms.", fields={"channel": "Unknown."})
    if not contact[channel]:
        what = "an email address" if channel == "email" else "a mobile number"
        raise Invalid(f"The patient has no {what}.", fields={"channel": "No such contact."})
    enqueue_message(visit, patient, "send_invite", now, channel=channel, again=True)
    audit.record(
        audit.Actor.user(user), "send_link", visit=visit, detail={"channel": channel}, now=now
    )
    db.session.commit()
    return visit


def calendar_file(user: User, visit_id: int) -> bytes:
    """The patient's .ics for a visit (the same entry their invitation carries)."""
    from app.services.notifications import appointment, calendar_entry

    visit = _booked(user, visit_id)
    patient = patient_of(visit)
    return calendar_entry(appointment(visit), patient, guest_link(visit, patient), "invite")


def qr_code(user: User, visit_id: int, kind: str) -> bytes:
    """A QR code of the patient's link, as SVG or PNG (segno: no image library needed)."""
    visit = _booked(user, visit_id)
    link = guest_link(visit, patient_of(visit))
    if link is None:
        raise Conflict("The patient's link was revoked.")
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind=kind, scale=8, border=2)
    return out.getvalue()
