"""The order reading rules as pure functions (no server)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ehr_bridge import fhir_orders as fo
from ehr_bridge.fhir_mapping import KNOWN_WHEN

UCUM = fo.UCUM


def request(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "mr",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicilline 1 g"},
        "dosageInstruction": [{"timing": {"repeat": {"timeOfDay": ["08:00:00"]}}}],
    }
    base.update(fields)
    return base


def read(**fields: Any) -> Any:
    return fo.order(request(**fields), {}, KNOWN_WHEN)


def test_status_and_intent_decide_what_is_shown() -> None:
    assert read().status == "active"
    assert read(status="on-hold").status == "on_hold"
    for status in ("stopped", "cancelled", "completed", "entered-in-error", "draft", None):
        assert read(status=status) is None, status
    for intent in ("proposal", "plan", "option", "directive"):
        assert read(intent=intent) is None, intent
    assert read(intent="original-order") is not None


def test_a_dose_needs_a_ucum_unit_to_be_machine_readable() -> None:
    def dosed(quantity: dict[str, Any], kind: str = "ordered") -> Any:
        typed = {"type": {"coding": [{"system": "x", "code": kind}]}, "doseQuantity": quantity}
        return read(dosageInstruction=[{"doseAndRate": [typed], "timing": {"code": {}}}])

    assert dosed(
        {"value": 2, "unit": "mL", "system": UCUM, "code": "mL"}
    ).ordered_dose.quantity.value == Decimal("2")
    no_ucum = dosed({"value": 2, "unit": "cuillère"})
    assert no_ucum.ordered_dose is None and no_ucum.dose == ""
    calculated = read(
        dosageInstruction=[
            {
                "doseAndRate": [
                    {
                        "type": {"coding": [{"system": "x", "code": "calculated"}]},
                        "doseQuantity": {"value": 9, "system": UCUM, "code": "mg"},
                    },
                    {
                        "type": {"coding": [{"system": "x", "code": "ordered"}]},
                        "doseQuantity": {"value": 10, "system": UCUM, "code": "mg"},
                    },
                ]
            }
        ]
    )
    assert calculated.ordered_dose.quantity.value == 10
    assert calculated.dose == "10 mg"  # no text: the structured dose is what the nurse reads


def test_a_range_with_one_end() -> None:
    order = read(
        dosageInstruction=[
            {"doseAndRate": [{"doseRange": {"high": {"value": 2, "system": UCUM, "code": "g"}}}]}
        ]
    )
    assert order.ordered_dose.is_range and order.ordered_dose.low is None
    assert order.dose == "… – 2 g"


def test_what_cannot_be_scheduled_is_to_clarify_never_dropped() -> None:
    unknown_when = read(dosageInstruction=[{"timing": {"repeat": {"when": ["PHS"]}}}])
    monthly = read(
        dosageInstruction=[
            {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}}}
        ]
    )
    code_only = read(dosageInstruction=[{"timing": {"code": {"text": "BID"}}}])
    unresolved = read(
        medicationCodeableConcept=None,
        medicationReference={"reference": "Medication/gone", "display": "Héparine"},
    )
    for order in (unknown_when, monthly, code_only, unresolved):
        assert order is not None and order.to_clarify
    assert unresolved.medication == "Héparine"
    assert not read().to_clarify


def test_as_needed_forms() -> None:
    boolean = read(dosageInstruction=[{"asNeededBoolean": True}])
    concept = read(dosageInstruction=[{"asNeededCodeableConcept": {"text": "Nausées"}}])
    not_needed = read(
        dosageInstruction=[
            {"asNeededBoolean": False, "timing": {"repeat": {"timeOfDay": ["09:00:00"]}}}
        ]
    )
    assert (boolean.as_needed, boolean.to_clarify) == (True, False)
    assert (concept.as_needed, concept.as_needed_reason) == (True, "Nausées")
    assert not not_needed.as_needed and not_needed.timings[0].times_of_day


def test_a_contained_medication_is_found_by_its_local_reference() -> None:
    order = read(
        medicationCodeableConcept=None,
        contained=[{"resourceType": "Medication", "id": "m1", "code": {"text": "Énoxaparine"}}],
        medicationReference={"reference": "#m1"},
    )
    assert order.medication == "Énoxaparine" and not order.to_clarify
    assert fo.medication_references([request(medicationReference={"reference": "#m1"})]) == set()
    assert fo.medication_references(
        [request(medicationReference={"reference": "https://ehr/fhir/Medication/m9/_history/2"})]
    ) == {"Medication/m9"}


def test_an_unreadable_active_order_is_kept_to_clarify() -> None:
    broken = request(
        id="mr-broken",
        dosageInstruction=[{"doseAndRate": [{"doseQuantity": 5}]}],
        contained=7,
        medicationReference={"reference": "#x"},
    )
    broken.pop("medicationCodeableConcept")
    stopped = dict(broken, id="mr-stopped", status="stopped")
    [kept] = fo.orders([broken, stopped], {}, KNOWN_WHEN)
    assert (kept.order_id, kept.to_clarify, kept.medication) == ("mr-broken", True, "?")
