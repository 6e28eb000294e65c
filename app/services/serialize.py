"""The one shape of each thing sent to pages, the API and Socket.IO."""

from __future__ import annotations

from datetime import datetime

from app.models import Participant, Service, SessionRequest, User, Visit
from clinicqueue import Presence, participant_status


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def service_dict(service: Service | None) -> dict | None:
    return {"id": service.id, "name": service.name} if service else None


def provider_dict(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "available": user.available,
        "services": [service_dict(s) for s in user.services],
    }


def request_dict(req: SessionRequest) -> dict:
    return {
        "id": req.id,
        "state": req.state,
        "requester": {"id": req.requester.id, "name": req.requester.name},
        "provider": {"id": req.provider.id, "name": req.provider.name},
        "service": service_dict(req.service),
        "decline_note": req.decline_note,
        "dismissed": req.dismissed_at is not None,
        "visit_id": req.visit_id,
        "created_at": iso(req.created_at),
        "updated_at": iso(req.updated_at),
    }


def participant_dict(participant: Participant) -> dict:
    presence = Presence(participant.presence)
    return {
        "id": participant.id,
        "user_id": participant.user_id,
        "name": participant.user.name if participant.user else "Guest",
        "role": participant.role,
        "presence": presence.value,
        "status": participant_status(presence),
        "waiting_since": iso(participant.waiting_since) if presence == Presence.WAITING else None,
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
