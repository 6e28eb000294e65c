"""Typed SQLAlchemy models, one module per aggregate."""

from app.models.audit import AuditEvent, AuditHead
from app.models.chat import Attachment, CameraSnapshot, ChatMessage, PrivateNote
from app.models.clinic import Clinic, Patient, Task, clinic_members
from app.models.external_room import ExternalRoom
from app.models.job import Job
from app.models.organisation import Organisation
from app.models.request import SessionRequest
from app.models.station import SelfTest, Station
from app.models.stream import StreamVersion
from app.models.user import ApiToken, AuthSession, Role, Service, User, provider_services
from app.models.visit import Participant, Visit, VisitMessage

__all__ = [
    "ApiToken",
    "Attachment",
    "CameraSnapshot",
    "AuditEvent",
    "AuditHead",
    "ChatMessage",
    "Clinic",
    "ExternalRoom",
    "Job",
    "Organisation",
    "Patient",
    "PrivateNote",
    "Task",
    "clinic_members",
    "AuthSession",
    "Participant",
    "Role",
    "SelfTest",
    "Service",
    "SessionRequest",
    "Station",
    "StreamVersion",
    "User",
    "Visit",
    "VisitMessage",
    "provider_services",
]
