"""A provider's queue of pending requests: each one's place in line and its estimated wait.

The estimate is the median of the provider's recent response times (how long their
answered requests waited for an answer), times the place in line: the first in line waits
about one typical answer, the second about two. Too few recent answers give no estimate
("unknown") rather than a guess from one or two.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# The answers an estimate reads at most: the provider's most recent ones.
RECENT_ANSWERS = 20


@dataclass(frozen=True)
class Queued:
    """What the queue needs to know of a pending request."""

    request_id: int
    created_at: datetime


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1 for the oldest pending request to the provider
    estimated_wait_seconds: int | None  # None: too little history to say


def queue_order(pending: Iterable[Queued]) -> list[int]:
    """Request ids, first served first: the oldest request, then (same instant) the lower id."""
    return [q.request_id for q in sorted(pending, key=lambda q: (q.created_at, q.request_id))]


def typical_response_seconds(durations: Sequence[float], minimum: int) -> float | None:
    """The median of the most recent answers' response times (newest first in `durations`),
    or None when fewer than `minimum` are known."""
    recent = [max(0.0, d) for d in durations[:RECENT_ANSWERS]]
    if not recent or len(recent) < minimum:
        return None
    return statistics.median(recent)


def estimate_wait(typical_seconds: float | None, position: int) -> int | None:
    """Whole seconds until an answer for the request at `position`, or None (unknown)."""
    if typical_seconds is None:
        return None
    if position < 1:
        raise ValueError("a position in line starts at 1")
    return round(typical_seconds * position)


def queue_places(
    pending: Iterable[Queued], durations: Sequence[float], minimum: int
) -> dict[int, QueuePlace]:
    """Each pending request's place in line and estimated wait, by request id."""
    typical = typical_response_seconds(durations, minimum)
    return {
        request_id: QueuePlace(position, estimate_wait(typical, position))
        for position, request_id in enumerate(queue_order(pending), start=1)
    }
