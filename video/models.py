"""Tables of the video edge: one row per visit and per participant. Who, when, state and the
room's coordinates on Janus (so a restarted Wardline can destroy what it created); never
content. Guest links and codes are stored hashed; a participant's Janus token is kept only
until it is removed from Janus."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base


class VideoVisit(Base):
    __tablename__ = "video_visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    bed_id: Mapped[int] = mapped_column(ForeignKey("beds.id"), index=True)
    bed_label: Mapped[str] = mapped_column(String(64))
    ward_code: Mapped[str] = mapped_column(String(32), index=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"))
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_by: Mapped[str] = mapped_column(String(64))
    invited_at: Mapped[datetime]
    invite_expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))
    room: Mapped[int | None] = mapped_column(BigInteger)
    room_secret: Mapped[str | None] = mapped_column(String(64))
    room_pin: Mapped[str | None] = mapped_column(String(64))


class VideoParticipant(Base):
    __tablename__ = "video_participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("video_visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    account: Mapped[str | None] = mapped_column(String(64))
    """The staff username, or the terminal id; None for a guest."""
    state: Mapped[str] = mapped_column(String(16))
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None]
    code_hash: Mapped[str | None] = mapped_column(String(200))
    code_failures: Mapped[int] = mapped_column(default=0)
    janus_token: Mapped[str | None] = mapped_column(String(64))
    token_expires_at: Mapped[datetime | None]
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
