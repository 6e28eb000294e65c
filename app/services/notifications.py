"""Messages to the people in a visit: invitations, reminders and cancellations, by email
(HTML and plain text, with an .ics calendar entry) and by SMS; and to a provider, about a
request still waiting for their answer (email: accounts have no mobile number).

Flask-Mail builds each email; it is handed to the SMTP server configured with Flask-Mail's
own settings, with a timeout (Flask-Mail opens its connection without one, and a mail
server that never answers would hold the job runner forever). With no MAIL_SERVER,
development writes each message to the log instead; elsewhere that is an error, so the
schedule shows the invite as not delivered.

SMS goes through a pluggable backend: "log" (the default) or "http" (a JSON POST).
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_mail import Message
from icalendar import Calendar, Event, vText

from app.models import Participant, SessionRequest, Visit
from app.services.guests import guest_link
from app.services.jobs import JobFailed
from clinicqueue.schedule import zone

logger = logging.getLogger(__name__)

SUBJECTS = {
    "invite": "Your video appointment with {organisation}",
    "reminder": "Reminder: your video appointment with {organisation}",
    "cancelled": "Cancelled: your video appointment with {organisation}",
}


@dataclass(frozen=True)
class Appointment:
    """What every message about a visit says, in the clinic's time zone."""

    visit_id: int
    organisation: str
    clinic: str
    patient_name: str
    starts_at: datetime  # in the clinic's zone
    ends_at: datetime
    timezone: str
    provider_name: str

    @property
    def when(self) -> str:
        start = self.starts_at
        return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M} ({self.timezone})"


def appointment(visit: Visit) -> Appointment:
    clinic = visit.clinic
    tz = zone(clinic.timezone)
    starts_at = visit.scheduled_for.astimezone(tz)
    minutes = visit.duration_minutes or current_app.config["DEFAULT_VISIT_MINUTES"]
    patient = visit.patient
    return Appointment(
        visit_id=visit.id,
        organisation=clinic.organisation.name,
        clinic=clinic.name,
        patient_name=patient.name if patient else "",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        timezone=clinic.timezone,
        provider_name=visit.host.name,
    )


def calendar_entry(
    appt: Appointment, participant: Participant, link: str | None, kind: str
) -> bytes:
    """An iCalendar file (RFC 5545) for the appointment; a cancellation cancels the entry
    the invitation added."""
    calendar = Calendar()
    calendar.add("prodid", "-//Anteroom//Virtual clinic//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if kind == "cancelled" else "PUBLISH")
    event = Event()
    event.add("uid", f"visit-{appt.visit_id}-participant-{participant.id}@anteroom")
    event.add("dtstamp", datetime.now(appt.starts_at.tzinfo))
    event.add("dtstart", appt.starts_at)
    event.add("dtend", appt.ends_at)
    event.add("summary", f"Video appointment with {appt.organisation}")
    event.add("status", "CANCELLED" if kind == "cancelled" else "CONFIRMED")
    event.add("sequence", 1 if kind == "cancelled" else 0)
    if link and kind != "cancelled":
        event.add("url", link)
        event.add("location", vText(link))
        event.add("description", f"Join the waiting room: {link}")
    calendar.add_component(event)
    return calendar.to_ical()


@dataclass(frozen=True)
class Invitation:
    """Someone added during a session, asked to join it now (no appointment time: the
    session is under way, or the visit has no slot, as an on-demand one)."""

    organisation: str
    provider_name: str
    patient_name: str


def invitation_now(visit: Visit) -> Invitation:
    return Invitation(
        organisation=visit.clinic.organisation.name if visit.clinic else "Anteroom",
        provider_name=visit.host.name,
        patient_name=visit.patient.name if visit.patient else "",
    )


def _join_now_email(visit: Visit, participant: Participant) -> Message:
    context = {"invite": invitation_now(visit), "link": guest_link(visit, participant)}
    return Message(
        subject=f"Join a video session with {context['invite'].provider_name} now",
        recipients=[participant.email],
        body=render_template("email/join_now.txt", **context),
        html=render_template("email/join_now.html", **context),
    )


def email_message(visit: Visit, participant: Participant, kind: str) -> Message:
    if kind == "join_now":
        return _join_now_email(visit, participant)
    appt = appointment(visit)
    link = guest_link(visit, participant) if kind != "cancelled" else None
    context = {"appt": appt, "participant": participant, "link": link, "kind": kind}
    message = Message(
        subject=SUBJECTS[kind].format(organisation=appt.organisation),
        recipients=[participant.email],
        body=render_template("email/appointment.txt", **context),
        html=render_template("email/appointment.html", **context),
    )
    message.attach(
        "appointment.ics",
        "text/calendar",
        calendar_entry(appt, participant, link, kind),
        headers={"Content-Class": "urn:content-classes:calendarmessage"},
    )
    return message


def sms_text(visit: Visit, participant: Participant, kind: str) -> str:
    if kind == "join_now":
        invite = invitation_now(visit)
        return (
            f"{invite.organisation}: {invite.provider_name} asks you to join a video session "
            f"now. Join here: {guest_link(visit, participant)}"
        )
    appt = appointment(visit)
    if kind == "cancelled":
        return f"{appt.organisation}: your video appointment on {appt.when} is cancelled."
    prefix = "Reminder: your" if kind == "reminder" else "Your"
    return (
        f"{appt.organisation}: {prefix} video appointment is on {appt.when}. "
        f"Join here: {guest_link(visit, participant)}"
    )


def send_email(message: Message) -> None:
    config = current_app.config
    if not config["MAIL_SERVER"]:
        if config["ENV_NAME"] in ("development", "test"):
            logger.info("email (no MAIL_SERVER set):\n%s", message.as_string())
            return
        raise JobFailed("no mail server is configured (MAIL_SERVER)")
    smtp = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with smtp(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
        ) as host:
            if config["MAIL_USE_TLS"]:
                host.starttls()
            if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
                host.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            sender = message.sender or config["MAIL_DEFAULT_SENDER"]
            host.sendmail(sender, list(message.send_to), message.as_bytes())
    except (OSError, smtplib.SMTPException) as exc:
        raise JobFailed(f"the mail server refused or could not be reached: {exc}") from exc


def send_sms(to: str, body: str) -> None:
    config = current_app.config
    if config["SMS_BACKEND"] == "log":
        if config["ENV_NAME"] in ("development", "test"):
            logger.info("SMS to %s (SMS_BACKEND=log): %s", to, body)
        else:
            logger.info("SMS handed to the log backend (not sent)")
        return
    request = urllib.request.Request(
        config["SMS_HTTP_URL"],
        data=json.dumps({"to": to, "body": body}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if config["SMS_HTTP_TOKEN"]:
        request.add_header("Authorization", f"Bearer {config['SMS_HTTP_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=config["MAIL_TIMEOUT"]) as response:
            if response.status >= 300:
                raise JobFailed(f"the SMS gateway answered {response.status}")
    except OSError as exc:
        raise JobFailed(f"the SMS gateway could not be reached: {exc}") from exc


def request_waiting_email(req: SessionRequest, now: datetime) -> Message:
    """The escalation of an unanswered request, to its provider."""
    context = {
        "requester": req.requester.name,
        "service": req.service.name if req.service else None,
        "minutes": max(1, int((now - req.created_at).total_seconds() // 60)),
        "link": f"{current_app.config['PUBLIC_BASE_URL']}/provider",
    }
    return Message(
        subject=f"{req.requester.name} is waiting for your answer",
        recipients=[req.provider.email],
        body=render_template("email/request_waiting.txt", **context),
        html=render_template("email/request_waiting.html", **context),
    )


def notify_provider_of_waiting(req: SessionRequest, now: datetime) -> None:
    """Email the provider that a request has waited too long for their answer."""
    send_email(request_waiting_email(req, now))


def notify(visit: Visit, participant: Participant, kind: str, channel: str) -> None:
    """Send one message about `visit` to `participant` by `channel` (email | sms)."""
    if channel == "email" and participant.email:
        send_email(email_message(visit, participant, kind))
    elif channel == "sms" and participant.mobile:
        send_sms(participant.mobile, sms_text(visit, participant, kind))
