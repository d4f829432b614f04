"""Synthetic clinical data for the FHIR sandbox, keyed on the inventory's bed FHIR Location
ids and on the patients' IPP and visit numbers (invented people only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ehr_bridge.sandbox.corpus import IPP_SYSTEM, VISIT_SYSTEM
from ehr_bridge.sandbox.store import Resource, SandboxStore

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}
FAMILIES = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DUBOIS", "MOREAU"]
GIVENS = ["JEANNE", "PAUL", "LOUISE", "MARC", "CLAIRE", "HUGO", "ALICE", "LUC"]

# (code, display, unit, ucum, value) of the seeded vital signs.
VITALS = [
    ("8867-4", "Heart rate", "/min", "/min", 78),
    ("8310-5", "Body temperature", "°C", "Cel", 37.2),
    ("59408-5", "Oxygen saturation", "%", "%", 97),
    ("9279-1", "Respiratory rate", "/min", "/min", 16),
]

# Prescriptions: (medication text, dose text, timing repeat)
PRESCRIPTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("Paracétamol 1 g comprimé", "1 comprimé", {"frequency": 4, "period": 1, "periodUnit": "d"}),
    ("Bisoprolol 5 mg comprimé", "1 comprimé", {"timeOfDay": ["08:00:00"]}),
    ("Enoxaparine 4000 UI/0,4 mL", "1 injection", {"timeOfDay": ["20:00:00"]}),
    ("Insuline asparte", "selon protocole", {"when": ["ACM", "ACD", "ACV"]}),
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def seed_patient(
    store: SandboxStore,
    *,
    ipp: str,
    visit_number: str,
    location_id: str | None = None,
    family: str = "MARTIN",
    given: str = "JEANNE",
    birth_date: date = date(1952, 3, 14),
    gender: str = "female",
    gluten_free: bool = False,
    penicillin_allergy: bool = False,
    prescriptions: int = 3,
    now: datetime | None = None,
) -> dict[str, str]:
    """One admitted patient with encounter, allergies, diet, prescriptions and vitals.
    Returns the ids (``patient``, ``encounter``)."""
    now = now or datetime.now(UTC)
    pid, eid = f"pat-{ipp}", f"enc-{visit_number}"
    store.add(
        {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"type": {"text": "IPP"}, "system": IPP_SYSTEM, "value": ipp}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": gender,
            "birthDate": birth_date.isoformat(),
        }
    )
    subject = {"reference": f"Patient/{pid}"}
    encounter: Resource = {
        "resourceType": "Encounter",
        "id": eid,
        "identifier": [{"system": VISIT_SYSTEM, "value": visit_number}],
        "status": "in-progress",
        "class": {"code": "IMP", "display": "inpatient encounter"},
        "subject": subject,
        "period": {"start": _iso(now - timedelta(days=2))},
    }
    if location_id:
        if store.get("Location", location_id) is None:
            store.add({"resourceType": "Location", "id": location_id, "status": "active"})
        encounter["location"] = [{"location": {"reference": f"Location/{location_id}"}}]
    store.add(encounter)
    if gluten_free:
        _allergy(store, pid, "Gluten", "food")
        store.add(
            {
                "resourceType": "NutritionOrder",
                "status": "active",
                "intent": "order",
                "patient": subject,
                "encounter": {"reference": f"Encounter/{eid}"},
                "dateTime": _iso(now - timedelta(days=2)),
                "oralDiet": {"type": [{"text": "Régime sans gluten"}]},
            }
        )
    if penicillin_allergy:
        _allergy(store, pid, "Pénicilline", "medication")
    for index, (medication, dose, repeat) in enumerate(PRESCRIPTIONS[:prescriptions]):
        mid = f"med-{ipp}-{index}"
        store.add({"resourceType": "Medication", "id": mid, "code": {"text": medication}})
        store.add(
            {
                "resourceType": "MedicationRequest",
                "id": f"mr-{ipp}-{index}",
                "status": "active",
                "intent": "order",
                "subject": subject,
                "encounter": {"reference": f"Encounter/{eid}"},
                "authoredOn": _iso(now - timedelta(days=2)),
                "medicationReference": {"reference": f"Medication/{mid}"},
                "dosageInstruction": [{"text": dose, "timing": {"repeat": repeat}}],
            }
        )
    for hours in (2, 8):
        for code, display, unit, ucum, value in VITALS:
            store.add(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [VITALS_CATEGORY],
                    "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                    "subject": subject,
                    "effectiveDateTime": _iso(now - timedelta(hours=hours)),
                    "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
                }
            )
    return {"patient": pid, "encounter": eid}


def _allergy(store: SandboxStore, pid: str, substance: str, category: str) -> None:
    store.add(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "category": [category],
            "criticality": "high",
            "code": {"text": substance},
            "patient": {"reference": f"Patient/{pid}"},
        }
    )


@dataclass(frozen=True, kw_only=True)
class ExampleBed:
    location_id: str
    ward: str
    room: str
    bed: str


@dataclass(frozen=True, kw_only=True)
class ExamplePatient:
    """One synthetic patient of the demo: in the sandbox and in the demo ADT feed."""

    n: int
    ipp: str
    visit_number: str
    bed: ExampleBed
    family: str
    given: str
    birth_date: date
    gender: str
    gluten_free: bool
    penicillin_allergy: bool
    prescriptions: int


def example_beds(beds: int = 120) -> list[ExampleBed]:
    """The beds of the example inventory (``wardline.example_hospital``), in order."""
    from wardline.example_hospital import generate

    doc = generate(beds)
    return [
        ExampleBed(
            location_id=bed["fhir_location"], ward=ward["code"], room=room["code"], bed=bed["code"]
        )
        for site in doc["sites"]
        for ward in site["wards"]
        for room in ward["rooms"]
        for bed in room["beds"]
    ]


def example_bed_locations(beds: int = 120) -> list[str]:
    """The FHIR Location ids of the example inventory's beds, in inventory order."""
    return [b.location_id for b in example_beds(beds)]


def example_patient(n: int) -> tuple[str, str]:
    """IPP and visit number of the n-th example patient (what the demo's ADT feed sends)."""
    return f"9{n:05d}", f"V9{n:05d}"


def example_patients(beds: int = 120) -> list[ExamplePatient]:
    """A patient in every other bed of the example inventory."""
    out = []
    for n, bed in enumerate(example_beds(beds)):
        if n % 2:
            continue
        ipp, visit = example_patient(n)
        out.append(
            ExamplePatient(
                n=n,
                ipp=ipp,
                visit_number=visit,
                bed=bed,
                family=FAMILIES[n % len(FAMILIES)],
                given=GIVENS[(n // 2) % len(GIVENS)],
                birth_date=date(1930 + n % 60, 1 + n % 12, 1 + n % 28),
                gender="female" if n % 4 == 0 else "male",
                gluten_free=n % 4 == 0,
                penicillin_allergy=n % 6 == 2,
                prescriptions=2 + n % 3,
            )
        )
    return out


def seed_example(
    store: SandboxStore, locations: list[str] | None = None, now: datetime | None = None
) -> int:
    """Seed the example patients (of the beds whose Location ids are given, default all);
    returns how many."""
    wanted = set(locations) if locations is not None else None
    count = 0
    for p in example_patients(len(locations) if locations is not None else 120):
        if wanted is not None and p.bed.location_id not in wanted:
            continue
        seed_patient(
            store,
            ipp=p.ipp,
            visit_number=p.visit_number,
            location_id=p.bed.location_id,
            family=p.family,
            given=p.given,
            birth_date=p.birth_date,
            gender=p.gender,
            gluten_free=p.gluten_free,
            penicillin_allergy=p.penicillin_allergy,
            prescriptions=p.prescriptions,
            now=now,
        )
        count += 1
    return count
