"""FHIR resources to the bedside record: real shapes, and any malformed JSON gives one clear
error instead of a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ehr_bridge import fhir_mapping as fm
from ehr_bridge.errors import FhirRefused
from ehr_bridge.sandbox.seed import seed_patient
from ehr_bridge.sandbox.store import SandboxStore

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "family",
                    "given",
                    "code",
                    "coding",
                    "text",
                    "timing",
                    "repeat",
                    "frequency",
                    "period",
                    "periodUnit",
                    "timeOfDay",
                    "when",
                    "valueQuantity",
                    "value",
                    "component",
                    "status",
                    "request",
                    "reference",
                    "effectiveDateTime",
                    "oralDiet",
                    "type",
                    "identifier",
                    "clinicalStatus",
                    "dosageInstruction",
                    "birthDate",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
resources = st.lists(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "code",
                "name",
                "status",
                "dosageInstruction",
                "valueQuantity",
                "component",
                "request",
                "effectiveDateTime",
                "medicationReference",
                "patient",
            ]
        ),
        json_values,
        max_size=5,
    ),
    max_size=3,
)


def build(**parts: Any) -> Any:
    base: dict[str, Any] = {
        "visit_number": "V1",
        "patient": {"id": "p"},
        "allergies": [],
        "diets": [],
        "prescriptions": [],
        "medications": {},
        "observations": [],
        "administrations": [],
        "fetched_at": NOW,
    }
    base.update(parts)
    return fm.bedside_record(**base)


def test_seeded_resources_map_to_the_record() -> None:
    store = SandboxStore()
    seed_patient(store, ipp="1", visit_number="V1", gluten_free=True, now=NOW)
    record = build(
        patient=store.get("Patient", "pat-1"),
        allergies=store.all("AllergyIntolerance"),
        diets=store.all("NutritionOrder"),
        prescriptions=store.all("MedicationRequest"),
        medications={f"Medication/{m['id']}": m for m in store.all("Medication")},
        observations=store.all("Observation"),
    )
    assert record.patient.gluten_free
    assert [o.timings[0].times_of_day for o in record.orders][1][0].hour == 8
    assert record.vitals[0].taken_at is not None


@settings(max_examples=120, deadline=None)
@given(json_values, resources, resources, resources)
def test_malformed_resources_never_crash(
    patient: Any, prescriptions: Any, observations: Any, given_: Any
) -> None:
    with contextlib.suppress(FhirRefused):
        build(
            patient=patient if isinstance(patient, dict) else {"name": patient},
            prescriptions=prescriptions,
            observations=observations,
            administrations=given_,
            allergies=prescriptions,
            diets=observations,
        )
