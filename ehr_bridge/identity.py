"""The patient's identity in the EHR, never a guess (pure functions, no I/O).

The stay's patient (from the ADT feed) is matched to exactly one FHIR Patient by the IPP
system and value; its birth date must agree with the ADT identity, and its INS too when the
ADT identity is qualified; the Encounter found by visit number must have that Patient as
subject. Any disagreement is an :class:`IdentityToBeChecked` with a stable reason id and no
patient data in its message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ehr_bridge.errors import EhrError
from wardline.domain.stay_views import StayView

Resource = dict[str, Any]
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
"""The INS (NIR) identifier system of French national identity."""


class IdentityToBeChecked(EhrError):
    """The EHR's record cannot be matched to the stay's patient for certain: nothing clinical
    is shown or written. ``details['reason']`` is one of ``patient.unknown``, ``patient.several``,
    ``patient.birth_date``, ``patient.ins``, ``encounter.subject``."""

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", ""))


def problem(reason: str, visit_number: str) -> IdentityToBeChecked:
    return IdentityToBeChecked(
        "ehr.identity_to_be_checked",
        f"identity to be checked for visit {visit_number}: {reason}",
        reason=reason,
        visit=visit_number,
    )


def identifier_values(patient: Resource, system: str) -> set[str]:
    return {
        str(i.get("value"))
        for i in patient.get("identifier") or []
        if isinstance(i, dict) and i.get("system") == system and i.get("value")
    }


def the_patient(matches: list[Resource], stay: StayView, ipp_system: str) -> Resource:
    """The one Patient with the stay's IPP in ``ipp_system`` (a server that ignores the
    system in its search cannot slip a homonym in: the system is checked here again).

    :class:`IdentityToBeChecked` when there are several (``patient.several``) and when there
    is none (``patient.unknown``): a patient admitted by the ADT feed whom the EHR does not
    know under the hospital's IPP is an identity to reconcile (a homonym under another
    system, an IPP merged or mistyped), not an empty record. The alert closes by itself
    once the EHR knows the patient (the next read that agrees)."""
    mine = [p for p in matches if stay.patient.ipp in identifier_values(p, ipp_system)]
    ids = {str(p.get("id")) for p in mine}
    if len(ids) > 1:
        raise problem("patient.several", stay.visit_number)
    if not mine:
        raise problem("patient.unknown", stay.visit_number)
    return mine[0]


def _birth_date(patient: Resource) -> date | None:
    value = patient.get("birthDate")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def check_patient(patient: Resource, stay: StayView) -> None:
    """Birth date equal on both sides (both known); the qualified INS, when the ADT feed
    gave one, among the Patient's INS identifiers and no other INS there."""
    adt = stay.patient
    if adt.birth_date is None or _birth_date(patient) != adt.birth_date:
        raise problem("patient.birth_date", stay.visit_number)
    if adt.ins:
        ins = identifier_values(patient, INS_SYSTEM)
        if ins and ins != {adt.ins}:
            raise problem("patient.ins", stay.visit_number)


def check_encounter(encounter: Resource | None, patient_id: str, stay: StayView) -> None:
    """The Encounter of the visit, when the EHR has one, is this Patient's."""
    if encounter is None:
        return
    subject = encounter.get("subject")
    reference = str(subject.get("reference") or "") if isinstance(subject, dict) else ""
    target = reference.split("/_history", 1)[0]
    if target.rsplit("/", 2)[-2:] != ["Patient", patient_id]:
        raise problem("encounter.subject", stay.visit_number)
