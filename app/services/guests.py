"""Guest links: each participant who joins without an account has a link of their own.

The token is HMAC-SHA256(SECRET_KEY, participant id and a random nonce), 256 bits: the
server can make the same link again (a reinvite resends the original), the database holds
only the nonce and the token's SHA-256, so a copy of the database opens nothing. Clearing
both revokes the link (a cancelled visit, a guest who was denied).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Participant, Visit
from app.services import audit
from clinicqueue.visit import LIVE_VISIT_STATES


def _token(participant_id: int, nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"anteroom-guest-link:{participant_id}:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(participant: Participant) -> None:
    """Give a (flushed) participant a link, in the caller's transaction."""
    participant.link_nonce = secrets.token_hex(16)
    participant.token_hash = _digest(_token(participant.id, participant.link_nonce))


def link_token(participant: Participant) -> str | None:
    """The participant's token, or None when their link was revoked."""
    if not participant.link_nonce or not participant.token_hash:
        return None
    token = _token(participant.id, participant.link_nonce)
    return token if _digest(token) == participant.token_hash else None


def link_url(participant: Participant) -> str | None:
    token = link_token(participant)
    return f"{current_app.config['PUBLIC_BASE_URL']}/join/{token}" if token else None


def guest_link(visit: Visit, participant: Participant) -> str | None:
    """What a guest opens: the external room's guest link for a visit held there (the
    other product has its own waiting room), else their own link here. A member of staff
    added to the visit opens its room, signed in."""
    if participant.user_id is not None:
        if visit.external_room is not None:
            return visit.external_room.host_url
        return f"{current_app.config['PUBLIC_BASE_URL']}/visits/{visit.id}"
    if visit.external_room is not None:
        return visit.external_room.guest_url
    return link_url(participant)


def participant_for_token(token: object) -> Participant | None:
    """Whose link this is; None for anything that is not a live link."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return db.session.scalar(select(Participant).where(Participant.token_hash == _digest(token)))


def revoke_links(visit_id: int, participant_id: int | None = None) -> None:
    """Revoke a visit's guest links (or one guest's), in the caller's transaction."""
    query = update(Participant).where(
        Participant.visit_id == visit_id, Participant.token_hash.is_not(None)
    )
    if participant_id is not None:
        query = query.where(Participant.id == participant_id)
    db.session.execute(query.values(token_hash=None, link_nonce=None))


def live_guests(ids: set[int]) -> set[int]:
    """Of these participants, those whose link still works: not revoked, and their visit
    still to come or under way."""
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(Participant.id)
            .join(Visit, Visit.id == Participant.visit_id)
            .where(
                Participant.id.in_(ids),
                Participant.token_hash.is_not(None),
                Visit.state.in_([s.value for s in LIVE_VISIT_STATES]),
            )
        )
    )


def guest_of_session(participant_id: object, key: object) -> Participant | None:
    """The guest a browser's guest session names, while their link still works: the
    session holds the participant's id and the hash of the link it was opened with."""
    if not isinstance(participant_id, int) or not isinstance(key, str):
        return None
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.token_hash != key:
        return None
    return participant if participant.id in live_guests({participant.id}) else None


def open_link(participant: Participant, now: datetime) -> None:
    """A guest opened their link: audited (whose link, which visit). Commits."""
    audit.record(audit.Actor.guest(participant), "open_link", visit=participant.visit, now=now)
    db.session.commit()
