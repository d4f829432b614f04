"""The statements of the frequent stay commands (admit, transfer, update, discharge).

Built once and run with parameters: building a statement costs more than running it, and the
ADT feed runs these hundreds of times a second. Each read fetches in one round trip what a
command needs: a stay with its patient and bed, a bed with its occupant. Rows become the
read models of :mod:`wardline.domain.stay_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from wardline.db.models import Bed, Patient, Room, Stay, Terminal, Ward
from wardline.domain import dids
from wardline.domain.commands import BedLocation, PatientData
from wardline.domain.errors import no_did_available, unknown_bed
from wardline.domain.events import BedRef
from wardline.domain.stay_views import PatientView, StayView, patient_view

STAYS = cast(Table, Stay.__table__)
PATIENTS = cast(Table, Patient.__table__)

_BED_COLUMNS = (
    Bed.id.label("bed_id"),
    Bed.label.label("bed_label"),
    Bed.extension.label("bed_extension"),
    Ward.code.label("ward_code"),
    Terminal.id.label("terminal_id"),
)
_PATIENT_COLUMNS = tuple(
    PATIENTS.c[name]
    for name in (
        "id",
        "ipp",
        "family_name",
        "given_name",
        "addressed_as",
        "birth_date",
        "sex",
        "preferred_language",
        "non_disclosure",
        "ins",
        "fhir_patient_id",
    )
)
_STAY_COLUMNS = tuple(
    STAYS.c[name].label(f"stay_{name}")
    for name in (
        "id",
        "visit_number",
        "status",
        "patient_id",
        "bed_id",
        "previous_bed_id",
        "did",
        "barring",
        "do_not_disturb",
        "line_suspended",
        "on_leave",
        "started_at",
        "ended_at",
        "bed_since",
        "fhir_encounter_id",
    )
)

# -- beds --------------------------------------------------------------------------------
_occupant = aliased(Stay, name="occupant")
_BED_WITH_OCCUPANT = (
    select(*_BED_COLUMNS, _occupant.id.label("occupant_id"))
    .select_from(Bed)
    .join(Room, Bed.room_id == Room.id)
    .join(Ward, Room.ward_id == Ward.id)
    .outerjoin(Terminal, Terminal.bed_id == Bed.id)
    .outerjoin(_occupant, and_(_occupant.bed_id == Bed.id, _occupant.status == "active"))
)
_BY_LABEL = Bed.label == bindparam("label")
_BY_CODES = and_(
    Ward.code == bindparam("ward"), Room.code == bindparam("room"), Bed.code == bindparam("bed")
)
BED_BY_LABEL = _BED_WITH_OCCUPANT.where(_BY_LABEL)
BED_BY_CODES = _BED_WITH_OCCUPANT.where(_BY_CODES)

# An admission's checks in the same round trip: the stay already holding its visit number,
# and the visit of the patient's active stay (the patient by IPP, before any write).
_same_visit = aliased(Stay, name="same_visit")
_patients_stay = aliased(Stay, name="patients_stay")
_known = aliased(Patient, name="known")
_CHECKS = (
    select(_same_visit.status)
    .where(_same_visit.visit_number == bindparam("visit"))
    .scalar_subquery()
    .label("visit_status"),
    select(_same_visit.bed_id)
    .where(_same_visit.visit_number == bindparam("visit"))
    .scalar_subquery()
    .label("visit_bed_id"),
    select(_patients_stay.visit_number)
    .join(_known, _known.id == _patients_stay.patient_id)
    .where(
        _known.ipp == bindparam("ipp"),
        _known.ipp_authority == bindparam("authority"),
        _patients_stay.status == "active",
    )
    .scalar_subquery()
    .label("patient_active_visit"),
)
ADMISSION_BY_LABEL = BED_BY_LABEL.add_columns(*_CHECKS)
ADMISSION_BY_CODES = BED_BY_CODES.add_columns(*_CHECKS)

# -- stays with their patient and bed ----------------------------------------------------
_STAY_FULL = (
    select(*_STAY_COLUMNS, *_PATIENT_COLUMNS, *_BED_COLUMNS)
    .select_from(Stay)
    .join(Patient, Stay.patient_id == Patient.id)
    .outerjoin(Bed, Stay.bed_id == Bed.id)
    .outerjoin(Room, Bed.room_id == Room.id)
    .outerjoin(Ward, Room.ward_id == Ward.id)
    .outerjoin(Terminal, Terminal.bed_id == Bed.id)
)
STAY_BY_VISIT = _STAY_FULL.where(Stay.visit_number == bindparam("visit"))


def _with_target(bed_statement: Any) -> Any:
    """A stay by visit number with the bed it is to move to (``target_*``) and its occupant."""
    target = bed_statement.subquery("target")
    columns = [column.label(f"target_{column.name}") for column in target.c]
    return STAY_BY_VISIT.add_columns(*columns).outerjoin(target, true())


STAY_AND_TARGET_BY_LABEL = _with_target(BED_BY_LABEL)
STAY_AND_TARGET_BY_CODES = _with_target(BED_BY_CODES)
ACTIVE_STAY_OF_PATIENT = _STAY_FULL.where(
    Stay.patient_id == bindparam("patient_id"), Stay.status == "active"
)
INSERT_STAY = STAYS.insert().returning(*_STAY_COLUMNS)
SET_DID = update(STAYS).where(STAYS.c.id == bindparam("p_stay_id")).values(did=bindparam("p_did"))
MOVE = (
    update(STAYS)
    .where(STAYS.c.id == bindparam("p_stay_id"))
    .values(
        bed_id=bindparam("p_to_bed"),
        previous_bed_id=bindparam("p_from_bed"),
        bed_since=bindparam("p_at"),
    )
)
END = (
    update(STAYS)
    .where(STAYS.c.id == bindparam("p_stay_id"), STAYS.c.status == "active")
    .values(status=bindparam("p_new_status"), ended_at=bindparam("p_ended_at"))
)

# PostgreSQL runs a pair of writes in one statement (a data-modifying WITH): the DID taken and
# given to the stay; the stay ended and its DID quarantined. SQLite runs them one by one.
_taken = dids.TAKE.cte("taken")
TAKE_AND_SET_DID_PG = (
    update(STAYS)
    .where(STAYS.c.id == bindparam("p_stay_id"))
    .values(did=select(_taken.c.number).scalar_subquery())
    .returning(STAYS.c.did)
)
END_AND_RELEASE_PG = dids.RELEASE.add_cte(END.cte("ended"))


# -- patients: insert or bring up to date, one statement -----------------------------------
def _upsert(insert: Any) -> Any:
    statement = insert(PATIENTS)
    new = statement.excluded
    keep_unless_given = ("ins", "ins_oid", "preferred_language", "addressed_as", "fhir_patient_id")
    changes: dict[str, Any] = {
        name: new[name]
        for name in (
            "family_name",
            "given_name",
            "birth_date",
            "sex",
            "non_disclosure",
            "updated_at",
        )
    }
    changes.update({name: func.coalesce(new[name], PATIENTS.c[name]) for name in keep_unless_given})
    return statement.on_conflict_do_update(
        index_elements=["ipp_authority", "ipp"], set_=changes
    ).returning(*_PATIENT_COLUMNS)


UPSERT_PATIENT = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}


def patient_params(data: PatientData, now: datetime) -> dict[str, Any]:
    return {
        "ipp": data.ipp,
        "ipp_authority": data.ipp_authority,
        "family_name": data.family_name,
        "given_name": data.given_name,
        "birth_date": data.birth_date,
        "sex": data.sex,
        "non_disclosure": data.non_disclosure,
        "ins": data.ins,
        "ins_oid": data.ins_oid if data.ins is not None else None,
        "preferred_language": data.preferred_language,
        "addressed_as": data.addressed_as,
        "fhir_patient_id": data.fhir_patient_id,
        "updated_at": now,
    }


# -- running them ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AdmissionChecks:
    bed: BedRef
    occupant_id: int | None
    visit_status: str | None
    """The status of the stay already holding the visit number (None: no such stay)."""
    visit_bed_id: int | None
    patient_active_visit: str | None
    """The visit number of the patient's active stay (None: not admitted)."""


async def admission_checks(
    s: AsyncSession, where: BedLocation, visit: str, patient: PatientData
) -> AdmissionChecks:
    """The bed, its occupant and what could refuse the admission, in one round trip."""
    located = _located(where, ADMISSION_BY_LABEL, ADMISSION_BY_CODES)
    if located is None:
        raise unknown_bed(where.describe() or "(none)")
    statement, params = located
    params.update(visit=visit, ipp=patient.ipp, authority=patient.ipp_authority)
    row = (await s.execute(statement, params)).first()
    if row is None:
        raise unknown_bed(where.describe())
    ref = bed_ref_of(row)
    assert ref is not None
    return AdmissionChecks(
        bed=ref,
        occupant_id=row.occupant_id,
        visit_status=row.visit_status,
        visit_bed_id=row.visit_bed_id,
        patient_active_visit=row.patient_active_visit,
    )


def _located(where: BedLocation, by_label: Any, by_codes: Any) -> tuple[Any, dict[str, Any]] | None:
    """The statement that finds the bed a source names (by label, or by ward/room/bed
    codes) and its parameters; None when it names no bed."""
    if where.label:
        return by_label, {"label": where.label}
    if where.ward and where.room and where.bed:
        return by_codes, {"ward": where.ward, "room": where.room, "bed": where.bed}
    return None


async def stay_and_target(
    s: AsyncSession, visit: str, where: BedLocation
) -> tuple[StayView | None, BedRef | None, int | None]:
    """A stay (None: unknown), the bed it is to move to (None: unknown) and the id of the
    active stay on that bed, in one round trip."""
    located = _located(where, STAY_AND_TARGET_BY_LABEL, STAY_AND_TARGET_BY_CODES)
    if located is None:  # no bed named: the stay alone, so that an unknown stay is told first
        return await full_stay(s, STAY_BY_VISIT, visit=visit), None, None
    statement, params = located
    row = (await s.execute(statement, {**params, "visit": visit})).first()
    if row is None:
        return None, None, None
    target = None
    if row.target_bed_id is not None:
        target = BedRef(
            bed_id=row.target_bed_id,
            label=row.target_bed_label,
            extension=row.target_bed_extension,
            ward_code=row.target_ward_code,
            terminal_id=row.target_terminal_id,
        )
    return stay_view_of(row), target, row.target_occupant_id


async def upsert_patient(s: AsyncSession, data: PatientData, now: datetime) -> PatientView:
    statement = UPSERT_PATIENT[s.get_bind().dialect.name]
    row = (await s.execute(statement, patient_params(data, now))).one()
    return patient_view(row)


async def take_did(s: AsyncSession, stay_id: int, now: datetime) -> str:
    """Give the lowest available DID to the stay (quarantined ones once expired)."""
    params = {"p_stay_id": stay_id, "now": now}
    if s.get_bind().dialect.name == "postgresql":
        number = (await s.execute(TAKE_AND_SET_DID_PG, params)).scalar()
        if number is None:
            raise no_did_available()  # the stay's DID was set to NULL: rolled back
        return str(number)
    number = await dids.assign(s, stay_id, now)
    await s.execute(SET_DID, {"p_stay_id": stay_id, "p_did": number})
    return number


async def end_stay(
    s: AsyncSession,
    stay_id: int,
    did: str | None,
    *,
    status: str,
    at: datetime,
    quarantine_until: datetime,
) -> None:
    """End an active stay and put its DID into quarantine."""
    ended = {"p_stay_id": stay_id, "p_new_status": status, "p_ended_at": at}
    released = dids.release_params(did, at, quarantine_until)
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(END_AND_RELEASE_PG, {**ended, **released})
        return
    await s.execute(END, ended)
    if did is not None:
        await s.execute(dids.RELEASE, released)


async def full_stay(s: AsyncSession, statement: Any, **params: Any) -> StayView | None:
    row = (await s.execute(statement, params)).first()
    return stay_view_of(row) if row is not None else None


def bed_ref_of(row: Row[Any] | Any) -> BedRef | None:
    if row.bed_id is None:
        return None
    return BedRef(
        bed_id=row.bed_id,
        label=row.bed_label,
        extension=row.bed_extension,
        ward_code=row.ward_code,
        terminal_id=row.terminal_id,
    )


def stay_view_of(
    row: Row[Any], *, patient: PatientView | None = None, bed: BedRef | None = None
) -> StayView:
    """The read model of a stay row (``stay_*`` columns), with its patient and bed from the
    same row unless given."""
    return StayView(
        stay_id=row.stay_id,
        visit_number=row.stay_visit_number,
        status=row.stay_status,
        patient=patient or patient_view(row),
        bed=bed or bed_ref_of(row),
        did=row.stay_did,
        barring=row.stay_barring,
        do_not_disturb=row.stay_do_not_disturb,
        line_suspended=row.stay_line_suspended,
        on_leave=row.stay_on_leave,
        started_at=row.stay_started_at,
        ended_at=row.stay_ended_at,
        bed_since=row.stay_bed_since,
        fhir_encounter_id=row.stay_fhir_encounter_id,
    )
