"""The outbox under its lease, two instances on one real PostgreSQL and the FHIR sandbox over
HTTP: a paused former holder may still send a write (its conditional create), but its
settlement is refused by the fence; the holder settles it, and the EHR holds it once."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.clinical_record import EhrClinicalRecord
from ehr_bridge.config import EhrOptions
from ehr_bridge.fhir_auth import StaticToken
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.models import EhrOutbox
from ehr_bridge.outbox import OutboxWorker
from ehr_bridge.sandbox.seed import seed_patient
from ehr_bridge.sandbox.server import RunningSandbox, SandboxAuth
from ehr_bridge.sandbox.store import SandboxStore
from tests.cluster.test_leases import pause
from tests.ehr_bridge.conftest import open_hospital
from tests.ehr_bridge.fhir_fixtures import stay_view
from tests.ehr_bridge.test_outbox import NURSE, TOKEN, given
from tests.services import fresh_postgres_database, need_postgres, wait_until
from wardline.cluster.leases import OUTBOX, LeaseLost, Leases
from wardline.db.engine import Database

TTL = 1.5


async def states(db: Database) -> list[tuple[str, int]]:
    async with db.sessions() as s:
        return [(r.state, r.attempts) for r in await s.scalars(select(EhrOutbox))]


async def test_a_stale_holders_delivery_is_not_settled_nor_duplicated(
    tmp_path: Path, migrated_templates: dict[str, str]
) -> None:
    need_postgres()
    store = SandboxStore()
    seed_patient(store, ipp="100001", visit_number="V100001")
    sandbox = RunningSandbox(store, SandboxAuth(token=TOKEN))
    await sandbox.start()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        h = await open_hospital(url, tmp_path, migrated=True)
        a = Leases(Database(url), "a", ttl=TTL, renew=TTL / 4)
        b = Leases(Database(url), "b", ttl=TTL, renew=TTL / 4)
        await a.start()
        await b.start()
        try:
            async with aiohttp.ClientSession() as http:
                client = SharedSessionClient(sandbox.url, http, StaticToken(TOKEN))
                options = EhrOptions()
                worker_a = OutboxWorker(a.db, client, options, lease=a.duty(OUTBOX))
                worker_b = OutboxWorker(b.db, client, options, lease=b.duty(OUTBOX))
                record = EhrClinicalRecord(
                    h.db, BedsideRecords(client, options, 60), h.audit.record, options
                )
                await record.record_administration(stay_view(), given(), NURSE)
                assert await worker_b.deliver_due() == 0  # not the holder: leaves it
                assert await states(h.db) == [("pending", 0)]

                pause(a)
                await wait_until(lambda: b.duty(OUTBOX).held, timeout=10)
                a.duty(OUTBOX).valid_until = float("inf")  # A still believes
                with pytest.raises(LeaseLost):
                    await worker_a.deliver_due()
                assert store.created["MedicationAdministration"] == 1  # it did reach the EHR
                assert await states(h.db) == [("pending", 0)]  # but A settled nothing

                assert await worker_b.deliver_due() == 1
                assert await states(h.db) == [("delivered", 1)]
            assert store.created["MedicationAdministration"] == 1  # once, whoever sent it
        finally:
            for leases in (b, a):
                await leases.stop()
                await leases.db.dispose()
            await h.db.dispose()
            await sandbox.stop()
