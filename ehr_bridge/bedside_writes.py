"""Bedside writes as FHIR R4 resources (the write side of the FHIR mapping), validated
before they are queued.

fhir.resources checks the structure; it accepts any string as a code, and so do some
servers, so the codes, units and plausible ranges are checked here too. An invalid write
raises :class:`~ehr_bridge.errors.InvalidResource` and nothing is queued. Every element
written, with its rule, is listed in ``docs/fhir.md`` ("Written").

The medication and the route of an administration are those of the order, copied from the
MedicationRequest itself when the outbox delivers it (:func:`with_order`): same coding, same
reference, a contained Medication carried along; never retyped from a display.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from ehr_bridge.errors import InvalidResource
from ehr_bridge.fhir_mapping import DUE_AT_EXTENSION
from wardline.domain.clinical_record_port import (
    AdministrationInput,
    MedicationOrder,
    NotGivenReason,
    VitalsInput,
)
from wardline.domain.commands import Actor

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
"""The French national identifier of health professionals (IDNPS); for an RPPS number the
value is ``8`` followed by the 11 digits (FR Core, ANS)."""
NOT_GIVEN_SYSTEM = "urn:wardline:fhir:not-given-reason"
HL7_NOT_GIVEN = "http://terminology.hl7.org/CodeSystem/reason-medication-not-given"
# reason: (French text, the HL7 example code when one means the same)
NOT_GIVEN: dict[NotGivenReason, tuple[str, tuple[str, str] | None]] = {
    "refused": ("Refus du patient", None),
    "absent": ("Patient absent", ("b", "Away")),
    "held": ("Dose suspendue", None),
    "vomited": ("Vomissement", ("d", "Vomit")),
    "other": ("Autre raison", None),
}
VITALS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
    ],
    "text": "Vital Signs",
}


@dataclass(frozen=True)
class VitalCode:
    kind: str
    codes: tuple[tuple[str, str], ...]
    """LOINC (code, display): the vital signs profile's own code first."""
    unit: str
    profile: str
    low: float
    high: float


VITALS: dict[str, VitalCode] = {
    v.kind: v
    for v in (
        VitalCode("heart_rate", (("8867-4", "Heart rate"),), "/min", "heartrate", 20, 300),
        VitalCode("temperature", (("8310-5", "Body temperature"),), "Cel", "bodytemp", 30, 45),
        VitalCode(
            "spo2",
            (
                ("2708-6", "Oxygen saturation in Arterial blood"),
                ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
            ),
            "%",
            "oxygensat",
            40,
            100,
        ),
        VitalCode("respiratory_rate", (("9279-1", "Respiratory rate"),), "/min", "resprate", 3, 80),
        VitalCode("systolic", (("8480-6", "Systolic blood pressure"),), "mm[Hg]", "bp", 40, 300),
        VitalCode("diastolic", (("8462-4", "Diastolic blood pressure"),), "mm[Hg]", "bp", 20, 200),
    )
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
PROFILE = "http://hl7.org/fhir/StructureDefinition/"


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


def dose_business_id(order_id: str, due_at: datetime | None) -> str:
    """The idempotency key of one dose: the same (order, due time) always gives the same key,
    so two attempts anywhere meet on the server's conditional create. A dose with no due
    time (as needed) is a new administration each time."""
    if due_at is None:
        return new_business_id("administration")
    if due_at.tzinfo is None:
        raise InvalidResource("fhir.invalid_resource", "the due time has no zone")
    key = f"{order_id}|{due_at.astimezone(UTC).isoformat()}"
    return "dose-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def performer_reference(actor: Actor, rpps_system: str = RPPS_SYSTEM) -> dict[str, Any]:
    """A Practitioner by the national identifier of the RPPS number when the account has one,
    else by name only (``display``)."""
    name = actor.display_name or actor.name
    reference: dict[str, Any] = {"type": "Practitioner", "display": name}
    if actor.rpps:
        reference["identifier"] = {"system": rpps_system, "value": f"8{actor.rpps}"}
    return reference


def _identifier(system: str, business_id: str) -> list[dict[str, str]]:
    return [{"system": system, "value": business_id}]


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource checked against the FHIR models (R4B: MedicationAdministration and
    Observation are the same as in R4)."""
    model: Any = {
        "MedicationAdministration": MedicationAdministration,
        "Observation": Observation,
    }[resource["resourceType"]]
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


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _status_reason(entry: AdministrationInput) -> dict[str, Any]:
    if entry.reason not in NOT_GIVEN:
        raise InvalidResource(
            "fhir.invalid_reason",
            f"unknown reason for a dose not given: {entry.reason!r}",
            known=sorted(NOT_GIVEN),
        )
    text, hl7 = NOT_GIVEN[entry.reason]
    coding = [{"system": NOT_GIVEN_SYSTEM, "code": entry.reason, "display": text}]
    if hl7 is not None:
        coding.append({"system": HL7_NOT_GIVEN, "code": hl7[0], "display": hl7[1]})
    words = (entry.reason_text or "").strip()
    if entry.reason == "other" and not words:
        raise InvalidResource("fhir.invalid_reason", "say why in words for 'other'")
    return {"coding": coding, "text": f"{text} : {words}" if words else text}


def administration(
    entry: AdministrationInput,
    order: MedicationOrder | None,
    subject: Subject,
    *,
    system: str,
    business_id: str,
    performer: Actor,
    rpps_system: str = RPPS_SYSTEM,
) -> dict[str, Any]:
    """The MedicationAdministration of one dose; its medication is the order's name until
    :func:`with_order` puts the order's own coding or reference in at delivery."""
    if entry.at.tzinfo is None:
        raise InvalidResource("fhir.invalid_resource", "the administration time has no zone")
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "identifier": _identifier(system, business_id),
        "status": "completed" if entry.given else "not-done",
        "medicationCodeableConcept": {"text": order.medication if order else entry.order_id},
        "subject": subject.reference(),
        "effectiveDateTime": entry.at.isoformat(),
        "performer": [{"actor": performer_reference(performer, rpps_system)}],
        "request": {"reference": f"MedicationRequest/{entry.order_id}"},
    }
    if subject.encounter_id:
        resource["context"] = {"reference": f"Encounter/{subject.encounter_id}"}
    if entry.due_at is not None:
        resource["extension"] = [
            {"url": DUE_AT_EXTENSION, "valueDateTime": entry.due_at.isoformat()}
        ]
    notes: list[str] = []
    if not entry.given:
        resource["statusReason"] = [_status_reason(entry)]
    else:
        if entry.dose is None:
            raise InvalidResource("fhir.invalid_resource", "a dose given has its quantity")
        dosage: dict[str, Any] = {"dose": _quantity(float(entry.dose.value), entry.dose.unit)}
        if entry.dose_confirmed_text:
            dosage["text"] = entry.dose_confirmed_text
            notes.append(f"Dose vérifiée contre la prescription : {entry.dose_confirmed_text}")
        resource["dosage"] = dosage
        if entry.partial:
            reason = _status_reason(entry) if entry.reason else {"text": ""}
            notes.append(f"Dose partielle : {reason['text'] or entry.reason_text or ''}".strip())
    if entry.late_reason and entry.late_reason.strip():
        notes.append(f"Hors de la fenêtre de la dose : {entry.late_reason.strip()}")
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return validate(resource)


def with_order(resource: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The administration with the order's medication (same coding, or same reference: a
    contained Medication travels with it) and the route of its dosage."""
    out = copy.deepcopy(resource)
    out.pop("medicationCodeableConcept", None)
    out.pop("medicationReference", None)
    if isinstance(request.get("medicationCodeableConcept"), dict):
        out["medicationCodeableConcept"] = copy.deepcopy(request["medicationCodeableConcept"])
    elif isinstance(request.get("medicationReference"), dict):
        ref = copy.deepcopy(request["medicationReference"])
        out["medicationReference"] = ref
        target = str(ref.get("reference", ""))
        if target.startswith("#"):
            contained = [
                c
                for c in request.get("contained", []) or []
                if isinstance(c, dict) and c.get("id") == target[1:]
            ]
            if not contained:
                raise InvalidResource(
                    "fhir.order_medication", f"the order's {target} is not contained in it"
                )
            out["contained"] = copy.deepcopy(contained)
    else:
        raise InvalidResource("fhir.order_medication", "the order names no medication")
    routes = [
        d["route"]
        for d in request.get("dosageInstruction", []) or []
        if isinstance(d, dict) and isinstance(d.get("route"), dict)
    ]
    if routes and out.get("status") == "completed":
        out.setdefault("dosage", {})["route"] = copy.deepcopy(routes[0])
    return validate(out)


def vital_observations(
    entry: VitalsInput,
    subject: Subject,
    *,
    system: str,
    business_ids: list[str],
    performer: Actor,
    rpps_system: str = RPPS_SYSTEM,
) -> list[dict[str, Any]]:
    """One vital-signs Observation per measurement; systolic and diastolic together as one
    blood pressure panel with two components. ``business_ids`` has one id per Observation
    (:func:`observation_count`)."""
    if not entry.values:
        raise InvalidResource("fhir.invalid_resource", "no vital sign given")
    if entry.at.tzinfo is None:
        raise InvalidResource("fhir.invalid_resource", "the measurement time has no zone")
    for kind, value in entry.values.items():
        if kind not in VITALS:
            raise InvalidResource("fhir.invalid_code", f"unknown vital sign {kind!r}")
        v = VITALS[kind]
        if not v.low <= value <= v.high:
            raise InvalidResource(
                "fhir.implausible_value", f"{kind} {value} {v.unit} is outside {v.low}-{v.high}"
            )
    pressure = {"systolic", "diastolic"} & set(entry.values)
    if len(pressure) == 1:
        raise InvalidResource(
            "fhir.blood_pressure_half", "a blood pressure has its systolic and diastolic values"
        )
    if len(business_ids) != observation_count(entry):
        raise InvalidResource("fhir.invalid_resource", "one business id per Observation")
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [VITALS_CATEGORY],
        "subject": subject.reference(),
        "effectiveDateTime": entry.at.isoformat(),
        "performer": [performer_reference(performer, rpps_system)],
    }
    if subject.encounter_id:
        base["encounter"] = {"reference": f"Encounter/{subject.encounter_id}"}
    out: list[dict[str, Any]] = []
    ids = iter(business_ids)
    for kind, value in sorted(entry.values.items()):
        if kind in pressure:
            continue
        v = VITALS[kind]
        out.append(
            {
                **copy.deepcopy(base),
                "identifier": _identifier(system, next(ids)),
                "meta": {"profile": [PROFILE + v.profile]},
                "code": _code(v.codes),
                "valueQuantity": _quantity(value, v.unit),
            }
        )
    if pressure:
        out.append(
            {
                **copy.deepcopy(base),
                "identifier": _identifier(system, next(ids)),
                "meta": {"profile": [PROFILE + "bp"]},
                "code": _code((BP_PANEL,)),
                "component": [
                    {
                        "code": _code(VITALS[kind].codes),
                        "valueQuantity": _quantity(entry.values[kind], "mm[Hg]"),
                    }
                    for kind in ("systolic", "diastolic")
                ],
            }
        )
    return [validate(r) for r in out]


def observation_count(entry: VitalsInput) -> int:
    kinds = set(entry.values)
    return len(kinds - {"systolic", "diastolic"}) + (1 if kinds & {"systolic", "diastolic"} else 0)


def _code(codes: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        "coding": [{"system": LOINC, "code": c, "display": d} for c, d in codes],
        "text": codes[0][1],
    }
