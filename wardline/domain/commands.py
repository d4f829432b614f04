"""Requests to the domain, in hospital terms. Edges translate their protocol into these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, kw_only=True)
class PatientData:
    """A patient's identity as an admission source knows it (synthetic data only in tests)."""

    ipp: str
    ipp_authority: str = ""
    family_name: str
    given_name: str = ""
    ins: str | None = None
    ins_oid: str | None = None
    birth_date: date | None = None
    sex: str = "U"
    preferred_language: str | None = None
    addressed_as: str | None = None
    non_disclosure: bool = False
    fhir_patient_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class BedLocation:
    """Where a source says the patient lies: a bed label, or ward/room/bed codes (HL7 PV1-3)."""

    label: str | None = None
    ward: str | None = None
    room: str | None = None
    bed: str | None = None

    def describe(self) -> str:
        return self.label or "/".join(p for p in (self.ward, self.room, self.bed) if p)


@dataclass(frozen=True, kw_only=True)
class Admit:
    visit_number: str
    patient: PatientData
    location: BedLocation
    at: datetime | None = None
    fhir_encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Transfer:
    visit_number: str
    location: BedLocation
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Discharge:
    visit_number: str
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CancelAdmit:
    visit_number: str


@dataclass(frozen=True, kw_only=True)
class CancelTransfer:
    visit_number: str


@dataclass(frozen=True, kw_only=True)
class CancelDischarge:
    visit_number: str


@dataclass(frozen=True, kw_only=True)
class UpdatePatient:
    patient: PatientData
    visit_number: str | None = None
    location: BedLocation | None = None


@dataclass(frozen=True, kw_only=True)
class SetLeave:
    visit_number: str
    on_leave: bool


@dataclass(frozen=True, kw_only=True)
class MergePatients:
    """A40: ``surviving`` absorbs ``merged`` (identified by IPP) and its stays."""

    surviving: PatientData
    merged_ipp: str
    merged_ipp_authority: str = ""


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who asks: a person (staff username) or a system (``system:adt``, ``system:reconcile``)."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str | None = None
    """The person's name as written in the record (a nurse's bedside writes)."""
    rpps: str | None = None
    """RPPS number of a health professional, when the account has one."""

    @property
    def is_system(self) -> bool:
        return self.name.startswith("system:")


SYSTEM_ADT = Actor(name="system:adt")
SYSTEM_ADMIN_CLI = Actor(name="system:cli")
