"""The database side of the bed lines: the facts of the active stays (the database wins)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, or_, select

from telephony.lines.keys import LineFacts
from wardline.db.engine import Database
from wardline.db.models import Bed, Patient, Stay


async def active_lines(
    db: Database,
    *,
    extensions: Collection[str] | None = None,
    dids: Collection[str] | None = None,
    stay_ids: Collection[int] | None = None,
) -> list[LineFacts]:
    """Lines of the active stays; only those on ``extensions``, holding ``dids`` or of
    ``stay_ids`` when any filter is given."""
    query = (
        select(Stay, Bed.extension, Bed.label, Patient)
        .join(Bed, Stay.bed_id == Bed.id)
        .join(Patient, Stay.patient_id == Patient.id)
        .where(Stay.status == "active")
        .order_by(Stay.id)
    )
    if extensions is not None or dids is not None or stay_ids is not None:
        wanted = []
        if extensions:
            wanted.append(Bed.extension.in_(list(extensions)))
        if dids:
            wanted.append(Stay.did.in_(list(dids)))
        if stay_ids:
            wanted.append(Stay.id.in_(list(stay_ids)))
        if not wanted:
            return []
        query = query.where(or_(*wanted))
    async with db.sessions() as s:
        rows = (await s.execute(query)).all()
    return [
        LineFacts(
            stay_id=stay.id,
            extension=extension,
            bed_label=label,
            did=stay.did,
            barring=stay.barring,
            do_not_disturb=stay.do_not_disturb,
            suspended=stay.line_suspended,
            on_leave=stay.on_leave,
            non_disclosure=patient.non_disclosure,
            family_name=patient.family_name,
            given_name=patient.given_name,
        )
        for stay, extension, label, patient in rows
    ]


async def bed_count(db: Database) -> int:
    """Beds in the inventory (0: no inventory loaded yet)."""
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Bed)) or 0)
