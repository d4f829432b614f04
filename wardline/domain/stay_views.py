"""Read models of stays, patients and beds, as the edges see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from wardline.db.models import Bed, Patient, Room, Stay, Terminal, Ward
from wardline.domain.commands import BedLocation
from wardline.domain.errors import unknown_bed
from wardline.domain.events import BedRef


@dataclass(frozen=True, kw_only=True)
class PatientView:
    id: int
    ipp: str
    family_name: str
    given_name: str
    addressed_as: str | None
    birth_date: date | None
    sex: str
    preferred_language: str | None
    non_disclosure: bool
    ins: str | None
    fhir_patient_id: str | None


@dataclass(frozen=True, kw_only=True)
class StayView:
    stay_id: int
    visit_number: str
    status: str
    patient: PatientView
    bed: BedRef | None
    did: str | None
    barring: str
    do_not_disturb: bool
    line_suspended: bool
    on_leave: bool
    started_at: datetime
    ended_at: datetime | None
    fhir_encounter_id: str | None
    bed_since: datetime | None = None
    """On its current bed since (admission or transfer time, UTC); None when not known."""


def patient_view(p: Patient | Row[Any]) -> PatientView:
    """From a patient, or a row holding its columns under their names."""
    return PatientView(
        id=p.id,
        ipp=p.ipp,
        family_name=p.family_name,
        given_name=p.given_name,
        addressed_as=p.addressed_as,
        birth_date=p.birth_date,
        sex=p.sex,
        preferred_language=p.preferred_language,
        non_disclosure=p.non_disclosure,
        ins=p.ins,
        fhir_patient_id=p.fhir_patient_id,
    )


def _bed_query() -> Select[Bed, Room, Ward, Terminal]:
    return (
        select(Bed, Room, Ward, Terminal)
        .join(Room, Bed.room_id == Room.id)
        .join(Ward, Room.ward_id == Ward.id)
        .outerjoin(Terminal, Terminal.bed_id == Bed.id)
    )


def _ref(bed: Bed, ward: Ward, terminal: Terminal | None) -> BedRef:
    return BedRef(
        bed_id=bed.id,
        label=bed.label,
        extension=bed.extension,
        ward_code=ward.code,
        terminal_id=terminal.id if terminal else None,
    )


def _cache(session: AsyncSession) -> dict[int, BedRef]:
    """Bed references already read in this unit of work (a bed is read once per transaction)."""
    cache: dict[int, BedRef] = session.info.setdefault("bed_refs", {})
    return cache


async def bed_ref(session: AsyncSession, bed_id: int) -> BedRef:
    cache = _cache(session)
    if bed_id in cache:
        return cache[bed_id]
    row = (await session.execute(_bed_query().where(Bed.id == bed_id))).first()
    if row is None:
        raise unknown_bed(str(bed_id))
    cache[bed_id] = _ref(row[0], row[2], row[3])
    return cache[bed_id]


async def all_bed_refs(session: AsyncSession) -> list[BedRef]:
    rows = (await session.execute(_bed_query().order_by(Bed.label))).all()
    return [_ref(r[0], r[2], r[3]) for r in rows]


async def find_bed(session: AsyncSession, where: BedLocation) -> Bed:
    """The inventory bed a source names, by label or by ward/room/bed codes."""
    query = _bed_query()
    if where.label:
        query = query.where(Bed.label == where.label)
    elif where.ward and where.room and where.bed:
        query = query.where(Ward.code == where.ward, Room.code == where.room, Bed.code == where.bed)
    else:
        raise unknown_bed(where.describe() or "(none)")
    row = (await session.execute(query)).first()
    if row is None:
        raise unknown_bed(where.describe())
    _cache(session)[row[0].id] = _ref(row[0], row[2], row[3])
    return row[0]


async def stay_view(session: AsyncSession, stay: Stay) -> StayView:
    patient = await session.get(Patient, stay.patient_id)
    assert patient is not None
    return StayView(
        stay_id=stay.id,
        visit_number=stay.visit_number,
        status=stay.status,
        patient=patient_view(patient),
        bed=await bed_ref(session, stay.bed_id) if stay.bed_id is not None else None,
        did=stay.did,
        barring=stay.barring,
        do_not_disturb=stay.do_not_disturb,
        line_suspended=stay.line_suspended,
        on_leave=stay.on_leave,
        started_at=stay.started_at,
        ended_at=stay.ended_at,
        bed_since=stay.bed_since,
        fhir_encounter_id=stay.fhir_encounter_id,
    )


async def active_stay_views(session: AsyncSession) -> list[StayView]:
    stays = (
        await session.scalars(
            select(Stay)
            .where(Stay.status == "active")
            .options(selectinload(Stay.patient))
            .order_by(Stay.id)
        )
    ).all()
    refs = {r.bed_id: r for r in await all_bed_refs(session)}
    return [
        StayView(
            stay_id=s.id,
            visit_number=s.visit_number,
            status=s.status,
            patient=patient_view(s.patient),
            bed=refs.get(s.bed_id) if s.bed_id is not None else None,
            did=s.did,
            barring=s.barring,
            do_not_disturb=s.do_not_disturb,
            line_suspended=s.line_suspended,
            on_leave=s.on_leave,
            started_at=s.started_at,
            ended_at=s.ended_at,
            bed_since=s.bed_since,
            fhir_encounter_id=s.fhir_encounter_id,
        )
        for s in stays
    ]
