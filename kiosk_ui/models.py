"""Tables of the web edge: the patients' meal orders and the anonymous satisfaction survey."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wardline.db.base import Base


class MealOrder(Base):
    """One dish per stay, day and meal; changed in place until the kitchen's cut-off."""

    __tablename__ = "meal_orders"
    __table_args__ = (UniqueConstraint("stay_id", "day", "meal"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"))
    ward_code: Mapped[str] = mapped_column(String(32), index=True)
    bed_label: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    meal: Mapped[str] = mapped_column(String(16))
    dish_code: Mapped[str] = mapped_column(String(32))
    ordered_at: Mapped[datetime]


class SurveyAnswer(Base):
    """A satisfaction answer: the ward and the day only, never the patient, stay or bed."""

    __tablename__ = "survey_answers"
    id: Mapped[int] = mapped_column(primary_key=True)
    ward_code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    answers: Mapped[dict[str, Any]]


class WebSession(Base):
    """A browser's session, held on the server: the cookie carries only a random token, this
    row is found by the token's SHA-256 (a copy of the table gives no usable cookie). Deleting
    the row ends the session at once."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    roles: Mapped[str] = mapped_column(String(100), default="")
    """The account's roles when the session opened: a session outlives no role change."""
    terminal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)


class BedsideNurseSession(Base):
    """The nurse signed in at a terminal, at most one: the server's side of her session.

    The TV's cookie holds only a random token, whose SHA-256 is kept here; signing out deletes
    the row, so a copy of the cookie taken before is worth nothing afterwards.
    """

    __tablename__ = "bedside_nurse_sessions"
    terminal_id: Mapped[str] = mapped_column(
        ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    rpps: Mapped[str | None] = mapped_column(String(11))
    started_at: Mapped[datetime]
    last_input_at: Mapped[datetime]
