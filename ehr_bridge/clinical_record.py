"""The EHR bridge's implementation of the clinical record port (domain terms only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ehr_bridge import bedside_writes as bw
from ehr_bridge import fhir_mapping as fm
from ehr_bridge import outbox, outbox_admin
from ehr_bridge.bedside_record import BedsideRecords
from ehr_bridge.bedside_recording import BedsideRecording
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import EhrError
from ehr_bridge.identity import IdentityToBeChecked
from ehr_bridge.med_schedule import Ward, schedule_for_day
from ehr_bridge.models import EhrOutbox
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.domain.clinical_record_port import (
    AdministrationInput,
    BedsideRecord,
    IdentityAlert,
    MedicationOrder,
    OutboxItem,
    RecordedAdministration,
    ScheduledDose,
    VitalsInput,
    WriteReceipt,
)
from wardline.domain.commands import Actor
from wardline.domain.stay_views import StayView
from wardline.ward_time import DEFAULT_ZONE, WardTime


class EhrClinicalRecord:
    def __init__(
        self,
        db: Database,
        records: BedsideRecords,
        audit: outbox.AuditHook,
        options: EhrOptions,
        *,
        worker: outbox.OutboxWorker | None = None,
        clock: Callable[[], datetime] = utcnow,
        ward_time: WardTime | None = None,
    ) -> None:
        self.db, self.records, self.audit, self.options = db, records, audit, options
        self.worker, self.clock = worker, clock
        self.recording = BedsideRecording(db, audit, options, clock, worker)
        self.ward_time = ward_time
        records.on_identity_problem = self._audit_identity
        self.ward = Ward(
            timezone=ward_time.default if ward_time else ZoneInfo(DEFAULT_ZONE),
            tolerance=timedelta(minutes=options.dose_window_minutes),
        )

    async def record_for_stay(self, stay: StayView) -> BedsideRecord:
        return await self.records.get(stay)

    async def medication_schedule(
        self, stay: StayView, day: date | None = None
    ) -> list[ScheduledDose]:
        record = await self.records.get(stay)
        now = self.clock()
        ward = await self.ward_of(stay)
        day = day or now.astimezone(ward.timezone).date()
        recorded = await self._recorded(stay, record)
        return schedule_for_day(record.orders, day, ward, recorded, now)

    async def recorded_administrations(self, stay: StayView) -> list[RecordedAdministration]:
        return await self._recorded(stay, await self.records.get(stay))

    async def _recorded(
        self, stay: StayView, record: BedsideRecord
    ) -> list[RecordedAdministration]:
        """The bed's own records (the outbox, delivered or not) and the EHR's, once each."""
        local = await self._local_administrations(stay.visit_number)
        seen = {(a.order_id, a.at) for a in local}
        return local + [a for a in record.administrations if (a.order_id, a.at) not in seen]

    async def ward_of(self, stay: StayView) -> Ward:
        """The ward's rules with the zone of its site."""
        if self.ward_time is None or stay.bed is None:
            return self.ward
        return replace(self.ward, timezone=await self.ward_time.of_ward(stay.bed.ward_code))

    async def record_administration(
        self, stay: StayView, entry: AdministrationInput, actor: Actor
    ) -> WriteReceipt:
        order = await self._order(stay, entry.order_id)
        return await self.recording.administration(stay, self._subject(stay), entry, order, actor)

    async def record_vitals(self, stay: StayView, entry: VitalsInput, actor: Actor) -> WriteReceipt:
        return await self.recording.vitals(stay, self._subject(stay), entry, actor)

    async def outbox_state(self, visit_number: str | None = None) -> list[OutboxItem]:
        return await outbox.items(self.db, visit_number)

    async def send_write_again(self, business_id: str, actor: Actor) -> OutboxItem:
        return await outbox_admin.send_again(
            self.db, self.audit, business_id, actor=actor.name, now=self.clock()
        )

    async def close_write(self, business_id: str, actor: Actor, note: str) -> OutboxItem:
        return await outbox_admin.close_by_hand(
            self.db, self.audit, business_id, actor=actor.name, note=note, now=self.clock()
        )

    def identity_alerts(self) -> list[IdentityAlert]:
        return sorted(self.records.alerts.values(), key=lambda a: a.since)

    # -- internals ------------------------------------------------------------------------
    async def _audit_identity(self, stay: StayView, exc: IdentityToBeChecked) -> None:
        async with self.db.session() as s:
            await self.audit(
                s,
                "system",
                "ehr.identity_to_be_checked",
                "stay",
                stay.visit_number,
                {"reason": exc.reason, "bed": stay.bed.label if stay.bed else None},
            )

    def _subject(self, stay: StayView) -> bw.Subject:
        self.records.require_identity(stay.visit_number)  # nothing written to a doubtful record
        known = self.records.subjects.get(stay.visit_number)
        return bw.Subject(
            ipp=stay.patient.ipp,
            patient_id=known[0] if known else stay.patient.fhir_patient_id,
            encounter_id=(known[1] if known else None) or stay.fhir_encounter_id,
        )

    async def _order(self, stay: StayView, order_id: str) -> MedicationOrder | None:
        try:
            record = await self.records.get(stay)
        except EhrError:
            return None  # the EHR is away and nothing is cached: the write still queues
        return next((o for o in record.orders if o.order_id == order_id), None)

    async def _local_administrations(self, visit_number: str) -> list[RecordedAdministration]:
        since = self.clock() - timedelta(days=2)
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(EhrOutbox.resource).where(
                    EhrOutbox.visit_number == visit_number,
                    EhrOutbox.kind == "administration",
                    # A write the EHR refused for good still happened at the bed: the dose
                    # shows as recorded (never "due" again), its refusal in the writes list.
                    EhrOutbox.created_at >= since,
                )
            )
            return fm.administrations(list(rows))
