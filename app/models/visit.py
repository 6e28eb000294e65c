"""Visits and their participants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.user import Service, User


class Visit(db.Model):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    host: Mapped[User] = relationship(lazy="joined")
    service: Mapped[Service | None] = relationship(lazy="joined")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="visit", order_by="Participant.id", lazy="selectin"
    )

    def participant_for(self, user_id: int) -> Participant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)


class Participant(db.Model):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("visit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))  # host | patient
    presence: Mapped[str] = mapped_column(String(20), default="absent")
    # The Socket.IO connection that holds the presence; a stale disconnect must not undo
    # a newer connection's arrival (reloads, two tabs).
    presence_sid: Mapped[str | None] = mapped_column(String(64))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="participants")
    user: Mapped[User | None] = relationship(lazy="joined")
