"""The table of leases: one row per duty, never deleted, its token only ever increased."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base, UTCDateTime


class ClusterLease(Base):
    __tablename__ = "cluster_leases"

    duty: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    """The instance that holds (or last held) the duty."""
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    """Fencing token: increased by every acquisition, checked by every guarded write."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """By the database's clock; renewed by the holder, taken over by another after it."""
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
