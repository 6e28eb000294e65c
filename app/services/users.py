"""Accounts, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import ApiToken, Role, Service, User
from app.models.types import utcnow
from app.services.errors import Invalid

# argon2id with the library's RFC 9106 "low memory" profile defaults.
_hasher = PasswordHasher()
# Compared against when the email is unknown, so a miss costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("anteroom-dummy-password")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    email: str, name: str, role: str, password: str, services: list[str] | None = None
) -> User:
    """Create an account (and the services a provider offers); commits."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    fields = {}
    if "@" not in email or len(email) > 254:
        fields["email"] = "Enter a valid email address."
    if not name:
        fields["name"] = "Enter a name."
    if role not in {r.value for r in Role}:
        fields["role"] = f"Role must be one of {', '.join(r.value for r in Role)}."
    if len(password or "") < MIN_PASSWORD_LENGTH:
        fields["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if not fields and db.session.scalar(select(User.id).where(User.email == email)):
        fields["email"] = "An account with this email already exists."
    if fields:
        raise Invalid("The account could not be created.", fields=fields)
    user = User(email=email, name=name, role=role, password_hash=hash_password(password))
    if services:
        if role != Role.PROVIDER:
            raise Invalid("Only providers offer services.", fields={"services": "Not a provider."})
        user.services = [_service_named(s) for s in services]
    db.session.add(user)
    db.session.commit()
    return user


def _service_named(name: str) -> Service:
    service = db.session.scalar(select(Service).where(Service.name == name.strip()))
    return service or Service(name=name.strip())


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, now: datetime | None = None) -> tuple[str, datetime]:
    """A new bearer token for the user; only its digest is stored. Commits."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + current_app.config["API_TOKEN_LIFETIME"]
    db.session.execute(delete(ApiToken).where(ApiToken.expires_at < now))
    db.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at))
    db.session.commit()
    return token, expires_at


def user_for_token(token: str | None, now: datetime | None = None) -> User | None:
    if not token:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= (now or utcnow()) or not row.user.active:
        return None
    return row.user


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id))) or 0
