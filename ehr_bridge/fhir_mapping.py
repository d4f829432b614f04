"""FHIR R4 JSON to the domain's clinical record dataclasses (pure; nothing FHIR leaves)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from ehr_bridge import fhir_orders as fo
from ehr_bridge.errors import FhirRefused
from ehr_bridge.med_schedule import WHEN_TIMES
from wardline.domain.clinical_record_port import (
    Allergy,
    AllergyReaction,
    AllergyStatus,
    BedsideRecord,
    PatientBanner,
    RecordedAdministration,
    VitalSign,
)

Resource = dict[str, Any]
DUE_AT_EXTENSION = "urn:wardline:fhir:due-at"
SNOMED = "http://snomed.info/sct"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
NOT_CURRENT = frozenset({"inactive", "resolved"})
NO_KNOWN_ALLERGY = frozenset({"716186003"})
"""SNOMED CT "No known allergy (situation)"."""
KNOWN_WHEN = frozenset(WHEN_TIMES)
VITAL_KINDS = {
    "8867-4": "heart_rate",
    "8310-5": "temperature",
    "59408-5": "spo2",
    "2708-6": "spo2",
    "9279-1": "respiratory_rate",
    "8480-6": "systolic",
    "8462-4": "diastolic",
    "29463-7": "weight",
}


_datetime = fo.parse_datetime


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def concept_text(concept: Any) -> str:
    return fo.label(concept)


def reference_id(ref: Any, kind: str) -> str | None:
    value = (ref or {}).get("reference", "") if isinstance(ref, dict) else ""
    prefix = f"{kind}/"
    if "/" not in value:
        return value or None
    tail = value.split(prefix, 1)[-1] if prefix in value else None
    return tail.split("/", 1)[0] if tail else None


def _reaction(reaction: Resource) -> AllergyReaction:
    return AllergyReaction(
        manifestations=tuple(
            fo.label(m) for m in reaction.get("manifestation") or [] if fo.label(m)
        ),
        severity=reaction.get("severity") if isinstance(reaction.get("severity"), str) else None,
        description=str(reaction["description"]) if reaction.get("description") else None,
    )


def current_allergy(resource: Resource) -> bool:
    """Shown unless refuted or entered in error (verificationStatus), or no longer current
    (clinicalStatus inactive or resolved); statuses are read by system and code only."""
    if fo.has_code(resource.get("verificationStatus"), VERIFICATION, EXCLUDED_VERIFICATION):
        return False
    return not fo.has_code(resource.get("clinicalStatus"), CLINICAL, NOT_CURRENT)


def allergies(resources: list[Resource]) -> tuple[tuple[Allergy, ...], AllergyStatus]:
    """The current allergies and the allergy status: ``not_recorded`` when the EHR holds
    nothing, ``no_known_allergy`` when it holds only a coded "no known allergy"."""
    shown: list[Allergy] = []
    none_known = False
    for resource in resources:
        if not current_allergy(resource):
            continue
        if fo.has_code(resource.get("code"), SNOMED, NO_KNOWN_ALLERGY):
            none_known = True
            continue
        verification = fo.coded(resource.get("verificationStatus"))
        category = resource.get("category") or [None]
        shown.append(
            Allergy(
                substance=fo.label(resource.get("code")) or "?",
                category=category[0] if isinstance(category, list) else None,
                criticality=resource.get("criticality"),
                code=fo.coded(resource.get("code")),
                verification=verification.code if verification else None,
                reactions=tuple(
                    _reaction(r) for r in resource.get("reaction") or [] if isinstance(r, dict)
                ),
            )
        )
    status: AllergyStatus = (
        "recorded" if shown else "no_known_allergy" if none_known else "not_recorded"
    )
    return tuple(shown), status


def banner(patient: Resource, allergy_list: list[Resource], diets: list[Resource]) -> PatientBanner:
    names = patient.get("name") or [{}]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    identifiers = tuple(
        (concept_text(i.get("type")) or i.get("system", ""), str(i.get("value", "")))
        for i in patient.get("identifier", []) or []
        if i.get("value")
    )
    shown, status = allergies(allergy_list)
    return PatientBanner(
        family_name=str(name.get("family", "")),
        given_name=" ".join(name.get("given", []) or []),
        birth_date=_date(patient.get("birthDate")),
        sex={"female": "F", "male": "M", "other": "O"}.get(patient.get("gender", ""), "U"),
        identifiers=identifiers,
        allergies=shown,
        allergy_status=status,
        diets=tuple(
            concept_text(t)
            for order in diets
            for t in ((order.get("oralDiet") or {}).get("type") or [])
            if concept_text(t)
        ),
    )


def vitals(observations: list[Resource]) -> list[VitalSign]:
    out: list[VitalSign] = []
    for obs in observations:
        parts = [obs, *list(obs.get("component", []) or [])]
        for part in parts:
            quantity = part.get("valueQuantity")
            if not isinstance(quantity, dict):
                continue
            codes = [c.get("code", "") for c in (part.get("code") or {}).get("coding", [])]
            kind = next(
                (VITAL_KINDS[c] for c in codes if c in VITAL_KINDS), codes[0] if codes else ""
            )
            out.append(
                VitalSign(
                    kind=kind,
                    label=concept_text(part.get("code")),
                    value=quantity.get("value"),
                    unit=str(quantity.get("unit") or quantity.get("code") or ""),
                    taken_at=_datetime(obs.get("effectiveDateTime")),
                )
            )
    out.sort(key=lambda v: v.taken_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out


def administrations(resources: list[Resource]) -> list[RecordedAdministration]:
    return _administrations(resources)


def _administrations(resources: list[Resource]) -> list[RecordedAdministration]:
    out = []
    for resource in resources:
        order = reference_id(resource.get("request"), "MedicationRequest")
        at = _datetime(resource.get("effectiveDateTime")) or _datetime(
            (resource.get("effectivePeriod") or {}).get("start")
        )
        if not order or at is None or resource.get("status") not in {"completed", "not-done"}:
            continue
        due = next(
            (
                _datetime(e.get("valueDateTime"))
                for e in resource.get("extension", []) or []
                if e.get("url") == DUE_AT_EXTENSION
            ),
            None,
        )
        reasons = resource.get("statusReason") or []
        out.append(
            RecordedAdministration(
                order_id=order,
                at=at,
                given=resource.get("status") == "completed",
                due_at=due,
                reason=concept_text(reasons[0]) if reasons else None,
            )
        )
    return out


def bedside_record(
    *,
    visit_number: str,
    patient: Resource,
    allergies: list[Resource],
    diets: list[Resource],
    prescriptions: list[Resource],
    medications: Mapping[str, Resource],
    observations: list[Resource],
    administrations: list[Resource],
    fetched_at: datetime,
) -> BedsideRecord:
    """The record from the EHR's resources; :class:`FhirRefused` (``fhir.bad_reply``) when a
    resource does not have the shape FHIR R4 gives it."""
    try:
        return BedsideRecord(
            visit_number=visit_number,
            patient=banner(patient, allergies, diets),
            orders=tuple(fo.orders(prescriptions, medications, KNOWN_WHEN)),
            vitals=tuple(vitals(observations)),
            administrations=tuple(_administrations(administrations)),
            fetched_at=fetched_at,
        )
    except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
        raise FhirRefused(
            "fhir.bad_reply", f"the EHR sent a malformed resource ({type(exc).__name__})"
        ) from exc
