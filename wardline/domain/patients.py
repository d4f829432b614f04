"""Patients: upsert by local identifier (IPP within its assigning authority)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.db.models import Patient
from wardline.domain.commands import PatientData


async def find_patient(session: AsyncSession, ipp: str, authority: str) -> Patient | None:
    return (
        await session.scalars(
            select(Patient).where(Patient.ipp == ipp, Patient.ipp_authority == authority)
        )
    ).first()


async def upsert_patient(
    session: AsyncSession,
    data: PatientData,
    known: Patient | None = None,
    *,
    looked_up: bool = False,
) -> Patient:
    """Create the patient or bring its identity up to date with the source. ``looked_up``: the
    caller already searched and ``known`` is the answer (None: a new patient)."""
    patient = known if looked_up else await find_patient(session, data.ipp, data.ipp_authority)
    if patient is None:
        patient = Patient(ipp=data.ipp, ipp_authority=data.ipp_authority)
        session.add(patient)
    patient.family_name = data.family_name
    patient.given_name = data.given_name
    patient.birth_date = data.birth_date
    patient.sex = data.sex
    patient.non_disclosure = data.non_disclosure
    if data.ins is not None:
        patient.ins, patient.ins_oid = data.ins, data.ins_oid
    if data.preferred_language is not None:
        patient.preferred_language = data.preferred_language
    if data.addressed_as is not None:
        patient.addressed_as = data.addressed_as
    if data.fhir_patient_id is not None:
        patient.fhir_patient_id = data.fhir_patient_id
    await session.flush()
    return patient
