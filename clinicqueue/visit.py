"""Visits and participant presence.

Visit: scheduled → open → in_call → ended, or cancelled; completed when marked done
without a call. Presence: absent → waiting → admitted → left, admitted → waiting (moved
back), waiting → removed (denied), admitted → removed; a participant who left may come
back to wait. Removed is final for the visit.

Admission: someone waiting for the host is admitted only by the host's Admit, except the
visit's patient (the on-demand requester, or the booked patient the provider takes from
the schedule), who is let in when the host enters, unless the host moved them back.
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
    DENY = "deny"
    REMOVE = "remove"


PRESENCE_TRANSITIONS: dict[tuple[Presence, PresenceAction], Presence] = {
    (Presence.ABSENT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.LEFT, PresenceAction.ARRIVE): Presence.WAITING,
    (Presence.WAITING, PresenceAction.ADMIT): Presence.ADMITTED,
    (Presence.ADMITTED, PresenceAction.MOVE_BACK): Presence.WAITING,
    (Presence.WAITING, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.ADMITTED, PresenceAction.LEAVE): Presence.LEFT,
    (Presence.WAITING, PresenceAction.DENY): Presence.REMOVED,
    (Presence.ADMITTED, PresenceAction.REMOVE): Presence.REMOVED,
}

# Who is let in without an explicit Admit when the host is in the meeting.
SELF_ADMITTED_ROLES = frozenset({"patient"})


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


def lets_in_on_entry(role: str, held: bool) -> bool:
    """Whether this participant goes into the call when the host is there, with no Admit:
    the visit's patient (on-demand requester or booked patient), unless the host moved
    them back to the waiting room; never an added guest."""
    return role in SELF_ADMITTED_ROLES and not held


def arrival_presence(
    presence: Presence | str,
    visit_state: VisitState | str,
    host_in_call: bool,
    now: datetime,
    self_admitted: bool = True,
) -> PresenceOutcome:
    """A guest or requester opens the waiting room.

    They wait for the host; when the host is already in the meeting and they may go in
    by themselves (`lets_in_on_entry`), they are admitted at once. Someone removed from
    the visit cannot come back.
    """
    if VisitState(visit_state) not in (VisitState.OPEN, VisitState.IN_CALL):
        raise InvalidTransition("visit", VisitState(visit_state).value, "enter")
    current = Presence(presence)
    if current in (Presence.WAITING, Presence.ADMITTED):
        outcome = PresenceOutcome(current, ())
    else:
        outcome = transition_presence(current, PresenceAction.ARRIVE, now)
    if host_in_call and self_admitted and outcome.presence == Presence.WAITING:
        admitted = transition_presence(Presence.WAITING, PresenceAction.ADMIT, now)
        return PresenceOutcome(admitted.presence, outcome.events + admitted.events)
    return outcome


def admission_refusal(admitted: int, limit: int) -> str | None:
    """Why one more person cannot be admitted into a call of `admitted` people, or None.
    A browser mesh carries at most `limit` people (group calls through the SFU come later)."""
    if admitted >= limit:
        return (
            f"This call already has {admitted} people, the most a call here can hold "
            f"({limit}). Someone must leave before you admit another."
        )
    return None


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
