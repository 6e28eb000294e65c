"""Events the domain records; services publish them after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RequestOpened:
    """A requester asked a provider for a session now (state may already be declined)."""

    state: str
    at: datetime


@dataclass(frozen=True)
class RequestChanged:
    previous: str
    state: str
    at: datetime


@dataclass(frozen=True)
class VisitChanged:
    previous: str
    state: str
    at: datetime


@dataclass(frozen=True)
class PresenceChanged:
    previous: str
    presence: str
    at: datetime
