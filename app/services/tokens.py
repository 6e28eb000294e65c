"""API bearer tokens: issued by sign-in, listed and revoked by their owner, revoked by an
admin or by deactivation. Only a token's SHA-256 is stored. Revoking one closes the
Socket.IO connections opened with it (app.realtime.authority)."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from app.realtime import authority
from app.services.errors import NotFound
from app.services.text import clean_line

MAX_LABEL_LENGTH = 80


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    user: User, label: str | None = None, now: datetime | None = None
) -> tuple[str, ApiToken]:
    """A new bearer token for the user (and its row); expired ones are swept. Commits."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + current_app.config["API_TOKEN_LIFETIME"]
    db.session.execute(delete(ApiToken).where(ApiToken.expires_at < now))
    label = clean_line(label or "")[:MAX_LABEL_LENGTH] or None
    row = ApiToken(
        user_id=user.id,
        token_hash=_digest(token),
        label=label,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(row)
    db.session.commit()
    return token, row


@functools.cache
def _token_statement() -> Select:
    """A token row by :digest with its user in the same query, without the services a
    provider offers: every API call comes through here, and almost none of them shows those.
    Built once, so SQLAlchemy reuses its cache key and compiled form on every call."""
    return (
        select(ApiToken)
        .where(ApiToken.token_hash == bindparam("digest"))
        .options(joinedload(ApiToken.user).lazyload(User.services))
    )


def token_row(token: object, now: datetime | None = None) -> ApiToken | None:
    """The live token row for a bearer token (its user active), or None."""
    if not isinstance(token, str) or not token or len(token) > 256:
        return None
    row = db.session.scalar(_token_statement(), {"digest": _digest(token)})
    if row is None or row.expires_at <= (now or utcnow()) or not row.user.active:
        return None
    return row


def user_for_token(token: object, now: datetime | None = None) -> User | None:
    row = token_row(token, now)
    return row.user if row else None


def list_tokens(user: User, now: datetime | None = None) -> list[ApiToken]:
    """The user's live tokens, newest first."""
    return db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.expires_at > (now or utcnow()))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def revoke_token(user: User, token_id: int) -> None:
    """The owner revokes one of their tokens; another's id is unknown here. Commits."""
    deleted = db.session.execute(
        delete(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id)
        .returning(ApiToken.id)
    ).all()
    if not deleted:
        db.session.rollback()
        raise NotFound("No such token.")
    db.session.commit()
    authority.revoke(authority.Credential.token(token_id), "revoked")


def revoke_user_tokens(user_id: int, reason: str = "revoked") -> int:
    """Revoke every token of a user (an admin's call, or part of deactivation). Commits."""
    ids = delete_user_tokens(user_id)
    db.session.commit()
    for token_id in ids:
        authority.revoke(authority.Credential.token(token_id), reason)
    return len(ids)


def delete_user_tokens(user_id: int) -> list[int]:
    """Delete a user's tokens in the caller's transaction; returns their ids."""
    return list(
        db.session.scalars(
            delete(ApiToken).where(ApiToken.user_id == user_id).returning(ApiToken.id)
        ).all()
    )


def live_tokens(ids: set[int], now: datetime | None = None) -> dict[int, tuple[int, str]]:
    """Of these token ids, the ones still live: {id: (user id, role)}."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(ApiToken.id, ApiToken.user_id, User.role)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.id.in_(ids),
            ApiToken.expires_at > (now or utcnow()),
            User.active.is_(True),
        )
    ).all()
    return {row.id: (row.user_id, row.role) for row in rows}
