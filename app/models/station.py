"""Kiosk stations and the device self-tests that stations (and waiting patients) run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class Station(db.Model):
    """A kiosk device enrolled by an admin: a requester identity (its own `users` row with
    the requester role, so every requester flow serves it unchanged) holding one
    long-lived, revocable credential. Only SHA-256 digests of the one-time enrollment code
    and of the credential are stored."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    site: Mapped[str] = mapped_column(String(120))
    # The requester account the station acts as (never signs in with a password).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    enrollment_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class SelfTest(db.Model):
    """One run of the camera/microphone/network test against the media worker: by a
    station, a signed-in user, or a guest in a waiting room."""

    __tablename__ = "self_tests"
    __table_args__ = (Index("ix_self_tests_station_created", "station_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    # good | poor | failed ("Not working")
    verdict: Mapped[str] = mapped_column(String(20))
    camera_ok: Mapped[bool] = mapped_column(default=False)
    microphone_ok: Mapped[bool] = mapped_column(default=False)
    round_trip_ms: Mapped[float | None] = mapped_column()
    packet_loss: Mapped[float | None] = mapped_column()  # a fraction, 0..1
    bitrate_kbps: Mapped[float | None] = mapped_column()
    # Anything else measured (frame rate, resolution, the advice shown), for support.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
