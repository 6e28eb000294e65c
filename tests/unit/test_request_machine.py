"""The on-demand request machine: transitions and the rule for asking again."""

from datetime import UTC, datetime
from itertools import product

import pytest

from clinicqueue import (
    UNAVAILABLE_NOTE,
    InvalidTransition,
    RequestAction,
    RequestBlocked,
    RequestState,
    decide_new_request,
    transition_request,
)
from clinicqueue.events import RequestChanged, RequestOpened
from clinicqueue.request import TRANSITIONS, OpenRequest, can_dismiss

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)

# The design's table, written out independently of the code's: only a pending request moves.
ALLOWED = {
    (RequestState.PENDING, RequestAction.ACCEPT): RequestState.ACCEPTED,
    (RequestState.PENDING, RequestAction.DECLINE): RequestState.DECLINED,
    (RequestState.PENDING, RequestAction.CANCEL): RequestState.CANCELLED,
    (RequestState.PENDING, RequestAction.EXPIRE): RequestState.EXPIRED,
}
EVERY_MOVE = list(product(RequestState, RequestAction))
FORBIDDEN = [move for move in EVERY_MOVE if move not in ALLOWED]


def test_transition_table_is_exactly_the_designed_one():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("state", "action"), list(ALLOWED), ids=lambda v: str(v))
def test_pending_request_moves_on_every_allowed_action(state, action):
    outcome = transition_request(state, action, NOW)

    assert outcome.state == ALLOWED[(state, action)]
    assert outcome.events == (RequestChanged(state.value, outcome.state.value, NOW),)


@pytest.mark.parametrize(("state", "action"), FORBIDDEN, ids=lambda v: str(v))
def test_every_other_move_raises_invalid_transition(state, action):
    with pytest.raises(InvalidTransition) as raised:
        transition_request(state, action, NOW)

    assert raised.value.machine == "request"
    assert raised.value.state == state.value
    assert raised.value.action == action.value
    assert str(raised.value) == f"cannot {action.value} a request that is {state.value}"


def test_every_state_and_action_pair_is_either_allowed_or_forbidden():
    assert len(ALLOWED) + len(FORBIDDEN) == len(RequestState) * len(RequestAction)


def test_transition_accepts_the_state_as_stored_text():
    assert transition_request("pending", RequestAction.ACCEPT, NOW).state == RequestState.ACCEPTED


def test_unknown_stored_state_is_refused():
    with pytest.raises(ValueError):
        transition_request("lost", RequestAction.ACCEPT, NOW)


def test_request_events_carry_the_time_given():
    later = datetime(2031, 12, 31, 23, 59, tzinfo=UTC)

    outcome = transition_request(RequestState.PENDING, RequestAction.DECLINE, later)

    assert [event.at for event in outcome.events] == [later]


def test_request_to_an_available_provider_starts_pending():
    outcome = decide_new_request(True, [], NOW)

    assert outcome.state == RequestState.PENDING
    assert outcome.events == (RequestOpened("pending", NOW),)


def test_request_to_an_unavailable_provider_is_declined_at_once():
    outcome = decide_new_request(False, [], NOW)

    assert outcome.state == RequestState.DECLINED
    assert outcome.events == (RequestOpened("declined", NOW),)


def test_unavailable_note_is_a_readable_sentence():
    assert UNAVAILABLE_NOTE.endswith(".")
    assert "not available" in UNAVAILABLE_NOTE


@pytest.mark.parametrize("available", [True, False])
def test_pending_earlier_request_blocks_a_new_one(available):
    earlier = [OpenRequest(RequestState.PENDING, dismissed=False)]

    with pytest.raises(RequestBlocked) as raised:
        decide_new_request(available, earlier, NOW)

    assert raised.value.reason == "pending"
    assert "already" in str(raised.value)


@pytest.mark.parametrize("available", [True, False])
def test_declined_request_blocks_a_new_one_until_dismissed(available):
    not_dismissed = [OpenRequest(RequestState.DECLINED, dismissed=False)]
    dismissed = [OpenRequest(RequestState.DECLINED, dismissed=True)]

    with pytest.raises(RequestBlocked) as raised:
        decide_new_request(available, not_dismissed, NOW)
    assert raised.value.reason == "declined_not_dismissed"
    assert "Dismiss" in str(raised.value)

    outcome = decide_new_request(available, dismissed, NOW)
    assert outcome.state == (RequestState.PENDING if available else RequestState.DECLINED)


@pytest.mark.parametrize(
    "state", [RequestState.ACCEPTED, RequestState.CANCELLED, RequestState.EXPIRED]
)
def test_finished_earlier_requests_do_not_block(state):
    earlier = [OpenRequest(state, dismissed=False), OpenRequest(state, dismissed=True)]

    assert decide_new_request(True, earlier, NOW).state == RequestState.PENDING


def test_one_blocking_request_among_finished_ones_still_blocks():
    earlier = [
        OpenRequest(RequestState.ACCEPTED, dismissed=False),
        OpenRequest(RequestState.DECLINED, dismissed=True),
        OpenRequest(RequestState.PENDING, dismissed=False),
    ]

    with pytest.raises(RequestBlocked) as raised:
        decide_new_request(True, earlier, NOW)
    assert raised.value.reason == "pending"


def test_earlier_requests_may_be_any_iterable():
    earlier = (r for r in [OpenRequest(RequestState.DECLINED, dismissed=False)])

    with pytest.raises(RequestBlocked):
        decide_new_request(True, earlier, NOW)


@pytest.mark.parametrize(("state", "dismissed"), list(product(RequestState, [False, True])))
def test_only_a_declined_request_not_yet_dismissed_can_be_dismissed(state, dismissed):
    expected = state == RequestState.DECLINED and not dismissed

    assert can_dismiss(state, dismissed) is expected
