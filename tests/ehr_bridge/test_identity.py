"""Identity, never a guess: exactly one Patient by IPP system and value, birth date and
qualified INS agree, the visit's Encounter is that Patient's. Against the real FHIR engine
(Medplum) holding the corpus, and as pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from ehr_bridge import identity
from ehr_bridge.errors import NotConfigured
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.identity import IdentityToBeChecked
from ehr_bridge.sandbox.corpus import IPP_SYSTEM
from tests.conftest import Hospital
from tests.ehr_bridge.fhir_fixtures import corpus_stay
from tests.ehr_bridge.medplum_fixtures import corpus_records, fhir, medplum

__all__ = ["fhir", "medplum"]


async def test_the_patient_is_the_one_with_the_ipp_in_the_hospitals_system(
    fhir: SharedSessionClient,
) -> None:
    records = corpus_records(fhir)
    record = await records.get(corpus_stay("helene"))
    assert record.patient.family_name == "Lefèvre-Bérard"
    assert records.subjects["8000011"] == ("corpus-helene", "corpus-enc-helene")
    # the homonym (same IPP value, another system) lent nothing to the record
    assert "Aspirine" not in {a.substance for a in record.patient.allergies}
    assert "Warfarine 5 mg comprimé" not in {o.medication for o in record.orders}
    assert records.alerts == {}


@pytest.mark.parametrize(
    ("key", "changes", "reason"),
    [
        ("ines", {}, "patient.several"),
        ("helene", {"ipp": "8000999"}, "patient.unknown"),
        ("francois", {}, "encounter.subject"),
        ("helene", {"birth_date": date(1948, 5, 18)}, "patient.birth_date"),
        ("helene", {"birth_date": None}, "patient.birth_date"),
        ("helene", {"ins": "248057512345679"}, "patient.ins"),
    ],
)
async def test_a_disagreement_shows_nothing_and_opens_an_alert(
    fhir: SharedSessionClient, key: str, changes: dict[str, object], reason: str
) -> None:
    records = corpus_records(fhir)
    opened: list[str] = []

    async def hook(stay: object, exc: IdentityToBeChecked) -> None:
        opened.append(exc.reason)

    records.on_identity_problem = hook
    stay = corpus_stay(key, **changes)
    for _ in range(2):
        with pytest.raises(IdentityToBeChecked) as refused:
            await records.get(stay)
        assert refused.value.error_id == "ehr.identity_to_be_checked"
        assert refused.value.reason == reason
    assert opened == [reason]  # one audit row per alert, not one per page load
    assert records.alerts[stay.visit_number].reason == reason
    assert stay.visit_number not in records.subjects
    with pytest.raises(IdentityToBeChecked):
        records.require_identity(stay.visit_number)  # writes are refused too


async def test_the_alert_closes_when_the_identities_agree_again(
    fhir: SharedSessionClient,
) -> None:
    records = corpus_records(fhir)
    with pytest.raises(IdentityToBeChecked):
        await records.get(corpus_stay("helene", birth_date=date(1948, 5, 18)))
    record = await records.get(corpus_stay("helene"))
    assert record.patient.birth_date == date(1948, 5, 17)
    assert records.alerts == {}
    records.require_identity("8000011")


async def test_without_the_ipp_system_nothing_is_read(fhir: SharedSessionClient) -> None:
    records = corpus_records(fhir, ipp_system=None)
    with pytest.raises(NotConfigured) as refused:
        await records.get(corpus_stay("helene"))
    assert "WARDLINE_EHR_IPP_SYSTEM" in refused.value.message
    assert fhir.requests == 0


def _patient(pid: str, system: str, value: str = "800001") -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": system, "value": value}],
    }


def test_a_search_answer_is_filtered_by_system_again() -> None:
    stay = corpus_stay("helene")
    # a server that ignored the system in the search would hand both back
    found = [_patient("other", "urn:oid:9"), _patient("mine", IPP_SYSTEM)]
    assert identity.the_patient(found, stay, IPP_SYSTEM) == found[1]
    with pytest.raises(IdentityToBeChecked) as unknown:
        identity.the_patient(found[:1], stay, IPP_SYSTEM)  # only the other system's homonym
    assert unknown.value.reason == "patient.unknown"
    with pytest.raises(IdentityToBeChecked):
        identity.the_patient([found[1], _patient("twin", IPP_SYSTEM)], stay, IPP_SYSTEM)


def test_ins_and_encounter_rules() -> None:
    stay = corpus_stay("helene")
    patient = {"birthDate": "1948-05-17", "identifier": []}
    identity.check_patient(patient, stay)  # no INS on the EHR side: nothing disagrees
    patient["identifier"] = [{"system": identity.INS_SYSTEM, "value": "1" * 15}]
    with pytest.raises(IdentityToBeChecked):
        identity.check_patient(patient, stay)
    identity.check_encounter({"subject": {"reference": "Patient/p1"}}, "p1", stay)
    identity.check_encounter(
        {"subject": {"reference": "https://ehr.example/fhir/Patient/p1/_history/3"}}, "p1", stay
    )
    for subject in ({"reference": "Patient/p2"}, {"reference": "Group/p1"}, None):
        with pytest.raises(IdentityToBeChecked):
            identity.check_encounter({"subject": subject}, "p1", stay)


async def test_on_medplum_an_alert_writes_one_audit_row_and_refuses_writes(
    fhir: SharedSessionClient, hospital: Hospital
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from ehr_bridge.clinical_record import EhrClinicalRecord
    from ehr_bridge.models import EhrOutbox
    from wardline.db.models import AuditEvent
    from wardline.domain.clinical_record_port import VitalsInput
    from wardline.domain.commands import Actor

    records = corpus_records(fhir)
    record = EhrClinicalRecord(hospital.db, records, hospital.audit.record, records.options)
    stay = corpus_stay("francois")
    for _ in range(3):
        with pytest.raises(IdentityToBeChecked):
            await record.record_for_stay(stay)
    with pytest.raises(IdentityToBeChecked):
        await record.record_vitals(
            stay,
            VitalsInput(at=datetime(2026, 3, 29, 10, tzinfo=UTC), values={"heart_rate": 72}),
            Actor(name="nina", roles=frozenset({"nurse"})),
        )
    async with hospital.db.sessions() as s:
        rows = list(
            await s.scalars(
                select(AuditEvent).where(AuditEvent.action == "ehr.identity_to_be_checked")
            )
        )
        outbox = await s.scalar(select(func.count()).select_from(EhrOutbox))
    assert [(r.subject_id, r.details["reason"]) for r in rows] == [("8000021", "encounter.subject")]
    assert outbox == 0
    assert [(a.visit_number, a.reason) for a in record.identity_alerts()] == [
        ("8000021", "encounter.subject")
    ]
