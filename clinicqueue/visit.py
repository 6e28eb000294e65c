"""Visits and participant presence.

Visit: scheduled → open → in_call → ended, or cancelled; completed when marked done
without a call. Presence: absent → waiting → admitted → left, admitted → waiting (moved
back), waiting|admitted → removed; a participant who left may come back to wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from clinicqueue.errors import InvalidTransition
from clinicqueue.events import PresenceChanged, VisitChanged


class VisitSource(StrEnum):
    REQUEST = "request"
    INVITE = "invite"


class VisitState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    IN_CALL = "in_call"
    ENDED = "ended"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class VisitAction(StrEnum):
    OPEN = "open"
    START_CALL = "start_call"
    END = "end"
    CANCEL = "cancel"
    COMPLETE = "complete"


VISIT_TRANSITIONS: dict[tuple[VisitState, VisitAction], VisitState] = {
    (VisitState.SCHEDULED, VisitAction.OPEN): VisitState.OPEN,
    (VisitState.SCHEDULED, VisitAction.CANCEL): VisitState.CANCELLED,
    (VisitState.SCHEDULED, VisitAction.COMPLETE): VisitState.COMPLETED,
    (VisitState.OPEN, VisitAction.START_CALL): VisitState.IN_CALL,
    (VisitState.OPEN, VisitAction.END): VisitState.ENDED,
    (VisitState.OPEN, VisitAction.CANCEL): VisitState.CANCELLED,
    (VisitState.OPEN, VisitAction.COMPLETE): VisitState.COMPLETED,
    (VisitState.IN_CALL, VisitAction.END): VisitState.ENDED,
}

LIVE_VISIT_STATES = frozenset({VisitState.SCHEDULED, VisitState.OPEN, VisitState.IN_CALL})


class Presence(StrEnum):
    ABSENT = "absent"
    WAITING = "waiting"
    ADMITTED = "admitted"
    LEFT = "left"
    REMOVED = "removed"


class PresenceAction(StrEnum):
    ARRIVE = "arrive"
    ADMIT = "admit"
    MOVE_BACK = "move_back"
    LEAVE = "leave"
    REMOVE = "remove"


PRESENCE_TRANSITIONS: dict[tuple[Presence, PresenceAction], Presence] = {
    (Presence.ABSENT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.LEFT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.WAITING, PresenceAction.ADMIT): Presence.ADMITTED,
    (Presence.ADMITTED, PresenceAction.MOVE_BACK): Presence.WAITING,
    (Presence.WAITING, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.ADMITTED, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.WAITING, PresenceAction.REMOVE): Presence.REMOVED,
    (Presence.ADMITTED, PresenceAction.REMOVE): Presence.REMOVED,
}


@dataclass(frozen=True)
class VisitOutcome:
    state: VisitState
    events: tuple


@dataclass(frozen=True)
class PresenceOutcome:
    presence: Presence
    events: tuple


def transition_visit(state: VisitState | str, action: VisitAction, now: datetime):
    current = VisitState(state)
    try:
        new = VISIT_TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition("visit", current.value, action.value) from None
    return VisitOutcome(new, (VisitChanged(current.value, new.value, now),))


def transition_presence(presence: Presence | str, action: PresenceAction, now: datetime):
    current = Presence(presence)
    try:
        new = PRESENCE_TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition("participant", current.value, action.value) from None
    return PresenceOutcome(new, (PresenceChanged(current.value, new.value, now),))


def arrival_presence(
    presence: Presence | str, visit_state: VisitState | str, host_in_call: bool, now: datetime
) -> PresenceOutcome:
    """A guest or requester opens the waiting room.

    On-demand visits have no separate admit step yet: when the host is already in the
    meeting the arrival is admitted at once, otherwise it waits for the host.
    """
    if VisitState(visit_state) not in (VisitState.OPEN, VisitState.IN_CALL):
        raise InvalidTransition("visit", VisitState(visit_state).value, "enter")
    current = Presence(presence)
    if current in (Presence.WAITING, Presence.ADMITTED):
        outcome = PresenceOutcome(current, ())
    else:
        outcome = transition_presence(current, PresenceAction.ARRIVE, now)
    if host_in_call and outcome.presence == Presence.WAITING:
        admitted = transition_presence(Presence.WAITING, PresenceAction.ADMIT, now)
        return PresenceOutcome(admitted.presence, outcome.events + admitted.events)
    return outcome


def host_departure(others: dict[int, Presence | str], now: datetime) -> dict[int, PresenceOutcome]:
    """The last host left the meeting: everyone still admitted goes back to the waiting
    room, so nobody sits in an empty call that says "In Meeting", and their waiting time
    runs again. Takes and returns presences by participant id; only those that move."""
    moved = {}
    for participant_id, presence in others.items():
        if Presence(presence) == Presence.ADMITTED:
            moved[participant_id] = transition_presence(presence, PresenceAction.MOVE_BACK, now)
    return moved


STATUS_LABELS = {
    Presence.ABSENT: "Not arrived",
    Presence.LEFT: "Not arrived",
    Presence.WAITING: "In Waiting Room",
    Presence.ADMITTED: "In Meeting",
    Presence.REMOVED: "Removed",
}


def participant_status(presence: Presence | str) -> str:
    """The label a provider reads under a participant's name; derived, never stored."""
    return STATUS_LABELS[Presence(presence)]
