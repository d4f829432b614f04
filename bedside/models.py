"""Tables of the bedside edge: nurse calls, with every timestamp kept for response-time reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base, utcnow


class NurseCall(Base):
    __tablename__ = "nurse_calls"
    __table_args__ = (
        Index("ix_nurse_calls_ward_state", "ward_code", "state"),
        # One call not cleared per bed, held by the database: two instances handling two
        # presses of one bed at once raise one call (the second is a repeat).
        Index(
            "uq_nurse_calls_open_bed",
            "bed_label",
            unique=True,
            postgresql_where=text("state <> 'cleared'"),
            sqlite_where=text("state <> 'cleared'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    press_key: Mapped[str] = mapped_column(String(140), unique=True)
    """terminal id + press id (or a TV request id): the same press raises one call."""
    bed_label: Mapped[str] = mapped_column(String(64), index=True)
    ward_code: Mapped[str] = mapped_column(String(32))
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open, acknowledged, cleared
    level: Mapped[int] = mapped_column(Integer, default=0)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalated_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    escalations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    @property
    def response_seconds(self) -> float | None:
        """Seconds from the call to its acknowledgement (or clearing, when never acknowledged)."""
        answered = self.acknowledged_at or self.cleared_at
        return (answered - self.raised_at).total_seconds() if answered else None
