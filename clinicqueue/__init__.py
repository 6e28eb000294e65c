"""Anteroom's domain: request and visit state machines, policies and events.

Pure Python. Nothing here imports Flask, SQLAlchemy or app/: every function takes the
current state and the current time and returns the new state plus the events it caused.
"""

from clinicqueue.errors import InvalidTransition, RequestBlocked
from clinicqueue.request import (
    UNAVAILABLE_NOTE,
    DeclineReason,
    RequestAction,
    RequestState,
    decide_new_request,
    transition_request,
)
from clinicqueue.visit import (
    Presence,
    PresenceAction,
    VisitAction,
    VisitSource,
    VisitState,
    admission_refusal,
    arrival_presence,
    host_departure,
    lets_in_on_entry,
    participant_status,
    transition_presence,
    transition_visit,
)

__all__ = [
    "UNAVAILABLE_NOTE",
    "DeclineReason",
    "InvalidTransition",
    "Presence",
    "PresenceAction",
    "RequestAction",
    "RequestBlocked",
    "RequestState",
    "VisitAction",
    "VisitSource",
    "VisitState",
    "admission_refusal",
    "arrival_presence",
    "decide_new_request",
    "host_departure",
    "lets_in_on_entry",
    "participant_status",
    "transition_presence",
    "transition_request",
    "transition_visit",
]
