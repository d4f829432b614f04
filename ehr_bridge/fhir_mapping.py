"""FHIR R4 JSON to the domain's clinical record dataclasses (pure; nothing FHIR leaves)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from ehr_bridge.errors import FhirRefused
from wardline.domain.clinical_record_port import (
    Allergy,
    BedsideRecord,
    DoseTiming,
    MedicationOrder,
    PatientBanner,
    RecordedAdministration,
    VitalSign,
)

Resource = dict[str, Any]
DUE_AT_EXTENSION = "urn:wardline:fhir:due-at"
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


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding", []) or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return ""


def reference_id(ref: Any, kind: str) -> str | None:
    value = (ref or {}).get("reference", "") if isinstance(ref, dict) else ""
    prefix = f"{kind}/"
    if "/" not in value:
        return value or None
    tail = value.split(prefix, 1)[-1] if prefix in value else None
    return tail.split("/", 1)[0] if tail else None


def banner(patient: Resource, allergies: list[Resource], diets: list[Resource]) -> PatientBanner:
    names = patient.get("name") or [{}]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    identifiers = tuple(
        (concept_text(i.get("type")) or i.get("system", ""), str(i.get("value", "")))
        for i in patient.get("identifier", []) or []
        if i.get("value")
    )
    return PatientBanner(
        family_name=str(name.get("family", "")),
        given_name=" ".join(name.get("given", []) or []),
        birth_date=_date(patient.get("birthDate")),
        sex={"female": "F", "male": "M", "other": "O"}.get(patient.get("gender", ""), "U"),
        identifiers=identifiers,
        allergies=tuple(
            Allergy(
                substance=concept_text(a.get("code")) or "?",
                category=(a.get("category") or [None])[0],
                criticality=a.get("criticality"),
            )
            for a in allergies
            if concept_text(a.get("clinicalStatus") or {}) in {"", "active"}
        ),
        diets=tuple(
            concept_text(t)
            for order in diets
            for t in ((order.get("oralDiet") or {}).get("type") or [])
            if concept_text(t)
        ),
    )


def _time_of_day(value: str) -> time | None:
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


def timing(dosage: Resource) -> DoseTiming:
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    bounds = repeat.get("boundsPeriod") or {}
    times = tuple(t for t in (_time_of_day(v) for v in repeat.get("timeOfDay", []) or []) if t)
    return DoseTiming(
        frequency=repeat.get("frequency"),
        period=repeat.get("period"),
        period_unit=repeat.get("periodUnit"),
        times_of_day=times,
        when=tuple(repeat.get("when", []) or []),
        offset_minutes=int(repeat.get("offset", 0) or 0),
        bounds_start=_datetime(bounds.get("start")),
        bounds_end=_datetime(bounds.get("end")),
        as_needed=bool(dosage.get("asNeededBoolean")),
    )


def orders(requests: list[Resource], included: list[Resource]) -> list[MedicationOrder]:
    medications = {
        f"Medication/{m.get('id')}": m for m in included if m.get("resourceType") == "Medication"
    }
    out = []
    for request in requests:
        if request.get("status") not in (None, "active"):
            continue
        medication = concept_text(request.get("medicationCodeableConcept"))
        ref = (request.get("medicationReference") or {}).get("reference")
        if not medication and ref:
            target = medications.get(ref) or medications.get(ref.split("/_history")[0])
            medication = concept_text(target.get("code")) if target else ref
        dosages = request.get("dosageInstruction", []) or []
        out.append(
            MedicationOrder(
                order_id=str(request.get("id", "")),
                medication=medication or "?",
                dose="; ".join(str(d.get("text", "")) for d in dosages if d.get("text")),
                route=concept_text(dosages[0].get("route")) or None if dosages else None,
                timings=tuple(timing(d) for d in dosages),
                authored_at=_datetime(request.get("authoredOn")),
            )
        )
    return out


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
    included: list[Resource],
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
            orders=tuple(orders(prescriptions, included)),
            vitals=tuple(vitals(observations)),
            administrations=tuple(_administrations(administrations)),
            fetched_at=fetched_at,
        )
    except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
        raise FhirRefused(
            "fhir.bad_reply", f"the EHR sent a malformed resource ({type(exc).__name__})"
        ) from exc
