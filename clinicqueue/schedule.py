"""Booked visits: what the clinic schedule shows, when links open, when reminders go out.

Pure functions of the visit's facts and the time given. The schedule's status is derived
here and never stored: the same facts at the same time give the same answer on every
page and in every test.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinicqueue.visit import Presence, VisitState

# A patient waiting counts as "online" from this long before the start: someone who
# arrives 20 minutes early is not yet a reason to interrupt a provider.
ONLINE_WINDOW = timedelta(minutes=5)


class ScheduleStatus(StrEnum):
    SCHEDULED = "scheduled"  # blue
    PATIENT_ONLINE = "patient_online"  # green, with the waiting time
    SESSION_RUNNING = "session_running"  # a provider is with the patient (greyed for others)
    COMPLETED = "completed"  # ended in a call, or marked complete: greyed, no dot
    CANCELLED = "cancelled"


STATUS_LABELS = {
    ScheduleStatus.SCHEDULED: "Scheduled",
    ScheduleStatus.PATIENT_ONLINE: "Patient online",
    ScheduleStatus.SESSION_RUNNING: "Session running",
    ScheduleStatus.COMPLETED: "Completed",
    ScheduleStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class Attendee:
    """One participant as the schedule needs to know them."""

    role: str  # host | patient | guest
    presence: Presence | str
    waiting_since: datetime | None = None
    name: str = ""
    is_staff: bool = False  # a clinic member (the host, or a colleague who took them)


@dataclass(frozen=True)
class RowStatus:
    status: ScheduleStatus
    waiting_since: datetime | None  # when the patient's waiting started (green rows)
    provider_name: str | None  # who is with the patient (running sessions)

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def schedule_status(
    visit_state: VisitState | str,
    scheduled_for: datetime | None,
    attendees: Iterable[Attendee],
    now: datetime,
) -> RowStatus:
    """The row's status now. A visit with no start time (an on-demand session) counts its
    patient online as soon as they wait."""
    state = VisitState(visit_state)
    if state == VisitState.CANCELLED:
        return RowStatus(ScheduleStatus.CANCELLED, None, None)
    if state in (VisitState.ENDED, VisitState.COMPLETED):
        return RowStatus(ScheduleStatus.COMPLETED, None, None)
    attendees = list(attendees)
    staff_in = [a for a in attendees if a.is_staff and Presence(a.presence) == Presence.ADMITTED]
    others_in = [
        a for a in attendees if not a.is_staff and Presence(a.presence) == Presence.ADMITTED
    ]
    if staff_in and others_in:
        return RowStatus(ScheduleStatus.SESSION_RUNNING, None, staff_in[0].name)
    waiting = [
        a.waiting_since
        for a in attendees
        if not a.is_staff and Presence(a.presence) == Presence.WAITING and a.waiting_since
    ]
    if waiting and (scheduled_for is None or now >= scheduled_for - ONLINE_WINDOW):
        return RowStatus(ScheduleStatus.PATIENT_ONLINE, min(waiting), None)
    return RowStatus(ScheduleStatus.SCHEDULED, None, None)


def online_from(scheduled_for: datetime) -> datetime:
    """When a waiting patient turns the row green."""
    return scheduled_for - ONLINE_WINDOW


class LinkState(StrEnum):
    EARLY = "early"  # shows the appointment and when its waiting room opens
    OPEN = "open"  # the waiting room is open
    CLOSED = "closed"  # the visit is over or cancelled: the link no longer works


def link_state(
    visit_state: VisitState | str,
    scheduled_for: datetime | None,
    opens_before: timedelta,
    now: datetime,
) -> LinkState:
    """What a guest's link leads to now: links open `opens_before` the start and work
    until the visit ends."""
    state = VisitState(visit_state)
    if state not in (VisitState.SCHEDULED, VisitState.OPEN, VisitState.IN_CALL):
        return LinkState.CLOSED
    if scheduled_for is not None and now < scheduled_for - opens_before:
        return LinkState.EARLY
    return LinkState.OPEN


def reminder_times(
    scheduled_for: datetime, booked_at: datetime, offsets: Iterable[timedelta]
) -> list[datetime]:
    """When to remind, earliest first: one per offset before the start, leaving out any
    whose time had already passed at booking (a visit booked 10 minutes ahead gets no
    24-hour reminder)."""
    due = {scheduled_for - offset for offset in offsets}
    return sorted(at for at in due if at > booked_at)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait before trying a failed delivery again: 30 s, 1, 2, 4, 8 min...
    (capped at an hour)."""
    return min(timedelta(seconds=30) * 2 ** max(0, attempts - 1), timedelta(hours=1))


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants (in UTC) a clinic's calendar day starts and ends, whatever the day's
    length (23 or 25 hours across a daylight-saving change). In UTC because Python
    subtracts two times of the same zone by their clock faces, not their instants."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
