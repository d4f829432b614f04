"""The switchboard's directory: patients (by name), beds (by label or ward), staff phones (by
label or number), as you type.

A patient who asked for non-disclosure is never part of the search: searching their exact name
answers exactly as for a name nobody has (same entries, same order, same timing path). Every
patient entry returned is one audit row (``directory.patient_read``) in the same transaction.
Entries carry what the operator needs to put a call through, never clinical data.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, select

from wardline.db.engine import Database
from wardline.db.models import Bed, Patient, Room, StaffPhone, Stay, Ward
from wardline.domain.audit import AuditLog
from wardline.ward_time import WardTime

LIMIT = 25


class DirectorySearchIn(BaseModel):
    q: str = Field(min_length=2, max_length=80)


class DirectoryEntry(BaseModel):
    kind: Literal["patient", "bed", "phone"]
    label: str
    """Patient: the name to address them by; bed: its label; phone: its label."""
    extension: str
    ward_code: str | None
    bed: str | None = None
    did: str | None = None
    do_not_disturb: bool = False
    line_suspended: bool = False
    in_bed_since: datetime | None = None
    """Patient: when they came to this bed (admission or transfer), in the ward's zone."""
    in_bed_since_text: str | None = None
    """The same as the page shows it (day/month hours:minutes, ward's zone)."""


class DirectoryOut(BaseModel):
    entries: list[DirectoryEntry]


def fold(text: str) -> str:
    """Lower case without accents: 'Hélène' matches 'helene'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


async def search(
    db: Database, audit: AuditLog, actor: str, q: str, ward_time: WardTime | None = None
) -> DirectoryOut:
    """``ward_time``: the zone of each ward, in which times are given (none: UTC)."""
    needle = fold(q.strip())
    like = f"%{needle}%"
    entries: list[DirectoryEntry] = []
    async with db.session() as s:
        rows = await s.execute(
            select(Patient, Stay, Bed, Ward.code)
            .join(Stay, and_(Stay.patient_id == Patient.id, Stay.status == "active"))
            .join(Bed, Bed.id == Stay.bed_id)
            .join(Room, Room.id == Bed.room_id)
            .join(Ward, Ward.id == Room.ward_id)
            .where(Patient.non_disclosure.is_(False))
            .order_by(Patient.family_name, Patient.given_name, Bed.label)
        )
        patients = [
            (p, stay, bed, ward)
            for p, stay, bed, ward in rows
            if needle in fold(f"{p.given_name} {p.family_name}")
            or needle in fold(f"{p.family_name} {p.given_name}")
            or (p.addressed_as and needle in fold(p.addressed_as))
        ][:LIMIT]
        for p, stay, bed, ward in patients:
            since = None
            if stay.bed_since is not None:
                zone = await ward_time.of_ward(ward) if ward_time else UTC
                since = stay.bed_since.astimezone(zone)
            entries.append(
                DirectoryEntry(
                    kind="patient",
                    label=p.addressed_as or f"{p.family_name.upper()} {p.given_name}".strip(),
                    extension=bed.extension,
                    ward_code=ward,
                    bed=bed.label,
                    did=stay.did,
                    do_not_disturb=stay.do_not_disturb,
                    line_suspended=stay.line_suspended,
                    in_bed_since=since,
                    in_bed_since_text=since.strftime("%d/%m %H:%M") if since else None,
                )
            )
            await audit.record(
                s, actor, "directory.patient_read", "stay", stay.id, {"bed": bed.label}
            )
        beds = await s.execute(
            select(Bed.label, Bed.extension, Ward.code)
            .join(Room, Room.id == Bed.room_id)
            .join(Ward, Ward.id == Room.ward_id)
            .where(
                or_(
                    func.lower(Bed.label).like(like),
                    func.lower(Ward.code).like(like),
                    func.lower(Ward.name).like(like),
                    Bed.extension.like(like),
                )
            )
            .order_by(Bed.label)
            .limit(LIMIT)
        )
        entries.extend(
            DirectoryEntry(kind="bed", label=label, extension=ext, ward_code=ward, bed=label)
            for label, ext, ward in beds
        )
        phones = await s.scalars(
            select(StaffPhone)
            .where(
                or_(
                    func.lower(StaffPhone.label).like(like),
                    StaffPhone.extension.like(like),
                    func.lower(func.coalesce(StaffPhone.ward_code, "")).like(like),
                )
            )
            .order_by(StaffPhone.extension)
            .limit(LIMIT)
        )
        entries.extend(
            DirectoryEntry(
                kind="phone", label=p.label, extension=p.extension, ward_code=p.ward_code
            )
            for p in phones
        )
    return DirectoryOut(entries=entries)
