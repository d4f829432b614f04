"""The core schema: inventory (sites, wards, rooms, beds, terminals), patients, stays, the DID
pool, staff, the audit chain and the inbound message log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wardline.db.base import Base, utcnow


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    wards: Mapped[list[Ward]] = relationship(back_populates="site")


class Ward(Base):
    __tablename__ = "wards"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    nurse_station_extension: Mapped[str | None] = mapped_column(String(16))
    nurse_call_extension: Mapped[str | None] = mapped_column(String(16))
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(
        default=list, server_default=text("'[]'")
    )
    site: Mapped[Site] = relationship(back_populates="wards")
    rooms: Mapped[list[Room]] = relationship(back_populates="ward")


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("ward_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"))
    code: Mapped[str] = mapped_column(String(32))
    ward: Mapped[Ward] = relationship(back_populates="rooms")
    beds: Mapped[list[Bed]] = relationship(back_populates="room")


class Bed(Base):
    __tablename__ = "beds"
    __table_args__ = (UniqueConstraint("room_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(64), unique=True)
    extension: Mapped[str] = mapped_column(String(16), unique=True)
    fhir_location_id: Mapped[str | None] = mapped_column(String(64))
    room: Mapped[Room] = relationship(back_populates="beds")
    terminal: Mapped[Terminal | None] = relationship(back_populates="bed")


class Terminal(Base):
    __tablename__ = "terminals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bed_id: Mapped[int | None] = mapped_column(ForeignKey("beds.id"), unique=True)
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[datetime | None]
    credential_hash: Mapped[str | None] = mapped_column(String(200))
    bed: Mapped[Bed | None] = relationship(back_populates="terminal")


class StaffPhone(Base):
    """A phone that is not a bed's: nurse station, charge nurse, switchboard position."""

    __tablename__ = "staff_phones"
    extension: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    ward_code: Mapped[str | None] = mapped_column(String(32))


class InventoryMeta(Base):
    """Hospital-wide facts of the inventory: name, switchboard numbers, emergency numbers."""

    __tablename__ = "inventory_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("ipp_authority", "ipp"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ipp: Mapped[str] = mapped_column(String(64))
    ipp_authority: Mapped[str] = mapped_column(String(64), default="")
    ins: Mapped[str | None] = mapped_column(String(32), index=True)
    ins_oid: Mapped[str | None] = mapped_column(String(64))
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200), default="")
    addressed_as: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8), default="U")
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    non_disclosure: Mapped[bool] = mapped_column(Boolean, default=False)
    fhir_patient_id: Mapped[str | None] = mapped_column(String(64))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Stay(Base):
    __tablename__ = "stays"
    __table_args__ = (
        Index(
            "uq_stays_active_bed",
            "bed_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_stays_active_patient",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_stays_active_did",
            "did",
            unique=True,
            sqlite_where=text("status = 'active' AND did IS NOT NULL"),
            postgresql_where=text("status = 'active' AND did IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_number: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    bed_id: Mapped[int | None] = mapped_column(ForeignKey("beds.id"))
    previous_bed_id: Mapped[int | None] = mapped_column(ForeignKey("beds.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    bed_since: Mapped[datetime | None]  # on its current bed since (admission, transfer)
    did: Mapped[str | None] = mapped_column(String(32))
    on_leave: Mapped[bool] = mapped_column(Boolean, default=False)
    line_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    barring: Mapped[str] = mapped_column(String(16), default="national")
    do_not_disturb: Mapped[bool] = mapped_column(Boolean, default=False)
    fhir_encounter_id: Mapped[str | None] = mapped_column(String(64))
    patient: Mapped[Patient] = relationship(foreign_keys=[patient_id])
    bed: Mapped[Bed | None] = relationship(foreign_keys=[bed_id])


class Did(Base):
    """A direct inward dialling number of the pool: free, assigned to a stay, or quarantined."""

    __tablename__ = "dids"
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="free")
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stays.id"))
    released_at: Mapped[datetime | None]
    quarantine_until: Mapped[datetime | None]


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    badge_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    """RPPS number of a health professional (11 digits), when the account has one."""
    ward_code: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="fr")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class AuditEvent(Base):
    """Append-only, hash-chained: ``hash`` covers the content and ``prev_hash``."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The head of the audit chain (one row): the last row's position and hashes. Appending
    moves it under its row lock, so concurrent writers queue on it and never fork the chain;
    a row deleted at the end of the chain leaves the head ahead of the last row."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int] = mapped_column(Integer, default=1)
    """The first row chained under the key (the rows before it were written unkeyed)."""


class InboundMessage(Base):
    """Every message received from the ADT feed, persisted before it is acknowledged."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("sender", "control_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(128))
    control_id: Mapped[str] = mapped_column(String(199))  # MSH-10 whole (HL7 v2.7+: 199)
    message_type: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    movement_at: Mapped[datetime | None]  # when the movement happened (ZBE-2, EVN-6), UTC
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    charset: Mapped[str] = mapped_column(String(32), default="")
    patient_key: Mapped[str | None] = mapped_column(String(129), index=True)
    status: Mapped[str] = mapped_column(String(16), default="received", index=True)
    ack_code: Mapped[str | None] = mapped_column(String(2))
    error_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
