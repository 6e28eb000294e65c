"""On-demand requests: pending → accepted | declined | cancelled | expired."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from clinicqueue.errors import InvalidTransition, RequestBlocked
from clinicqueue.events import RequestChanged, RequestOpened

UNAVAILABLE_NOTE = "The provider is not available for sessions right now."


class RequestState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DeclineReason(StrEnum):
    """Why a request ended declined: the requester reads these differently."""

    UNAVAILABLE = "unavailable"  # the provider was, or became, unavailable
    DECLINED = "declined"  # the provider pressed Decline


class RequestAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    EXPIRE = "expire"


# Every allowed move; anything absent is illegal. Only a pending request moves.
TRANSITIONS: dict[tuple[RequestState, RequestAction], RequestState] = {
    (RequestState.PENDING, RequestAction.ACCEPT): RequestState.ACCEPTED,
    (RequestState.PENDING, RequestAction.DECLINE): RequestState.DECLINED,
    (RequestState.PENDING, RequestAction.CANCEL): RequestState.CANCELLED,
    (RequestState.PENDING, RequestAction.EXPIRE): RequestState.EXPIRED,
}


@dataclass(frozen=True)
class RequestOutcome:
    state: RequestState
    events: tuple


@dataclass(frozen=True)
class NewRequestOutcome:
    state: RequestState
    decline_reason: DeclineReason | None
    events: tuple


@dataclass(frozen=True)
class OpenRequest:
    """What the domain needs to know of a requester's earlier request to the same provider."""

    state: RequestState
    dismissed: bool


def transition_request(state: RequestState | str, action: RequestAction, now: datetime):
    """The state after `action`, or InvalidTransition."""
    current = RequestState(state)
    try:
        new = TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition("request", current.value, action.value) from None
    return RequestOutcome(new, (RequestChanged(current.value, new.value, now),))


def decide_new_request(
    provider_available: bool,
    earlier: Iterable[OpenRequest],
    now: datetime,
    live_session: bool = False,
) -> NewRequestOutcome:
    """Whether a new request starts pending or is declined at once.

    A requester with a pending request to this provider, or a declined one not yet
    dismissed, is refused: the declined message must be read before asking again. So is
    one who already has a live session (accepted, waiting or in the call) with them: the
    provider must never see the same requester twice.
    """
    if live_session:
        raise RequestBlocked(
            "in_session", "You already have a session with this provider. Enter it instead."
        )
    for request in earlier:
        if request.state == RequestState.PENDING:
            raise RequestBlocked("pending", "You already have a request waiting for this provider.")
        if request.state == RequestState.DECLINED and not request.dismissed:
            raise RequestBlocked(
                "declined_not_dismissed",
                "Your last request to this provider was declined. Dismiss it before asking again.",
            )
    if provider_available:
        return NewRequestOutcome(RequestState.PENDING, None, (RequestOpened("pending", now),))
    return NewRequestOutcome(
        RequestState.DECLINED, DeclineReason.UNAVAILABLE, (RequestOpened("declined", now),)
    )


# Endings the requester must read: they stay on their screen until dismissed (a declined
# one also blocks asking the same provider again until then; an expired one does not).
READ_UNTIL_DISMISSED = (RequestState.DECLINED, RequestState.EXPIRED)


def can_dismiss(state: RequestState | str, dismissed: bool) -> bool:
    return RequestState(state) in READ_UNTIL_DISMISSED and not dismissed
