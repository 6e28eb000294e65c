"""Visits and participant presence: transitions, arrival in the waiting room, labels."""

from datetime import UTC, datetime
from itertools import product

import pytest

from clinicqueue import (
    InvalidTransition,
    Presence,
    PresenceAction,
    VisitAction,
    VisitState,
    arrival_presence,
    participant_status,
    transition_presence,
    transition_visit,
)
from clinicqueue.events import PresenceChanged, VisitChanged
from clinicqueue.visit import LIVE_VISIT_STATES, PRESENCE_TRANSITIONS, VISIT_TRANSITIONS

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)

# The design's tables, written out independently of the code's.
VISIT_ALLOWED = {
    (VisitState.SCHEDULED, VisitAction.OPEN): VisitState.OPEN,
    (VisitState.SCHEDULED, VisitAction.CANCEL): VisitState.CANCELLED,
    (VisitState.SCHEDULED, VisitAction.COMPLETE): VisitState.COMPLETED,
    (VisitState.OPEN, VisitAction.START_CALL): VisitState.IN_CALL,
    (VisitState.OPEN, VisitAction.END): VisitState.ENDED,
    (VisitState.OPEN, VisitAction.CANCEL): VisitState.CANCELLED,
    (VisitState.OPEN, VisitAction.COMPLETE): VisitState.COMPLETED,
    (VisitState.IN_CALL, VisitAction.END): VisitState.ENDED,
}
VISIT_FORBIDDEN = [m for m in product(VisitState, VisitAction) if m not in VISIT_ALLOWED]

PRESENCE_ALLOWED = {
    (Presence.ABSENT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.LEFT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.WAITING, PresenceAction.ADMIT): Presence.ADMITTED,
    (Presence.ADMITTED, PresenceAction.MOVE_BACK): Presence.WAITING,
    (Presence.WAITING, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.ADMITTED, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.WAITING, PresenceAction.REMOVE): Presence.REMOVED,
    (Presence.ADMITTED, PresenceAction.REMOVE): Presence.REMOVED,
}
PRESENCE_FORBIDDEN = [m for m in product(Presence, PresenceAction) if m not in PRESENCE_ALLOWED]

ENTERABLE = [VisitState.OPEN, VisitState.IN_CALL]
NOT_ENTERABLE = [s for s in VisitState if s not in ENTERABLE]


# Visit machine -------------------------------------------------------------------------


def test_visit_transition_table_is_exactly_the_designed_one():
    assert VISIT_TRANSITIONS == VISIT_ALLOWED


@pytest.mark.parametrize(("state", "action"), list(VISIT_ALLOWED), ids=str)
def test_visit_moves_on_every_allowed_action(state, action):
    outcome = transition_visit(state, action, NOW)

    assert outcome.state == VISIT_ALLOWED[(state, action)]
    assert outcome.events == (VisitChanged(state.value, outcome.state.value, NOW),)


@pytest.mark.parametrize(("state", "action"), VISIT_FORBIDDEN, ids=str)
def test_every_other_visit_move_raises_invalid_transition(state, action):
    with pytest.raises(InvalidTransition) as raised:
        transition_visit(state, action, NOW)

    assert (raised.value.machine, raised.value.state, raised.value.action) == (
        "visit",
        state.value,
        action.value,
    )


@pytest.mark.parametrize(
    "state", [VisitState.ENDED, VisitState.CANCELLED, VisitState.COMPLETED], ids=str
)
def test_finished_visit_never_moves_again(state):
    for action in VisitAction:
        with pytest.raises(InvalidTransition):
            transition_visit(state, action, NOW)


def test_live_visits_are_scheduled_open_or_in_call():
    assert {VisitState.SCHEDULED, VisitState.OPEN, VisitState.IN_CALL} == LIVE_VISIT_STATES


def test_visit_transition_accepts_the_state_as_stored_text():
    assert transition_visit("in_call", VisitAction.END, NOW).state == VisitState.ENDED


# Presence machine ----------------------------------------------------------------------


def test_presence_transition_table_is_exactly_the_designed_one():
    assert PRESENCE_TRANSITIONS == PRESENCE_ALLOWED


@pytest.mark.parametrize(("presence", "action"), list(PRESENCE_ALLOWED), ids=str)
def test_presence_moves_on_every_allowed_action(presence, action):
    outcome = transition_presence(presence, action, NOW)

    assert outcome.presence == PRESENCE_ALLOWED[(presence, action)]
    assert outcome.events == (PresenceChanged(presence.value, outcome.presence.value, NOW),)


@pytest.mark.parametrize(("presence", "action"), PRESENCE_FORBIDDEN, ids=str)
def test_every_other_presence_move_raises_invalid_transition(presence, action):
    with pytest.raises(InvalidTransition) as raised:
        transition_presence(presence, action, NOW)

    assert (raised.value.machine, raised.value.state, raised.value.action) == (
        "participant",
        presence.value,
        action.value,
    )


def test_removed_participant_cannot_come_back():
    for action in PresenceAction:
        with pytest.raises(InvalidTransition):
            transition_presence(Presence.REMOVED, action, NOW)


# Arrival in the waiting room -----------------------------------------------------------


@pytest.mark.parametrize("visit_state", ENTERABLE, ids=str)
@pytest.mark.parametrize("presence", [Presence.ABSENT, Presence.LEFT], ids=str)
def test_arrival_waits_for_the_host_when_the_host_is_not_in_the_call(presence, visit_state):
    outcome = arrival_presence(presence, visit_state, host_in_call=False, now=NOW)

    assert outcome.presence == Presence.WAITING
    assert outcome.events == (PresenceChanged(presence.value, "waiting", NOW),)


@pytest.mark.parametrize("visit_state", ENTERABLE, ids=str)
@pytest.mark.parametrize("presence", [Presence.ABSENT, Presence.LEFT], ids=str)
def test_arrival_is_admitted_at_once_when_the_host_is_in_the_call(presence, visit_state):
    outcome = arrival_presence(presence, visit_state, host_in_call=True, now=NOW)

    assert outcome.presence == Presence.ADMITTED
    assert outcome.events == (
        PresenceChanged(presence.value, "waiting", NOW),
        PresenceChanged("waiting", "admitted", NOW),
    )


def test_someone_already_waiting_keeps_waiting_without_new_events():
    outcome = arrival_presence(Presence.WAITING, VisitState.OPEN, host_in_call=False, now=NOW)

    assert outcome.presence == Presence.WAITING
    assert outcome.events == ()


def test_someone_already_waiting_is_admitted_when_the_host_is_in_the_call():
    outcome = arrival_presence(Presence.WAITING, VisitState.IN_CALL, host_in_call=True, now=NOW)

    assert outcome.presence == Presence.ADMITTED
    assert outcome.events == (PresenceChanged("waiting", "admitted", NOW),)


@pytest.mark.parametrize("host_in_call", [False, True])
def test_someone_already_admitted_stays_admitted_without_new_events(host_in_call):
    outcome = arrival_presence(Presence.ADMITTED, VisitState.IN_CALL, host_in_call, NOW)

    assert outcome.presence == Presence.ADMITTED
    assert outcome.events == ()


@pytest.mark.parametrize("host_in_call", [False, True])
@pytest.mark.parametrize("visit_state", NOT_ENTERABLE, ids=str)
def test_nobody_enters_a_visit_that_is_not_open(visit_state, host_in_call):
    with pytest.raises(InvalidTransition) as raised:
        arrival_presence(Presence.ABSENT, visit_state, host_in_call, NOW)

    assert (raised.value.machine, raised.value.state, raised.value.action) == (
        "visit",
        visit_state.value,
        "enter",
    )


def test_removed_participant_cannot_enter_again():
    with pytest.raises(InvalidTransition):
        arrival_presence(Presence.REMOVED, VisitState.IN_CALL, host_in_call=True, now=NOW)


def test_arrival_events_carry_the_time_given():
    later = datetime(2031, 12, 31, 23, 59, tzinfo=UTC)

    outcome = arrival_presence("absent", "in_call", host_in_call=True, now=later)

    assert [event.at for event in outcome.events] == [later, later]


# Labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presence", "label"),
    [
        (Presence.ABSENT, "Not arrived"),
        (Presence.LEFT, "Not arrived"),
        (Presence.WAITING, "In Waiting Room"),
        (Presence.ADMITTED, "In Meeting"),
        (Presence.REMOVED, "Removed"),
    ],
    ids=str,
)
def test_provider_reads_a_status_label_for_every_presence(presence, label):
    assert participant_status(presence) == label
    assert participant_status(presence.value) == label


def test_every_presence_has_a_status_label():
    assert all(participant_status(p) for p in Presence)
