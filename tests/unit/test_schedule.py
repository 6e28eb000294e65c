"""The clinic schedule's rules: row status, the 5-minute rule, link windows, reminders,
retries and calendar days in a clinic's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clinicqueue.schedule import (
    Attendee,
    LinkState,
    ScheduleStatus,
    day_bounds,
    link_state,
    online_from,
    reminder_times,
    retry_delay,
    schedule_status,
    zone,
)
from clinicqueue.visit import Presence, VisitState

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
HOST = Attendee("host", Presence.ABSENT, name="Dr. Ada", is_staff=True)


def patient(presence, since=None):
    return Attendee("patient", presence, waiting_since=since, name="Jo Bloggs")


@pytest.mark.parametrize("state", [VisitState.SCHEDULED, VisitState.OPEN])
def test_a_visit_nobody_has_joined_is_scheduled(state):
    row = schedule_status(state, START, [HOST, patient(Presence.ABSENT)], START)

    assert (row.status, row.label, row.waiting_since) == ("scheduled", "Scheduled", None)


def test_a_patient_who_arrives_20_minutes_early_is_not_online_until_5_minutes_before():
    arrived = START - timedelta(minutes=20)
    attendees = [HOST, patient(Presence.WAITING, arrived)]

    at = {
        minutes: schedule_status(
            VisitState.OPEN, START, attendees, START + timedelta(minutes=minutes)
        )
        for minutes in (-20, -6, -5, 0, 30)
    }

    assert at[-20].status == at[-6].status == ScheduleStatus.SCHEDULED
    for later in (-5, 0, 30):
        assert at[later].status == ScheduleStatus.PATIENT_ONLINE
        assert at[later].waiting_since == arrived  # the waiting time counts from arrival
    assert online_from(START) == START - timedelta(minutes=5)


def test_an_on_demand_patient_is_online_as_soon_as_they_wait():
    since = START - timedelta(seconds=3)

    row = schedule_status(VisitState.OPEN, None, [HOST, patient(Presence.WAITING, since)], START)

    assert (row.status, row.waiting_since) == (ScheduleStatus.PATIENT_ONLINE, since)


def test_the_earliest_waiting_guest_sets_the_waiting_time():
    first, second = START - timedelta(minutes=2), START - timedelta(minutes=1)
    attendees = [
        HOST,
        patient(Presence.WAITING, second),
        Attendee("guest", Presence.WAITING, waiting_since=first, name="Nurse"),
    ]

    assert schedule_status(VisitState.OPEN, START, attendees, START).waiting_since == first


def test_a_provider_with_the_patient_is_a_running_session_with_their_name():
    attendees = [
        Attendee("host", Presence.LEFT, name="Dr. Ada", is_staff=True),
        Attendee("guest", Presence.ADMITTED, name="Dr. Ben", is_staff=True),
        patient(Presence.ADMITTED),
    ]

    row = schedule_status(VisitState.IN_CALL, START, attendees, START)

    assert (row.status, row.label, row.provider_name) == (
        ScheduleStatus.SESSION_RUNNING,
        "Session running",
        "Dr. Ben",
    )


def test_a_provider_alone_in_the_call_while_the_patient_waits_shows_the_patient_online():
    attendees = [
        Attendee("host", Presence.ADMITTED, name="Dr. Ada", is_staff=True),
        patient(Presence.WAITING, START),
    ]

    row = schedule_status(VisitState.IN_CALL, START, attendees, START)

    assert row.status == ScheduleStatus.PATIENT_ONLINE


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (VisitState.ENDED, ScheduleStatus.COMPLETED),
        (VisitState.COMPLETED, ScheduleStatus.COMPLETED),
        (VisitState.CANCELLED, ScheduleStatus.CANCELLED),
    ],
)
def test_finished_visits_show_completed_or_cancelled_whoever_is_still_waiting(state, status):
    row = schedule_status(state, START, [HOST, patient(Presence.WAITING, START)], START)

    assert (row.status, row.waiting_since, row.provider_name) == (status, None, None)


OPENS = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("state", "minutes", "expected"),
    [
        (VisitState.SCHEDULED, -31, LinkState.EARLY),
        (VisitState.SCHEDULED, -30, LinkState.OPEN),
        (VisitState.OPEN, 0, LinkState.OPEN),
        (VisitState.IN_CALL, 90, LinkState.OPEN),  # running late still works
        (VisitState.ENDED, 0, LinkState.CLOSED),
        (VisitState.CANCELLED, -60, LinkState.CLOSED),
        (VisitState.COMPLETED, 0, LinkState.CLOSED),
    ],
)
def test_a_link_opens_before_the_start_and_closes_when_the_visit_is_over(state, minutes, expected):
    now = START + timedelta(minutes=minutes)

    assert link_state(state, START, OPENS, now) == expected


OFFSETS = [timedelta(hours=24), timedelta(minutes=15)]


def test_a_visit_booked_days_ahead_gets_every_reminder_earliest_first():
    booked = START - timedelta(days=3)

    assert reminder_times(START, booked, OFFSETS) == [
        START - timedelta(hours=24),
        START - timedelta(minutes=15),
    ]


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [
        (timedelta(hours=3), [START - timedelta(minutes=15)]),  # no 24-hour reminder
        (timedelta(minutes=10), []),  # booked 10 minutes ahead: no reminder at all
    ],
)
def test_reminders_whose_time_passed_before_booking_are_left_out(ahead, expected):
    assert reminder_times(START, START - ahead, OFFSETS) == expected


def test_retries_back_off_and_stop_growing_at_an_hour():
    delays = [retry_delay(n) for n in range(1, 10)]

    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays == sorted(delays)
    assert delays[-1] == timedelta(hours=1)


def test_a_clinic_day_lasts_23_hours_when_the_clocks_go_forward():
    london = zone("Europe/London")

    start, end = day_bounds(date(2026, 3, 29), london)

    assert end - start == timedelta(hours=23)
    assert start.astimezone(UTC) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)


def test_a_clinic_day_lasts_25_hours_when_the_clocks_go_back():
    start, end = day_bounds(date(2026, 10, 25), zone("Europe/London"))

    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)
