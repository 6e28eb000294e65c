"""Users (every role), the services providers offer, and their credentials: signed-in
browser sessions and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    PROVIDER = "provider"
    REQUESTER = "requester"
    SCHEDULER = "scheduler"


provider_services = Table(
    "provider_services",
    db.metadata,
    Column("provider_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    # Whose providers they see, and whose directory stream they follow.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Only meaningful for providers; everyone else stays False.
    available: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    services: Mapped[list[Service]] = relationship(
        secondary=provider_services, order_by="Service.name", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def has_role(self, *roles: Role) -> bool:
        return self.role in {r.value for r in roles}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Service(db.Model):
    """A kind of consultation, offered by one or more providers."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class ApiToken(db.Model):
    """A bearer token for stations and integrations; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AuthSession(db.Model):
    """A signed-in browser. The session cookie carries a random secret; this row decides
    whether it still counts, so sign-out, the idle logout and deactivation end it on the
    server, and a copy of the cookie is worthless afterwards. Only the secret's SHA-256 is
    stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # signed_out | idle | deactivated | revoked
    end_reason: Mapped[str | None] = mapped_column(String(20))

    user: Mapped[User] = relationship()
