"""Per-stream versions for live updates."""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class StreamVersion(db.Model):
    """The latest version of one live stream (`provider:3`, `directory:1`, …).

    Advanced in the same transaction as the change it announces, so a snapshot's version
    and its data agree, and every web instance numbers the stream the same way.
    """

    __tablename__ = "stream_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
