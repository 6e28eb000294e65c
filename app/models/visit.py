"""Visits and their participants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.clinic import Clinic, Patient
from app.models.external_room import ExternalRoom
from app.models.types import UTCDateTime, utcnow
from app.models.user import Service, User


class Visit(db.Model):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    # The clinic whose schedule shows it (booked visits always; on-demand ones when their
    # provider belongs to a clinic), and for booked visits the patient and the slot.
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int | None] = mapped_column()
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Held in the host's external room (another conferencing product) instead of ours.
    external_room_id: Mapped[int | None] = mapped_column(
        ForeignKey("external_rooms.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    host: Mapped[User] = relationship(foreign_keys=[host_id], lazy="joined")
    service: Mapped[Service | None] = relationship(lazy="joined")
    clinic: Mapped[Clinic | None] = relationship(lazy="joined")
    patient: Mapped[Patient | None] = relationship(lazy="joined")
    external_room: Mapped[ExternalRoom | None] = relationship(lazy="joined")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="visit", order_by="Participant.id", lazy="selectin"
    )

    def participant_for(self, user_id: int) -> Participant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)


class Participant(db.Model):
    """Someone in a visit: a user (host, on-demand requester) or a guest who joins by
    link (a booked visit's patient, or someone invited along: name, email or mobile,
    description). A guest's link carries a token of 256 bits; only its SHA-256 is stored,
    and clearing it revokes the link."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("visit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))  # host | patient | guest
    name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(120))
    # The link's token is HMAC(SECRET_KEY, participant id and this nonce): the server can
    # make the same link again (reinvite), while the database alone cannot.
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    presence: Mapped[str] = mapped_column(String(20), default="absent")
    # The Socket.IO connection that holds the presence; a stale disconnect must not undo
    # a newer connection's arrival (reloads, two tabs).
    presence_sid: Mapped[str | None] = mapped_column(String(64))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The host moved them back to the waiting room: only the host's Admit lets them in
    # again (not the host's entry, nor their own return).
    held: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Their connection dropped at this time: they are "reconnecting", and keep their place
    # for RECONNECT_GRACE_SECONDS (a reload, a network drop) before they count as gone.
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="participants")
    user: Mapped[User | None] = relationship(lazy="joined")

    @property
    def display_name(self) -> str:
        return self.user.name if self.user else (self.name or "Guest")


class VisitMessage(db.Model):
    """A message from staff to the people in a visit's waiting room: they read it, they
    cannot answer (the chat in the call comes later)."""

    __tablename__ = "visit_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship(lazy="joined")
