"""Typed SQLAlchemy models, one module per aggregate."""

from app.models.request import SessionRequest
from app.models.stream import StreamVersion
from app.models.user import ApiToken, Role, Service, User, provider_services
from app.models.visit import Participant, Visit

__all__ = [
    "ApiToken",
    "Participant",
    "Role",
    "Service",
    "SessionRequest",
    "StreamVersion",
    "User",
    "Visit",
    "provider_services",
]
