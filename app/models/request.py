"""On-demand session requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.user import Service, User

OPEN_CLAUSE = "state = 'pending' OR (state = 'declined' AND dismissed_at IS NULL)"


class SessionRequest(db.Model):
    """A requester's ask for a session now with one provider ("request" in the domain)."""

    __tablename__ = "session_requests"
    __table_args__ = (
        Index("ix_session_requests_provider_state", "provider_id", "state"),
        Index("ix_session_requests_requester_state", "requester_id", "state"),
        # At most one open request (pending, or declined and not yet dismissed) per
        # requester and provider, even when two arrive at once.
        Index(
            "uq_session_requests_open",
            "requester_id",
            "provider_id",
            unique=True,
            sqlite_where=text(OPEN_CLAUSE),
            postgresql_where=text(OPEN_CLAUSE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    state: Mapped[str] = mapped_column(String(20))
    decline_note: Mapped[str | None] = mapped_column(Text)
    # Why a declined request was declined: "unavailable" or "declined" (by the provider).
    decline_reason: Mapped[str | None] = mapped_column(String(20))
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")
    provider: Mapped[User] = relationship(foreign_keys=[provider_id], lazy="joined")
    service: Mapped[Service | None] = relationship(lazy="joined")
