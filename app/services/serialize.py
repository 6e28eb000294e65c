"""The one shape of each thing sent to pages, the API and Socket.IO."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import joinedload

from app.models import (
    ApiToken,
    AuditEvent,
    Clinic,
    ExternalRoom,
    Participant,
    Service,
    SessionRequest,
    Task,
    User,
    Visit,
)
from clinicqueue import Presence, RequestState, participant_status
from clinicqueue.waiting import QueuePlace

# What request_dict reads, in the request's own query: its requester, provider and service,
# and not the services each person offers (selectin by default: a query of their own).
REQUEST_PEOPLE = (
    joinedload(SessionRequest.requester).lazyload(User.services),
    joinedload(SessionRequest.provider).lazyload(User.services),
    joinedload(SessionRequest.service),
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def service_dict(service: Service | None) -> dict | None:
    return {"id": service.id, "name": service.name} if service else None


def provider_dict(user: User) -> dict:
    return provider_summary(
        user.id, user.name, user.available, [service_dict(s) for s in user.services]
    )


def provider_summary(provider_id: int, name: str, available: bool, services: list[dict]) -> dict:
    """A provider as the directory lists them (also read as plain rows: snapshots.py)."""
    return {"id": provider_id, "name": name, "available": available, "services": services}


def request_dict(req: SessionRequest, place: QueuePlace | None = None) -> dict:
    """A request; while pending and given its `place`, also its position in the provider's
    queue and estimated wait (None: too little history to say)."""
    summary = {
        "id": req.id,
        "state": req.state,
        "requester": {"id": req.requester.id, "name": req.requester.name},
        "provider": {"id": req.provider.id, "name": req.provider.name},
        "service": service_dict(req.service),
        "decline_note": req.decline_note,
        "decline_reason": req.decline_reason,
        "dismissed": req.dismissed_at is not None,
        "visit_id": req.visit_id,
        "created_at": iso(req.created_at),
        "updated_at": iso(req.updated_at),
    }
    if place is not None and req.state == RequestState.PENDING:
        summary["position"] = place.position
        summary["estimated_wait_seconds"] = place.estimated_wait_seconds
    return summary


def participant_dict(participant: Participant) -> dict:
    presence = Presence(participant.presence)
    # Their connection dropped; they keep their place for the grace period.
    reconnecting = participant.disconnected_at is not None and presence in (
        Presence.WAITING,
        Presence.ADMITTED,
    )
    return {
        "id": participant.id,
        "user_id": participant.user_id,
        "name": participant.display_name,
        "role": participant.role,
        "presence": presence.value,
        "status": "Reconnecting" if reconnecting else participant_status(presence),
        "waiting_since": iso(participant.waiting_since) if presence == Presence.WAITING else None,
        "reconnecting": reconnecting,
        # Moved back by the host: they wait for an Admit (not for the host's return).
        "held": participant.held,
    }


def visit_dict(visit: Visit) -> dict:
    return {
        "id": visit.id,
        "state": visit.state,
        "source": visit.source,
        "host": {"id": visit.host.id, "name": visit.host.name},
        "service": service_dict(visit.service),
        "created_at": iso(visit.created_at),
        "participants": [participant_dict(p) for p in visit.participants],
    }


def user_dict(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "active": user.active,
    }


def token_dict(token: ApiToken, current: bool = False) -> dict:
    return {
        "id": token.id,
        "label": token.label,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "current": current,
    }


def clinic_dict(clinic: Clinic) -> dict:
    return {
        "id": clinic.id,
        "name": clinic.name,
        "organisation": clinic.organisation.name,
        "timezone": clinic.timezone,
        "members": [{"id": m.id, "name": m.name, "role": m.role} for m in clinic.members],
    }


def task_dict(task: Task) -> dict:
    visit = task.visit
    return {
        "id": task.id,
        "visit_id": task.visit_id,
        "clinic_id": task.clinic_id,
        "text": task.text,
        "patient": visit.patient.name if visit.patient else None,
        "scheduled_for": iso(visit.scheduled_for),
        "created_by": task.created_by.name,
        "created_at": iso(task.created_at),
        "closed_by": task.closed_by.name if task.closed_by else None,
        "closed_at": iso(task.closed_at),
    }


def external_room_dict(room: ExternalRoom) -> dict:
    return {
        "label": room.label,
        "host_url": room.host_url,
        "guest_url": room.guest_url,
        "updated_at": iso(room.updated_at),
    }


def audit_dict(entry: AuditEvent) -> dict:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "label": entry.actor_label},
        "action": entry.action,
        "visit_id": entry.visit_id,
        "patient_id": entry.patient_id,
        "detail": entry.detail,
        "hash": entry.hash,
    }
