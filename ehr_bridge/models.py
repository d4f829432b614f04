"""Tables of the EHR bridge: the outbox of bedside writes awaiting delivery to FHIR."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base, utcnow


class EhrOutbox(Base):
    """One FHIR resource written at the bed, delivered exactly once by its business id.

    An administration carries its order and due time: at most one record per dose, given
    or not (``uq_ehr_outbox_order_id``; NULLs, as for vitals and as-needed doses, repeat).
    """

    __tablename__ = "ehr_outbox"
    __table_args__ = (UniqueConstraint("order_id", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[str] = mapped_column(String(128), unique=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kind: Mapped[str] = mapped_column(String(32))
    visit_number: Mapped[str] = mapped_column(String(64), index=True)
    patient_ipp: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    server_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
