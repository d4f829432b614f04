"""Tables shared by the instances: events too long for a notification, and the switchboard's
call claims (one operator per call, whichever instance they act from)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base


class StoredNotice(Base):
    """An event whose notification would pass PostgreSQL's 8000-byte limit: the row holds it,
    the notification names the row. Rows older than a few minutes are deleted by the sender."""

    __tablename__ = "fanout_stored_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(index=True)


class CallClaim(Base):
    """An operator's hold on a live call: the first to act on it; another is refused until
    the call ends or the claim is released. One row per call (the primary key)."""

    __tablename__ = "call_claims"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime]
