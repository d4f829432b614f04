"""What Wardline writes at the bed, posted to a FHIR engine it did not write (Medplum, which
validates every write against the R4 StructureDefinitions) and checked with fhir.resources:
one administration per dose (database constraint on both engines, and the conditional create
on the idempotency identifier), the order's own medication and route, a dose not given with
its coded reason, vital signs with a blood pressure panel, and the server's reason kept when
it refuses the service's credentials."""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from sqlalchemy import func, select

from ehr_bridge.bedside_recording import BedsideRecording
from ehr_bridge.bedside_writes import RPPS_SYSTEM, Subject
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import DoseAlreadyRecorded
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.models import EhrOutbox
from ehr_bridge.outbox import OutboxWorker, items
from ehr_bridge.sandbox.corpus import IPP_SYSTEM, corpus_resources
from tests.ehr_bridge.fhir_fixtures import stay_view
from tests.fhir_peer import MedplumPeer, running_medplum
from wardline.db.engine import Database
from wardline.db.models import AuditEvent
from wardline.domain.audit import AuditLog
from wardline.domain.clinical_record_port import AdministrationInput, GivenDose, VitalsInput
from wardline.domain.commands import Actor

TOKEN = "medplum-secret"
NURSE = Actor(
    name="inf.lambert",
    roles=frozenset({"nurse"}),
    display_name="Inès Lambert",
    rpps="10000000001",
)
NURSE_WITHOUT_RPPS = Actor(name="inf.roux", roles=frozenset({"nurse"}), display_name="Jeanne Roux")
PATIENT, ENCOUNTER = "corpus-helene", "corpus-enc-helene"
SUBJECT = Subject(ipp="800001", patient_id=PATIENT, encounter_id=ENCOUNTER)
DUE = datetime(2026, 3, 27, 11, 0, tzinfo=UTC)  # 12:00 in Paris
AT = DUE + timedelta(minutes=4)


@pytest.fixture(scope="module")
def peer() -> Iterator[MedplumPeer]:
    with running_medplum(token=TOKEN) as running:
        running.put_all(corpus_resources())
        yield running


@dataclass
class Writer:
    db: Database
    recording: BedsideRecording
    worker: OutboxWorker
    peer: MedplumPeer


@pytest.fixture
async def writer(db: Database, peer: MedplumPeer) -> AsyncIterator[Writer]:
    options = EhrOptions(outbox_retry_base_seconds=0.01, outbox_retry_max_seconds=0.05)
    async with aiohttp.ClientSession() as http:
        client = SharedSessionClient(peer.base_url, http, StaticToken(TOKEN), timeout=10)
        worker = OutboxWorker(db, client, options)
        recording = BedsideRecording(db, AuditLog().record, options, lambda: AT, worker)
        yield Writer(db, recording, worker, peer)


def search(peer: MedplumPeer, kind: str, **params: str) -> list[dict[str, Any]]:
    import json

    url = f"{peer.base_url}/{kind}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers=peer.headers())
    with urllib.request.urlopen(request, timeout=30) as reply:
        bundle = json.loads(reply.read())
    return [e["resource"] for e in bundle.get("entry", [])]


def written(peer: MedplumPeer, kind: str, business_id: str) -> list[dict[str, Any]]:
    return search(peer, kind, identifier=f"urn:wardline:bedside-write|{business_id}")


def dose_of(order: str, **extra: Any) -> AdministrationInput:
    values: dict[str, Any] = {
        "order_id": order,
        "due_at": DUE,
        "given": True,
        "at": AT,
        "dose": GivenDose(value=Decimal(1), unit="g"),
    }
    return AdministrationInput(**(values | extra))


async def outbox_rows(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(EhrOutbox)) or 0)


async def test_ten_concurrent_submissions_of_one_dose_make_one_administration(
    writer: Writer,
) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    outcomes = await asyncio.gather(
        *(
            writer.recording.administration(
                stay, SUBJECT, dose_of("corpus-mr-paracetamol"), None, NURSE
            )
            for _ in range(10)
        ),
        return_exceptions=True,
    )
    receipts = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(receipts) == 1
    assert all(isinstance(r, DoseAlreadyRecorded) for r in refused) and len(refused) == 9
    assert await outbox_rows(writer.db) == 1
    async with writer.db.sessions() as s:  # one audit row: the refused attempts wrote nothing
        audited = await s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "ehr.administration")
        )
    assert audited == 1
    [business_id] = receipts[0].business_ids

    assert await writer.worker.deliver_due() == 1
    # The answer lost, the write is sent again: the server's conditional create on the
    # idempotency identifier finds the first one.
    async with writer.db.session() as s:
        row = (await s.scalars(select(EhrOutbox))).one()
        row.state, row.next_attempt_at = "pending", AT - timedelta(seconds=1)
    assert await writer.worker.deliver_due() == 1
    assert len(written(writer.peer, "MedicationAdministration", business_id)) == 1
    # Later, the same dose again: refused before anything is sent.
    with pytest.raises(DoseAlreadyRecorded):
        await writer.recording.administration(
            stay, SUBJECT, dose_of("corpus-mr-paracetamol"), None, NURSE
        )
    assert len(written(writer.peer, "MedicationAdministration", business_id)) == 1


async def test_an_administration_carries_the_orders_medication_dose_route_and_performer(
    writer: Writer,
) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    entry = dose_of(
        "corpus-mr-enoxaparine",
        dose=GivenDose(value=Decimal(4000), unit="[iU]"),
        late_reason="patient au bloc",
    )
    receipt = await writer.recording.administration(stay, SUBJECT, entry, None, NURSE)
    assert await writer.worker.deliver_due() == 1
    [stored] = written(writer.peer, "MedicationAdministration", receipt.business_ids[0])
    MedicationAdministration.model_validate(stored)
    [order] = search(writer.peer, "MedicationRequest", _id="corpus-mr-enoxaparine")
    assert stored["status"] == "completed"
    # The order's contained Medication travels with its reference, unchanged.
    assert stored["medicationReference"] == order["medicationReference"] == {"reference": "#m1"}
    assert stored["contained"][0]["code"] == order["contained"][0]["code"]
    assert stored["dosage"]["route"] == order["dosageInstruction"][0]["route"]
    assert stored["dosage"]["dose"] == {
        "value": 4000,
        "unit": "[iU]",
        "system": "http://unitsofmeasure.org",
        "code": "[iU]",
    }
    assert stored["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert stored["context"] == {"reference": f"Encounter/{ENCOUNTER}"}
    assert stored["request"] == {"reference": "MedicationRequest/corpus-mr-enoxaparine"}
    assert stored["effectiveDateTime"].startswith("2026-03-27T11:04:00")
    assert stored["performer"][0]["actor"]["identifier"] == {
        "system": RPPS_SYSTEM,
        "value": "810000000001",
    }
    assert stored["performer"][0]["actor"]["display"] == "Inès Lambert"
    assert any("patient au bloc" in n["text"] for n in stored["note"])
    assert stored["identifier"] == [
        {"system": "urn:wardline:bedside-write", "value": receipt.business_ids[0]}
    ]


async def test_a_coded_order_keeps_its_coding_and_a_server_medication_its_reference(
    writer: Writer,
) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    # The peer lives for the module: each test names its own doses (same dose, same key).
    later = DUE + timedelta(hours=6)
    coded = await writer.recording.administration(
        stay, SUBJECT, dose_of("corpus-mr-paracetamol", due_at=later), None, NURSE_WITHOUT_RPPS
    )
    referenced = await writer.recording.administration(
        stay,
        SUBJECT,
        dose_of("corpus-mr-insuline", due_at=later, dose=GivenDose(value=Decimal(6), unit="[iU]")),
        None,
        NURSE_WITHOUT_RPPS,
    )
    assert await writer.worker.deliver_due() == 2
    [paracetamol] = written(writer.peer, "MedicationAdministration", coded.business_ids[0])
    [insulin] = written(writer.peer, "MedicationAdministration", referenced.business_ids[0])
    assert paracetamol["medicationCodeableConcept"]["coding"] == [
        {"system": "http://www.whocc.no/atc", "code": "N02BE01", "display": "paracétamol"}
    ]
    assert insulin["medicationReference"]["reference"] == "Medication/corpus-med-insuline"
    # Without an RPPS number the nurse is named, never given a made-up identifier.
    assert paracetamol["performer"][0]["actor"] == {
        "type": "Practitioner",
        "display": "Jeanne Roux",
    }


@pytest.mark.parametrize(
    ("reason", "words", "hl7_code"),
    [("refused", "", None), ("vomited", "", "d"), ("other", "chambre d'isolement", None)],
)
async def test_a_dose_not_given_is_not_done_with_its_coded_reason(
    writer: Writer, reason: str, words: str, hl7_code: str | None
) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    entry = dose_of(
        "corpus-mr-bisoprolol",
        due_at=DUE + timedelta(days=["refused", "vomited", "other"].index(reason)),
        given=False,
        dose=None,
        reason=reason,
        reason_text=words or None,
    )
    receipt = await writer.recording.administration(stay, SUBJECT, entry, None, NURSE)
    assert await writer.worker.deliver_due() == 1
    [stored] = written(writer.peer, "MedicationAdministration", receipt.business_ids[0])
    MedicationAdministration.model_validate(stored)
    assert stored["status"] == "not-done"
    [status_reason] = stored["statusReason"]
    codes = {(c["system"], c["code"]) for c in status_reason["coding"]}
    assert ("urn:wardline:fhir:not-given-reason", reason) in codes
    if hl7_code:
        assert (
            "http://terminology.hl7.org/CodeSystem/reason-medication-not-given",
            hl7_code,
        ) in codes
    assert words in status_reason["text"]
    assert "dosage" not in stored


async def test_a_partial_dose_is_completed_with_the_amount_given_and_why(writer: Writer) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    entry = dose_of(
        "corpus-mr-paracetamol",
        due_at=DUE - timedelta(hours=6),
        dose=GivenDose(value=Decimal("0.5"), unit="g"),
        partial=True,
        reason="vomited",
    )
    receipt = await writer.recording.administration(stay, SUBJECT, entry, None, NURSE)
    assert await writer.worker.deliver_due() == 1
    [stored] = written(writer.peer, "MedicationAdministration", receipt.business_ids[0])
    assert stored["status"] == "completed"
    assert stored["dosage"]["dose"]["value"] == 0.5
    assert any(n["text"].startswith("Dose partielle") for n in stored["note"])


async def test_an_order_of_another_patient_is_never_written_to(writer: Writer) -> None:
    stay = stay_view(ipp="800002", visit="X")
    other = Subject(ipp="800002", patient_id="corpus-zoe", encounter_id=None)
    receipt = await writer.recording.administration(
        stay, other, dose_of("corpus-mr-paracetamol", due_at=DUE + timedelta(hours=12)), None, NURSE
    )
    assert await writer.worker.deliver_due() == 0
    [item] = await items(writer.db)
    assert item.state == "failed" and "not this patient's" in (item.last_error or "")
    assert written(writer.peer, "MedicationAdministration", receipt.business_ids[0]) == []


async def test_vital_signs_are_vital_signs_observations_and_the_pressure_a_panel(
    writer: Writer,
) -> None:
    stay = stay_view(ipp="800001", visit="8000011")
    values = {"systolic": 128.0, "diastolic": 76.0, "spo2": 96.0, "temperature": 37.8}
    receipt = await writer.recording.vitals(stay, SUBJECT, VitalsInput(at=AT, values=values), NURSE)
    assert len(receipt.business_ids) == 3  # the pressure is one Observation
    assert await writer.worker.deliver_due() == 3
    stored = [written(writer.peer, "Observation", b)[0] for b in receipt.business_ids]
    by_code = {o["code"]["coding"][0]["code"]: o for o in stored}
    assert set(by_code) == {"85354-9", "2708-6", "8310-5"}
    for observation in stored:
        Observation.model_validate(observation)
        assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
        assert observation["encounter"] == {"reference": f"Encounter/{ENCOUNTER}"}
        assert observation["performer"][0]["identifier"]["value"] == "810000000001"
    panel = by_code["85354-9"]
    assert "valueQuantity" not in panel
    assert [
        (c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
        for c in panel["component"]
    ] == [("8480-6", 128, "mm[Hg]"), ("8462-4", 76, "mm[Hg]")]
    assert by_code["8310-5"]["valueQuantity"]["code"] == "Cel"
    assert by_code["2708-6"]["valueQuantity"]["system"] == "http://unitsofmeasure.org"


async def test_credentials_refused_keep_the_servers_reason_for_the_admin(
    db: Database, peer: MedplumPeer
) -> None:
    options = EhrOptions(outbox_retry_base_seconds=0.01)
    async with aiohttp.ClientSession() as http:
        client = SharedSessionClient(peer.base_url, http, StaticToken("not-the-secret"))
        worker = OutboxWorker(db, client, options)
        recording = BedsideRecording(db, AuditLog().record, options, lambda: AT, worker)
        stay = stay_view(ipp="800001", visit="8000011")
        await recording.administration(stay, SUBJECT, dose_of("corpus-mr-oxazepam"), None, NURSE)
        assert await worker.deliver_due() == 0
    [item] = await items(db)
    assert item.state == "pending"  # kept and retried once the settings are fixed
    assert "Invalid secret" in (item.last_error or "")


@pytest.mark.parametrize("ipp_system", [IPP_SYSTEM, None])
async def test_a_subject_resolved_late_is_the_one_patient_of_the_ipp_system(
    db: Database, peer: MedplumPeer, ipp_system: str | None
) -> None:
    """Queued before the record was ever read: the Patient is found by the IPP with its
    system; the corpus holds a homonym with the same value in another system."""
    options = EhrOptions(ipp_system=ipp_system)
    async with aiohttp.ClientSession() as http:
        client = SharedSessionClient(peer.base_url, http, StaticToken(TOKEN))
        worker = OutboxWorker(db, client, options)
        recording = BedsideRecording(db, AuditLog().record, options, lambda: AT, worker)
        unknown = Subject(ipp="800001", patient_id=None, encounter_id=None)
        due = DUE + timedelta(days=30, hours=1 if ipp_system else 2)
        receipt = await recording.administration(
            stay_view(ipp="800001", visit="8000011"),
            unknown,
            dose_of("corpus-mr-paracetamol", due_at=due),
            None,
            NURSE,
        )
        delivered = await worker.deliver_due()
    [item] = await items(db) or [None]
    if ipp_system:
        assert delivered == 1 and item is None
        [stored] = written(peer, "MedicationAdministration", receipt.business_ids[0])
        assert stored["subject"] == {"reference": f"Patient/{PATIENT}"}
    else:  # two patients carry 800001: never the first one taken
        assert delivered == 0 and item is not None and item.state == "failed"
        assert "identity to be checked" in (item.last_error or "")
        assert written(peer, "MedicationAdministration", receipt.business_ids[0]) == []
