"""The corpus is valid FHIR R4 for a validator Wardline did not write (Medplum's), and holds
every case the bedside reading rules are about."""

from __future__ import annotations

from collections import Counter

import pytest

from ehr_bridge.sandbox.corpus import CORPUS_PATIENTS, IPP_SYSTEM, corpus_resources, load_corpus
from ehr_bridge.sandbox.store import SandboxStore
from tests.fhir_peer import running_medplum


def test_medplums_validator_accepts_the_whole_corpus_and_refuses_a_broken_resource() -> None:
    with running_medplum() as peer:
        peer.put_all(corpus_resources())
        broken = {"resourceType": "AllergyIntolerance", "id": "x", "criticality": "very-high"}
        with pytest.raises(AssertionError, match="400"):
            peer.put_all([broken])


def test_the_corpus_holds_every_case_of_the_reading_rules() -> None:
    resources = corpus_resources()
    requests = [r for r in resources if r["resourceType"] == "MedicationRequest"]
    dosages = [d for r in requests for d in r.get("dosageInstruction", [])]
    repeats = [d.get("timing", {}).get("repeat", {}) for d in dosages]
    assert {"active", "on-hold", "stopped", "cancelled", "completed", "entered-in-error"} <= {
        r["status"] for r in requests
    }
    assert any(r.get("contained") for r in requests)
    assert any(
        r.get("medicationReference", {}).get("reference", "").startswith("Medication/")
        for r in requests
    )
    assert any("asNeededBoolean" in d for d in dosages)
    assert any("asNeededCodeableConcept" in d for d in dosages)
    assert any("doseRange" in dr for d in dosages for dr in d.get("doseAndRate", []))
    assert any("doseQuantity" in dr for d in dosages for dr in d.get("doseAndRate", []))
    for key in ("timeOfDay", "when", "offset", "boundsPeriod", "count", "frequency"):
        assert any(key in r for r in repeats), key
    assert any(r["status"] == "active" and not r.get("dosageInstruction") for r in requests)
    ipp_800001 = [
        i["system"]
        for r in resources
        if r["resourceType"] == "Patient"
        for i in r["identifier"]
        if i["value"] == "800001"
    ]
    assert IPP_SYSTEM in ipp_800001 and len(set(ipp_800001)) == 2
    allergic = {
        r["patient"]["reference"] for r in resources if r["resourceType"] == "AllergyIntolerance"
    }
    assert "Patient/corpus-zoe" not in allergic
    names = " ".join(p.family + p.given for p in CORPUS_PATIENTS.values())
    assert Counter(c for c in names if not c.isascii())


def test_the_sandbox_serves_the_corpus() -> None:
    store = SandboxStore()
    assert load_corpus(store) == len(corpus_resources())
    found = store.search("Patient", {"identifier": f"{IPP_SYSTEM}|800001"})
    assert [p["id"] for p in found] == ["corpus-helene"]
