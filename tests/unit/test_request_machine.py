"""The on-demand request machine: transitions and the rule for asking again."""

from datetime import UTC, datetime
from itertools import product

import pytest

from clinicqueue import (
    UNAVAILABLE_NOTE,
    DeclineReason,
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
S, A = RequestState, RequestAction  # short, so each move below fits on one line

# The design's table, written out independently of the code's: only a pending request moves.
ALLOWED = [
    pytest.param(S.PENDING, A.ACCEPT, S.ACCEPTED, id="accept a pending request"),
    pytest.param(S.PENDING, A.DECLINE, S.DECLINED, id="decline a pending request"),
    pytest.param(S.PENDING, A.CANCEL, S.CANCELLED, id="cancel a pending request"),
    pytest.param(S.PENDING, A.EXPIRE, S.EXPIRED, id="expire a pending request"),
]
# Every other move, named one by one: a finished request never moves again.
FORBIDDEN = [
    pytest.param(S.ACCEPTED, A.ACCEPT, id="accept an accepted request again"),
    pytest.param(S.ACCEPTED, A.DECLINE, id="decline an accepted request"),
    pytest.param(S.ACCEPTED, A.CANCEL, id="cancel an accepted request"),
    pytest.param(S.ACCEPTED, A.EXPIRE, id="expire an accepted request"),
    pytest.param(S.DECLINED, A.ACCEPT, id="accept a declined request"),
    pytest.param(S.DECLINED, A.DECLINE, id="decline a declined request again"),
    pytest.param(S.DECLINED, A.CANCEL, id="cancel a declined request"),
    pytest.param(S.DECLINED, A.EXPIRE, id="expire a declined request"),
    pytest.param(S.CANCELLED, A.ACCEPT, id="accept a cancelled request"),
    pytest.param(S.CANCELLED, A.DECLINE, id="decline a cancelled request"),
    pytest.param(S.CANCELLED, A.CANCEL, id="cancel a cancelled request again"),
    pytest.param(S.CANCELLED, A.EXPIRE, id="expire a cancelled request"),
    pytest.param(S.EXPIRED, A.ACCEPT, id="accept an expired request"),
    pytest.param(S.EXPIRED, A.DECLINE, id="decline an expired request"),
    pytest.param(S.EXPIRED, A.CANCEL, id="cancel an expired request"),
    pytest.param(S.EXPIRED, A.EXPIRE, id="expire an expired request again"),
]


def test_transition_table_is_exactly_the_designed_one():
    designed = {(state, action): new for state, action, new in (p.values for p in ALLOWED)}

    assert designed == TRANSITIONS


def test_every_state_and_action_pair_is_named_allowed_or_forbidden_exactly_once():
    named = [p.values[:2] for p in ALLOWED + FORBIDDEN]

    assert len(named) == len(set(named))
    assert set(named) == set(product(RequestState, RequestAction))


@pytest.mark.parametrize(("state", "action", "new"), ALLOWED)
def test_pending_request_moves_on_every_allowed_action(state, action, new):
    outcome = transition_request(state, action, NOW)

    assert outcome.state == new
    assert outcome.events == (RequestChanged(state.value, new.value, NOW),)


@pytest.mark.parametrize(("state", "action"), FORBIDDEN)
def test_forbidden_move_raises_invalid_transition(state, action):
    with pytest.raises(InvalidTransition) as raised:
        transition_request(state, action, NOW)

    assert raised.value.machine == "request"
    assert raised.value.state == state.value
    assert raised.value.action == action.value
    assert str(raised.value) == f"cannot {action.value} a request that is {state.value}"


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
    assert outcome.decline_reason is None
    assert outcome.events == (RequestOpened("pending", NOW),)


def test_request_to_an_unavailable_provider_is_declined_at_once():
    outcome = decide_new_request(False, [], NOW)

    assert outcome.state == RequestState.DECLINED
    # The requester reads "not available right now", not "declined your request".
    assert outcome.decline_reason == DeclineReason.UNAVAILABLE
    assert outcome.events == (RequestOpened("declined", NOW),)


@pytest.mark.parametrize("available", [True, False])
def test_a_live_session_with_the_provider_blocks_a_new_request(available):
    with pytest.raises(RequestBlocked) as blocked:
        decide_new_request(available, [], NOW, live_session=True)

    assert blocked.value.reason == "in_session"
    assert "already have a session" in str(blocked.value)


def test_a_live_session_blocks_even_when_earlier_requests_are_all_finished():
    earlier = [
        OpenRequest(RequestState.ACCEPTED, False),
        OpenRequest(RequestState.CANCELLED, False),
    ]

    with pytest.raises(RequestBlocked, match="already have a session"):
        decide_new_request(True, earlier, NOW, live_session=True)


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
def test_only_a_declined_or_expired_request_not_yet_dismissed_can_be_dismissed(state, dismissed):
    expected = state in (RequestState.DECLINED, RequestState.EXPIRED) and not dismissed

    assert can_dismiss(state, dismissed) is expected
