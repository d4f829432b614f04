"""Tables of the telephony edge: one call record per finished call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base


class CallRecord(Base):
    """A finished call: who called which extension, which bed took part, when, and how it
    ended. ``stay_id`` is filled when the bed's stay at the time is known (resolved later)."""

    __tablename__ = "call_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(64))
    called_extension: Mapped[str] = mapped_column(String(64))
    extensions: Mapped[str] = mapped_column(String(400), default="")
    """The phones that took part, comma-separated, in order."""
    bed_extension: Mapped[str | None] = mapped_column(String(16), index=True)
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    disposition: Mapped[str] = mapped_column(String(16))
    transferred: Mapped[bool] = mapped_column(Boolean, default=False)
