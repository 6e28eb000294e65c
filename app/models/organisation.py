"""Organisations: who may see whom. Every account and clinic belongs to one; providers'
availability (the directory) is shown and broadcast only within it."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class Organisation(db.Model):
    """A health organisation; its name is what patients see on invitations and pages."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"
