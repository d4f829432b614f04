"""Allergies by system and code, never by display: the real FHIR engine (Medplum) with the
corpus, and the rules as pure functions."""

from __future__ import annotations

from typing import Any

from ehr_bridge import fhir_mapping as fm
from ehr_bridge.fhir_client import SharedSessionClient
from tests.ehr_bridge.fhir_fixtures import corpus_stay
from tests.ehr_bridge.medplum_fixtures import corpus_records, fhir, medplum

__all__ = ["fhir", "medplum"]


async def test_active_allergies_with_criticality_and_reactions(fhir: SharedSessionClient) -> None:
    record = await corpus_records(fhir).get(corpus_stay("helene"))
    banner = record.patient
    assert banner.allergy_status == "recorded"
    by_code = {a.code.code: a for a in banner.allergies if a.code}
    assert set(by_code) == {"764146007", "256349002"}  # latex (in error), iodine (refuted) out
    penicillin = by_code["764146007"]
    assert penicillin.substance == "Pénicillines"
    assert penicillin.code is not None and penicillin.code.system == fm.SNOMED
    assert (penicillin.criticality, penicillin.verification) == ("high", "confirmed")
    assert penicillin.reactions[0].manifestations == ("Choc anaphylactique",)
    assert penicillin.reactions[0].severity == "severe"
    assert by_code["256349002"].category == "food"


async def test_no_allergy_data_is_a_warning_not_none(fhir: SharedSessionClient) -> None:
    zoe = await corpus_records(fhir).get(corpus_stay("zoe"))
    aime = await corpus_records(fhir).get(corpus_stay("aime"))
    assert (zoe.patient.allergies, zoe.patient.allergy_status) == ((), "not_recorded")
    assert (aime.patient.allergies, aime.patient.allergy_status) == ((), "no_known_allergy")


def _allergy(clinical: Any = None, verification: Any = None, **more: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "AllergyIntolerance", "code": {"text": "X"}}
    if clinical is not None:
        resource["clinicalStatus"] = clinical
    if verification is not None:
        resource["verificationStatus"] = verification
    resource.update(more)
    return resource


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def test_statuses_are_read_by_system_and_code_never_by_display() -> None:
    shown = [
        _allergy(_coded(fm.CLINICAL, "active", "Active")),
        _allergy(_coded(fm.CLINICAL, "active", "Actif")),
        _allergy({"text": "inactive"}),  # a text is not a code: never hidden on its account
        _allergy(_coded("urn:local", "resolved", "resolved")),  # another system's code
        _allergy(
            _coded(fm.CLINICAL, "active", "x"), _coded(fm.VERIFICATION, "confirmed", "Refuted")
        ),
        _allergy(verification=_coded(fm.VERIFICATION, "unconfirmed", "Unconfirmed")),
        _allergy(),
    ]
    hidden = [
        _allergy(_coded(fm.CLINICAL, "resolved", "Active")),
        _allergy(_coded(fm.CLINICAL, "inactive", "Inactive")),
        _allergy(verification=_coded(fm.VERIFICATION, "entered-in-error", "Confirmed")),
        _allergy(_coded(fm.CLINICAL, "active", "Active"), _coded(fm.VERIFICATION, "refuted", "")),
    ]
    assert all(fm.current_allergy(a) for a in shown)
    assert not any(fm.current_allergy(a) for a in hidden)
    listed, status = fm.allergies(shown + hidden)
    assert (len(listed), status) == (len(shown), "recorded")


def test_no_known_allergy_is_coded_and_yields_to_a_real_allergy() -> None:
    nka = _allergy(code=_coded(fm.SNOMED, "716186003", "No known allergy"))
    nka_as_text = _allergy(code={"text": "No known allergy"})
    assert fm.allergies([nka]) == ((), "no_known_allergy")
    assert fm.allergies([]) == ((), "not_recorded")
    listed, status = fm.allergies([nka_as_text])
    assert status == "recorded" and listed[0].substance == "No known allergy"
    listed, status = fm.allergies([nka, _allergy(code=_coded(fm.SNOMED, "764146007", "P"))])
    assert status == "recorded" and [a.substance for a in listed] == ["P"]
