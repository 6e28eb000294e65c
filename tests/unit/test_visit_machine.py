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
    admission_refusal,
    arrival_presence,
    host_departure,
    lets_in_on_entry,
    participant_status,
    transition_presence,
    transition_visit,
)
from clinicqueue.events import PresenceChanged, VisitChanged
from clinicqueue.visit import LIVE_VISIT_STATES, PRESENCE_TRANSITIONS, VISIT_TRANSITIONS

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)

# The design's tables, written out independently of the code's, every move named.
V, VA = VisitState, VisitAction  # short, so each move below fits on one line
VISIT_ALLOWED = [
    pytest.param(V.SCHEDULED, VA.OPEN, V.OPEN, id="open a scheduled visit"),
    pytest.param(V.SCHEDULED, VA.CANCEL, V.CANCELLED, id="cancel a scheduled visit"),
    pytest.param(V.SCHEDULED, VA.COMPLETE, V.COMPLETED, id="complete a scheduled visit"),
    pytest.param(V.OPEN, VA.START_CALL, V.IN_CALL, id="start the call of an open visit"),
    pytest.param(V.OPEN, VA.END, V.ENDED, id="end an open visit"),
    pytest.param(V.OPEN, VA.CANCEL, V.CANCELLED, id="cancel an open visit"),
    pytest.param(V.OPEN, VA.COMPLETE, V.COMPLETED, id="complete an open visit"),
    pytest.param(V.IN_CALL, VA.END, V.ENDED, id="end a visit in its call"),
]
VISIT_FORBIDDEN = [
    pytest.param(V.SCHEDULED, VA.START_CALL, id="start a call before the visit opens"),
    pytest.param(V.SCHEDULED, VA.END, id="end a visit that never opened"),
    pytest.param(V.OPEN, VA.OPEN, id="open an open visit again"),
    pytest.param(V.IN_CALL, VA.OPEN, id="open a visit in its call"),
    pytest.param(V.IN_CALL, VA.START_CALL, id="start a call already going"),
    pytest.param(V.IN_CALL, VA.CANCEL, id="cancel a visit in its call"),
    pytest.param(V.IN_CALL, VA.COMPLETE, id="complete a visit in its call without ending it"),
    pytest.param(V.ENDED, VA.OPEN, id="reopen an ended visit"),
    pytest.param(V.ENDED, VA.START_CALL, id="start a call in an ended visit"),
    pytest.param(V.ENDED, VA.END, id="end an ended visit again"),
    pytest.param(V.ENDED, VA.CANCEL, id="cancel an ended visit"),
    pytest.param(V.ENDED, VA.COMPLETE, id="complete an ended visit"),
    pytest.param(V.CANCELLED, VA.OPEN, id="open a cancelled visit"),
    pytest.param(V.CANCELLED, VA.START_CALL, id="start a call in a cancelled visit"),
    pytest.param(V.CANCELLED, VA.END, id="end a cancelled visit"),
    pytest.param(V.CANCELLED, VA.CANCEL, id="cancel a cancelled visit again"),
    pytest.param(V.CANCELLED, VA.COMPLETE, id="complete a cancelled visit"),
    pytest.param(V.COMPLETED, VA.OPEN, id="reopen a completed visit"),
    pytest.param(V.COMPLETED, VA.START_CALL, id="start a call in a completed visit"),
    pytest.param(V.COMPLETED, VA.END, id="end a completed visit"),
    pytest.param(V.COMPLETED, VA.CANCEL, id="cancel a completed visit"),
    pytest.param(V.COMPLETED, VA.COMPLETE, id="complete a completed visit again"),
]

P, PA = Presence, PresenceAction
PRESENCE_ALLOWED = [
    pytest.param(P.ABSENT, PA.ARRIVE, P.WAITING, id="someone absent arrives to wait"),
    pytest.param(P.LEFT, PA.ARRIVE, P.WAITING, id="someone who left comes back to wait"),
    pytest.param(P.WAITING, PA.ADMIT, P.ADMITTED, id="admit someone waiting"),
    pytest.param(P.ADMITTED, PA.MOVE_BACK, P.WAITING, id="move someone admitted back"),
    pytest.param(P.WAITING, PA.LEAVE, P.LEFT, id="someone waiting leaves"),
    pytest.param(P.ADMITTED, PA.LEAVE, P.LEFT, id="someone admitted leaves"),
    pytest.param(P.WAITING, PA.DENY, P.REMOVED, id="deny someone waiting"),
    pytest.param(P.ADMITTED, PA.REMOVE, P.REMOVED, id="remove someone admitted"),
]
PRESENCE_FORBIDDEN = [
    pytest.param(P.ABSENT, PA.ADMIT, id="admit someone who never arrived"),
    pytest.param(P.ABSENT, PA.MOVE_BACK, id="move back someone who never arrived"),
    pytest.param(P.ABSENT, PA.LEAVE, id="someone who never arrived leaves"),
    pytest.param(P.ABSENT, PA.REMOVE, id="remove someone who never arrived"),
    pytest.param(P.ABSENT, PA.DENY, id="deny someone who never arrived"),
    pytest.param(P.WAITING, PA.REMOVE, id="remove someone waiting (that is deny)"),
    pytest.param(P.ADMITTED, PA.DENY, id="deny someone already in the call"),
    pytest.param(P.LEFT, PA.DENY, id="deny someone who left"),
    pytest.param(P.REMOVED, PA.DENY, id="deny someone removed"),
    pytest.param(P.WAITING, PA.ARRIVE, id="someone waiting arrives again"),
    pytest.param(P.WAITING, PA.MOVE_BACK, id="move back someone still waiting"),
    pytest.param(P.ADMITTED, PA.ARRIVE, id="someone admitted arrives again"),
    pytest.param(P.ADMITTED, PA.ADMIT, id="admit someone already admitted"),
    pytest.param(P.LEFT, PA.ADMIT, id="admit someone who left"),
    pytest.param(P.LEFT, PA.MOVE_BACK, id="move back someone who left"),
    pytest.param(P.LEFT, PA.LEAVE, id="someone who left leaves again"),
    pytest.param(P.LEFT, PA.REMOVE, id="remove someone who left"),
    pytest.param(P.REMOVED, PA.ARRIVE, id="someone removed arrives again"),
    pytest.param(P.REMOVED, PA.ADMIT, id="admit someone removed"),
    pytest.param(P.REMOVED, PA.MOVE_BACK, id="move back someone removed"),
    pytest.param(P.REMOVED, PA.LEAVE, id="someone removed leaves"),
    pytest.param(P.REMOVED, PA.REMOVE, id="remove someone removed again"),
]


def table(allowed) -> dict:
    return {(state, action): new for state, action, new in (p.values for p in allowed)}


def named_moves(allowed, forbidden) -> list[tuple]:
    return [p.values[:2] for p in allowed + forbidden]


ENTERABLE = [VisitState.OPEN, VisitState.IN_CALL]
NOT_ENTERABLE = [s for s in VisitState if s not in ENTERABLE]


# Visit machine -------------------------------------------------------------------------


def test_visit_transition_table_is_exactly_the_designed_one():
    assert table(VISIT_ALLOWED) == VISIT_TRANSITIONS


def test_every_visit_state_and_action_pair_is_named_allowed_or_forbidden_exactly_once():
    named = named_moves(VISIT_ALLOWED, VISIT_FORBIDDEN)

    assert len(named) == len(set(named))
    assert set(named) == set(product(VisitState, VisitAction))


@pytest.mark.parametrize(("state", "action", "new"), VISIT_ALLOWED)
def test_visit_moves_on_every_allowed_action(state, action, new):
    outcome = transition_visit(state, action, NOW)

    assert outcome.state == new
    assert outcome.events == (VisitChanged(state.value, new.value, NOW),)


@pytest.mark.parametrize(("state", "action"), VISIT_FORBIDDEN)
def test_forbidden_visit_move_raises_invalid_transition(state, action):
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
    assert table(PRESENCE_ALLOWED) == PRESENCE_TRANSITIONS


def test_every_presence_and_action_pair_is_named_allowed_or_forbidden_exactly_once():
    named = named_moves(PRESENCE_ALLOWED, PRESENCE_FORBIDDEN)

    assert len(named) == len(set(named))
    assert set(named) == set(product(Presence, PresenceAction))


@pytest.mark.parametrize(("presence", "action", "new"), PRESENCE_ALLOWED)
def test_presence_moves_on_every_allowed_action(presence, action, new):
    outcome = transition_presence(presence, action, NOW)

    assert outcome.presence == new
    assert outcome.events == (PresenceChanged(presence.value, new.value, NOW),)


@pytest.mark.parametrize(("presence", "action"), PRESENCE_FORBIDDEN)
def test_forbidden_presence_move_raises_invalid_transition(presence, action):
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


@pytest.mark.parametrize("presence", [Presence.ABSENT, Presence.LEFT, Presence.WAITING], ids=str)
def test_someone_who_may_not_let_themselves_in_waits_even_with_the_host_in_the_call(presence):
    outcome = arrival_presence(presence, VisitState.IN_CALL, True, NOW, self_admitted=False)

    assert outcome.presence == Presence.WAITING


@pytest.mark.parametrize(
    ("role", "held", "lets_in"),
    [
        ("patient", False, True),
        ("patient", True, False),
        ("guest", False, False),
        ("guest", True, False),
    ],
)
def test_only_the_patient_not_moved_back_goes_in_with_the_host(role, held, lets_in):
    assert lets_in_on_entry(role, held) is lets_in


@pytest.mark.parametrize(("admitted", "limit"), [(0, 4), (3, 4), (1, 2)])
def test_admission_is_allowed_below_the_mesh_limit(admitted, limit):
    assert admission_refusal(admitted, limit) is None


@pytest.mark.parametrize(("admitted", "limit"), [(4, 4), (5, 4), (2, 2)])
def test_admission_is_refused_at_the_mesh_limit_saying_why(admitted, limit):
    message = admission_refusal(admitted, limit)

    assert message is not None
    assert f"{admitted} people" in message
    assert f"({limit})" in message


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


# The host leaves ------------------------------------------------------------------------


def test_when_the_host_leaves_everyone_admitted_goes_back_to_the_waiting_room():
    moved = host_departure({1: Presence.ADMITTED, 2: "admitted"}, NOW)

    assert {pid: outcome.presence for pid, outcome in moved.items()} == {
        1: Presence.WAITING,
        2: Presence.WAITING,
    }
    assert moved[1].events == (PresenceChanged("admitted", "waiting", NOW),)


@pytest.mark.parametrize(
    "presence", [Presence.ABSENT, Presence.WAITING, Presence.LEFT, Presence.REMOVED]
)
def test_when_the_host_leaves_nobody_else_moves(presence):
    assert host_departure({7: presence}, NOW) == {}


def test_a_patient_moved_back_is_admitted_again_when_the_host_returns():
    [back] = host_departure({3: Presence.ADMITTED}, NOW).values()

    again = arrival_presence(back.presence, VisitState.IN_CALL, True, NOW)

    assert again.presence == Presence.ADMITTED
