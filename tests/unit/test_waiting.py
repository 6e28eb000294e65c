"""A provider's queue: who is first in line, and the estimated wait from recent answers."""

from datetime import UTC, datetime, timedelta

import pytest

from clinicqueue.waiting import (
    RECENT_ANSWERS,
    Queued,
    QueuePlace,
    estimate_wait,
    queue_order,
    queue_places,
    typical_response_seconds,
)

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_the_oldest_pending_request_is_first_in_line():
    pending = [Queued(7, ago(10)), Queued(3, ago(300)), Queued(5, ago(60))]

    assert queue_order(pending) == [3, 5, 7]


def test_requests_made_at_the_same_instant_go_in_the_order_they_were_stored():
    pending = [Queued(9, ago(30)), Queued(4, ago(30)), Queued(6, ago(30))]

    assert queue_order(pending) == [4, 6, 9]


def test_an_empty_queue_has_no_order():
    assert queue_order([]) == []
    assert queue_places([], [60, 60, 60], minimum=3) == {}


def test_the_typical_answer_is_the_median_so_one_slow_answer_does_not_dominate():
    assert typical_response_seconds([30, 40, 50, 3600], minimum=3) == 45
    assert typical_response_seconds([30, 3600, 40], minimum=3) == 40


def test_too_few_answers_give_no_typical_answer():
    assert typical_response_seconds([], minimum=3) is None
    assert typical_response_seconds([30, 40], minimum=3) is None
    assert typical_response_seconds([30], minimum=1) == 30


def test_only_the_most_recent_answers_count():
    recent = [10] * RECENT_ANSWERS
    old_and_slow = [10_000] * 50

    assert typical_response_seconds(recent + old_and_slow, minimum=3) == 10


def test_a_clock_step_backwards_never_makes_a_negative_answer_time():
    assert typical_response_seconds([-5, -5, 20], minimum=3) == 0


def test_the_estimate_grows_with_the_place_in_line():
    assert estimate_wait(45, 1) == 45
    assert estimate_wait(45, 3) == 135
    assert estimate_wait(40.4, 2) == 81  # whole seconds


def test_an_unknown_typical_answer_gives_an_unknown_estimate():
    assert estimate_wait(None, 1) is None


def test_a_place_in_line_starts_at_one():
    with pytest.raises(ValueError):
        estimate_wait(30, 0)


def test_each_request_gets_its_place_and_estimate():
    pending = [Queued(12, ago(20)), Queued(10, ago(200)), Queued(11, ago(100))]

    places = queue_places(pending, [60, 90, 120], minimum=3)

    assert places == {
        10: QueuePlace(1, 90),
        11: QueuePlace(2, 180),
        12: QueuePlace(3, 270),
    }


def test_with_too_little_history_places_are_known_and_estimates_are_not():
    pending = [Queued(2, ago(20)), Queued(1, ago(200))]

    places = queue_places(pending, [60, 90], minimum=3)

    assert places == {1: QueuePlace(1, None), 2: QueuePlace(2, None)}
