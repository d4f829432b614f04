"""Bedside writes: validated, queued with their audit row, delivered exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.clinical_record import EhrClinicalRecord
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import InvalidResource
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.models import EhrOutbox
from ehr_bridge.outbox import OutboxWorker
from ehr_bridge.sandbox.seed import seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.ehr_bridge.conftest import Hospital
from tests.ehr_bridge.fhir_fixtures import stay_view
from wardline.db.models import AuditEvent
from wardline.domain.clinical_record_port import AdministrationInput, GivenDose, VitalsInput
from wardline.domain.commands import Actor

TOKEN = "t0ken"
NURSE = Actor(name="nurse.dupont", roles=frozenset({"nurse"}))
NOW = datetime.now(UTC)


@dataclass
class Bedside:
    sandbox: RunningSandbox
    record: EhrClinicalRecord
    worker: OutboxWorker
    hospital: Hospital


@pytest.fixture
async def bedside(hospital: Hospital) -> AsyncIterator[Bedside]:
    store = SandboxStore()
    seed_patient(store, ipp="100001", visit_number="V100001", location_id="loc-cardio-101-a")
    sandbox = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await sandbox.start()
    options = EhrOptions(outbox_retry_base_seconds=0.01, outbox_retry_max_seconds=0.05)
    async with aiohttp.ClientSession() as http:
        client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN), timeout=2)
        worker = OutboxWorker(hospital.db, client, options)
        records = BedsideRecords(client, options, ttl_seconds=60)
        record = EhrClinicalRecord(
            hospital.db, records, hospital.audit.record, options, worker=worker
        )
        try:
            yield Bedside(sandbox, record, worker, hospital)
        finally:
            await sandbox.stop()


def given(
    order: str = "mr-100001-0", at: datetime = NOW, ok: bool = True, reason: str | None = None
) -> AdministrationInput:
    return AdministrationInput(
        order_id=order,
        due_at=None,
        given=ok,
        at=at,
        reason=reason,  # type: ignore[arg-type]
        dose=GivenDose(value=Decimal(5), unit="mg") if ok else None,
    )


async def count(h: Hospital, model: type, *where: object) -> int:
    async with h.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_written_while_ehr_down_then_delivered_exactly_once(bedside: Bedside) -> None:
    stay = stay_view()
    await bedside.record.record_for_stay(stay)  # the nurse opened the record earlier
    await bedside.sandbox.stop()
    receipts = [
        await bedside.record.record_administration(
            stay, given(at=NOW - timedelta(minutes=m)), NURSE
        )
        for m in (1, 2, 3)
    ]
    await bedside.record.record_vitals(
        stay, VitalsInput(at=NOW, values={"heart_rate": 82, "temperature": 37.9}), NURSE
    )
    assert await bedside.worker.deliver_due() == 0  # unreachable: kept, retried later
    pending = await bedside.record.outbox_state("V100001")
    assert len(pending) == 5 and {p.state for p in pending} == {"pending"}
    assert all(p.attempts == 1 and p.last_error for p in pending)
    assert await count(bedside.hospital, AuditEvent, AuditEvent.action == "ehr.administration") == 3

    await bedside.sandbox.start()
    import asyncio

    for _ in range(50):
        await bedside.worker.deliver_due()
        if not await bedside.record.outbox_state():
            break
        await asyncio.sleep(0.02)
    store = bedside.sandbox.store
    assert store.created["MedicationAdministration"] == 3
    assert store.created["Observation"] == 2
    # a retry of an already delivered write (its answer lost) creates nothing
    async with bedside.hospital.db.session() as s:
        row = (
            await s.scalars(
                select(EhrOutbox).where(EhrOutbox.business_id == receipts[0].business_ids[0])
            )
        ).one()
        row.state = "pending"
        row.next_attempt_at = NOW - timedelta(seconds=1)
    assert await bedside.worker.deliver_due() == 1
    assert store.created["MedicationAdministration"] == 3
    ids = {r.get("identifier")[0]["value"] for r in store.all("MedicationAdministration")}
    assert {r.business_ids[0] for r in receipts} <= ids


async def test_refused_write_shows_the_server_reason(bedside: Bedside) -> None:
    from wardline.bus import EventBus
    from wardline.domain.ehr_events import BedsideWriteRefused

    bus = EventBus()
    refused: list[BedsideWriteRefused] = []

    async def on_refused(event: BedsideWriteRefused) -> None:
        refused.append(event)

    bus.subscribe(BedsideWriteRefused, on_refused, name="test")
    await bus.start()
    bedside.worker.bus = bus
    stranger = stay_view(ipp="100001", visit="V100001")
    await bedside.record.record_for_stay(stranger)
    bedside.record.records.subjects["V100001"] = ("ghost", None)  # the EHR will refuse it
    await bedside.record.record_vitals(
        stranger, VitalsInput(at=NOW, values={"heart_rate": 80}), NURSE
    )
    # An administration is not even sent: its order is not this (ghost) patient's.
    await bedside.record.record_administration(stranger, given(), NURSE)
    assert await bedside.worker.deliver_due() == 0
    vitals, administration = await bedside.record.outbox_state("V100001")
    assert vitals.state == "failed" and "Patient/ghost" in (vitals.last_error or "")
    assert administration.state == "failed"
    assert "not this patient's" in (administration.last_error or "")
    await bus.drain()
    await bus.stop()
    assert [(e.visit_number, e.business_id, e.kind) for e in refused] == [
        ("V100001", vitals.business_id, "vitals"),
        ("V100001", administration.business_id, "administration"),
    ]
    assert await bedside.worker.deliver_due() == 0  # not retried
    assert bedside.sandbox.store.created["MedicationAdministration"] == 0
    assert bedside.sandbox.store.created["Observation"] == 0


async def test_subject_resolved_by_ipp_when_never_fetched(bedside: Bedside) -> None:
    stay = stay_view()
    await bedside.sandbox.stop()
    await bedside.record.record_administration(stay, given(), NURSE)  # no record, no FHIR id
    await bedside.sandbox.start()
    assert await bedside.worker.deliver_due() == 1
    [resource] = bedside.sandbox.store.all("MedicationAdministration")
    assert resource["subject"] == {"reference": "Patient/pat-100001"}


async def test_several_matches_on_the_server_are_not_duplicated_again(bedside: Bedside) -> None:
    stay = stay_view()
    receipt = await bedside.record.record_administration(stay, given(), NURSE)
    ident = {"system": "urn:wardline:bedside-write", "value": receipt.business_ids[0]}
    for _ in range(2):
        bedside.sandbox.store.add(
            {
                "resourceType": "MedicationAdministration",
                "identifier": [ident],
                "status": "completed",
                "subject": {"reference": "Patient/pat-100001"},
            }
        )
    assert await bedside.worker.deliver_due() == 1
    assert bedside.sandbox.store.created["MedicationAdministration"] == 0
    async with bedside.hospital.db.sessions() as s:
        row = (await s.scalars(select(EhrOutbox))).one()
        assert row.state == "delivered" and "several" in (row.last_error or "")


@pytest.mark.parametrize(
    ("write", "error_id"),
    [
        (
            AdministrationInput(
                order_id="mr-100001-0", due_at=None, given=False, at=NOW, reason="bored"
            ),
            "fhir.invalid_reason",
        ),
        (
            AdministrationInput(
                order_id="mr-100001-0", due_at=None, given=True, at=NOW.replace(tzinfo=None)
            ),
            "fhir.invalid_resource",
        ),
        (VitalsInput(at=NOW, values={"heart_rate": 900}), "fhir.implausible_value"),
        (VitalsInput(at=NOW, values={"mood": 3}), "fhir.invalid_code"),
    ],
)
async def test_invalid_writes_are_refused_before_queueing(
    bedside: Bedside, write: object, error_id: str
) -> None:
    stay = stay_view()
    with pytest.raises(InvalidResource) as info:
        if isinstance(write, AdministrationInput):
            await bedside.record.record_administration(stay, write, NURSE)
        else:
            assert isinstance(write, VitalsInput)
            await bedside.record.record_vitals(stay, write, NURSE)
    assert info.value.error_id == error_id
    assert await count(bedside.hospital, EhrOutbox) == 0
    assert await count(bedside.hospital, AuditEvent, AuditEvent.action.like("ehr.%")) == 0


async def test_schedule_shows_a_dose_given_at_the_bed_before_delivery(bedside: Bedside) -> None:
    stay = stay_view()
    record = await bedside.record.record_for_stay(stay)
    bisoprolol = next(o for o in record.orders if o.medication.startswith("Bisoprolol"))
    tz = bedside.record.ward.timezone
    today = datetime.now(tz).date()
    due = datetime.combine(today, time(8), tzinfo=tz)
    before = await bedside.record.medication_schedule(stay, today)
    dose = next(d for d in before if d.order_id == bisoprolol.order_id)
    assert dose.state in {"due", "overdue"} and dose.due_at == due
    await bedside.sandbox.stop()  # recorded while the EHR is away
    await bedside.record.record_administration(
        stay,
        AdministrationInput(
            order_id=bisoprolol.order_id,
            due_at=due,
            given=True,
            at=due + timedelta(minutes=5),
            dose=GivenDose(value=Decimal(5), unit="mg"),
        ),
        NURSE,
    )
    after = await bedside.record.medication_schedule(stay, today)
    dose = next(d for d in after if d.order_id == bisoprolol.order_id)
    assert dose.state == "given"


async def test_background_worker_delivers_when_the_ehr_returns(bedside: Bedside) -> None:
    import asyncio
    import contextlib

    from tests.services import wait_until

    stay = stay_view()
    await bedside.sandbox.stop()
    task = asyncio.create_task(bedside.worker.run())
    try:
        await bedside.record.record_administration(stay, given(), NURSE)
        await bedside.record.record_vitals(stay, VitalsInput(at=NOW, values={"spo2": 95}), NURSE)
        await wait_until(lambda: bedside.worker.last_error is not None)
        await bedside.sandbox.start()
        store = bedside.sandbox.store
        await wait_until(
            lambda: (
                store.created["MedicationAdministration"] == 1 and store.created["Observation"] == 1
            ),
            timeout=10,
        )
        await wait_until(lambda: bedside.worker.delivered == 2)
        assert await bedside.record.outbox_state() == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert bedside.sandbox.store.created["MedicationAdministration"] == 1


async def test_wrong_wristband_records_nothing(bedside: Bedside) -> None:
    from ehr_bridge.errors import WrongPatient

    entry = AdministrationInput(
        order_id="mr-100001-0",
        due_at=None,
        given=True,
        at=NOW,
        scanned_patient_id="999999",
        dose=GivenDose(value=Decimal(5), unit="mg"),
    )
    with pytest.raises(WrongPatient):
        await bedside.record.record_administration(stay_view(), entry, NURSE)
    assert await count(bedside.hospital, EhrOutbox) == 0
    right = AdministrationInput(
        order_id="mr-100001-0",
        due_at=None,
        given=True,
        at=NOW,
        scanned_patient_id="100001",
        dose=GivenDose(value=Decimal(5), unit="mg"),
    )
    await bedside.record.record_administration(stay_view(), right, NURSE)
    assert await count(bedside.hospital, EhrOutbox) == 1


async def test_minimal_replies_still_give_the_server_id(bedside: Bedside) -> None:
    """201 with only a Location; then, for a retry, 200 with neither body nor Location."""
    store = bedside.sandbox.store
    store.minimal_replies = True
    receipt = await bedside.record.record_administration(stay_view(), given(), NURSE)
    assert await bedside.worker.deliver_due() == 1
    [created] = store.all("MedicationAdministration")
    async with bedside.hospital.db.session() as s:
        row = (await s.scalars(select(EhrOutbox))).one()
        assert row.server_id == created["id"]
        assert row.business_id == receipt.business_ids[0]
        row.state, row.server_id = "pending", None  # as if the answer had been lost
    assert await bedside.worker.deliver_due() == 1
    async with bedside.hospital.db.sessions() as s:
        row = (await s.scalars(select(EhrOutbox))).one()
        assert row.state == "delivered" and row.server_id == created["id"]
    assert store.created["MedicationAdministration"] == 1


@pytest.mark.postgres
async def test_outbox_on_postgresql(tmp_path: Any) -> None:
    from tests.ehr_bridge.conftest import open_hospital
    from tests.services import fresh_postgres_database

    store = SandboxStore()
    seed_patient(store, ipp="100001", visit_number="V100001")
    sandbox = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await sandbox.start()
    async with fresh_postgres_database() as url:
        h = await open_hospital(url, tmp_path)
        try:
            async with aiohttp.ClientSession() as http:
                client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
                options = EhrOptions()
                worker = OutboxWorker(h.db, client, options)
                record = EhrClinicalRecord(
                    h.db, BedsideRecords(client, options, 60), h.audit.record, options
                )
                await record.record_administration(stay_view(), given(), NURSE)
                await record.record_vitals(
                    stay_view(),
                    VitalsInput(at=NOW, values={"systolic": 128, "diastolic": 76}),
                    NURSE,
                )
                assert await worker.deliver_due() == 2  # the pressure is one panel
                assert await worker.deliver_due() == 0
            assert await count(h, AuditEvent, AuditEvent.action.like("ehr.%")) == 2
        finally:
            await h.db.dispose()
            await sandbox.stop()
    assert store.created["MedicationAdministration"] == 1 and store.created["Observation"] == 1
    [panel] = [o for o in store.all("Observation") if o["code"]["coding"][0]["code"] == "85354-9"]
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
