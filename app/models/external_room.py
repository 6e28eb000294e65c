"""A provider's room in another conferencing product (the telehealth connector)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class ExternalRoom(db.Model):
    """One host link (opens the provider's meetings) and one guest link (a personal room
    with its own waiting room). A visit booked "external" sends its guests the guest link
    instead of an Anteroom waiting room."""

    __tablename__ = "external_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    label: Mapped[str] = mapped_column(String(120))
    host_url: Mapped[str] = mapped_column(String(2000))
    guest_url: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
