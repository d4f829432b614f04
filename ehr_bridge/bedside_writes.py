"""Bedside writes as FHIR R4 resources, validated before they are queued.

fhir.resources checks the structure; it accepts any string as a code, and so do some
servers, so the codes, units and plausible ranges are checked here too. An invalid write
raises :class:`~ehr_bridge.errors.InvalidResource` and nothing is queued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from ehr_bridge.errors import InvalidResource
from ehr_bridge.fhir_mapping import DUE_AT_EXTENSION
from wardline.domain.clinical_record_port import AdministrationInput, MedicationOrder, VitalsInput

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NOT_GIVEN_REASONS = {
    "patient-refused": "Refus du patient",
    "patient-absent": "Patient absent",
    "nil-by-mouth": "À jeun",
    "clinical-contraindication": "Contre-indication clinique",
    "medication-unavailable": "Médicament indisponible",
}
# kind: (LOINC code, display, UCUM unit, low, high)
VITAL_CODES: dict[str, tuple[str, str, str, float, float]] = {
    "heart_rate": ("8867-4", "Heart rate", "/min", 20, 300),
    "temperature": ("8310-5", "Body temperature", "Cel", 30, 45),
    "spo2": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 40, 100),
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min", 3, 80),
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]", 40, 300),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]", 20, 200),
}
VITALS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}


@dataclass(frozen=True, kw_only=True)
class Subject:
    """Who the write is about: the FHIR Patient id when known, else the IPP (resolved
    by the outbox worker before delivery)."""

    ipp: str
    patient_id: str | None = None
    encounter_id: str | None = None

    def reference(self) -> dict[str, Any]:
        if self.patient_id:
            return {"reference": f"Patient/{self.patient_id}"}
        return {"identifier": {"value": self.ipp}, "type": "Patient"}


def new_business_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4()}"


def _identifier(system: str, business_id: str) -> list[dict[str, str]]:
    return [{"system": system, "value": business_id}]


def _validate(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidResource(
            "fhir.invalid_resource",
            f"invalid {resource['resourceType']}: {where}: {first.get('msg')}",
        ) from exc
    return resource


def administration(
    entry: AdministrationInput,
    order: MedicationOrder | None,
    subject: Subject,
    *,
    system: str,
    business_id: str,
    performer: str,
) -> dict[str, Any]:
    if entry.at.tzinfo is None:
        raise InvalidResource("fhir.invalid_resource", "the administration time has no zone")
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": _identifier(system, business_id),
        "status": "completed" if entry.given else "not-done",
        "medicationCodeableConcept": {"text": order.medication if order else entry.order_id},
        "subject": subject.reference(),
        "effectiveDateTime": entry.at.isoformat(),
        "request": {"reference": f"MedicationRequest/{entry.order_id}"},
        "performer": [{"actor": {"display": performer}}],
    }
    if subject.encounter_id:
        resource["context"] = {"reference": f"Encounter/{subject.encounter_id}"}
    if entry.due_at is not None:
        resource["extension"] = [
            {"url": DUE_AT_EXTENSION, "valueDateTime": entry.due_at.isoformat()}
        ]
    if not entry.given:
        if entry.reason not in NOT_GIVEN_REASONS:
            raise InvalidResource(
                "fhir.invalid_reason",
                f"unknown reason for a dose not given: {entry.reason!r}",
                known=sorted(NOT_GIVEN_REASONS),
            )
        resource["statusReason"] = [
            {
                "coding": [{"system": "urn:wardline:not-given-reason", "code": entry.reason}],
                "text": NOT_GIVEN_REASONS[entry.reason],
            }
        ]
    return _validate(MedicationAdministration, resource)


def vital_observations(
    entry: VitalsInput, subject: Subject, *, system: str, business_ids: list[str], performer: str
) -> list[dict[str, Any]]:
    if not entry.values:
        raise InvalidResource("fhir.invalid_resource", "no vital sign given")
    if entry.at.tzinfo is None:
        raise InvalidResource("fhir.invalid_resource", "the measurement time has no zone")
    out = []
    for (kind, value), business_id in zip(sorted(entry.values.items()), business_ids, strict=True):
        if kind not in VITAL_CODES:
            raise InvalidResource("fhir.invalid_code", f"unknown vital sign {kind!r}")
        code, display, unit, low, high = VITAL_CODES[kind]
        if not low <= value <= high:
            raise InvalidResource(
                "fhir.implausible_value", f"{kind} {value} {unit} is outside {low}-{high}"
            )
        resource = {
            "resourceType": "Observation",
            "identifier": _identifier(system, business_id),
            "status": "final",
            "category": [VITALS_CATEGORY],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": subject.reference(),
            "effectiveDateTime": entry.at.isoformat(),
            "performer": [{"display": performer}],
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        if subject.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{subject.encounter_id}"}
        out.append(_validate(Observation, resource))
    return out
