"""What the nurse records at the bed, queued for the EHR: an administration (one record per
dose) or vital signs, each with its audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ehr_bridge import bedside_writes as bw
from ehr_bridge import outbox
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import WrongPatient
from wardline.db.engine import Database
from wardline.domain.clinical_record_port import (
    AdministrationInput,
    MedicationOrder,
    VitalsInput,
    WriteReceipt,
)
from wardline.domain.commands import Actor
from wardline.domain.stay_views import StayView


@dataclass
class BedsideRecording:
    db: Database
    audit: outbox.AuditHook
    options: EhrOptions
    clock: Callable[[], datetime]
    worker: outbox.OutboxWorker | None = None

    async def administration(
        self,
        stay: StayView,
        subject: bw.Subject,
        entry: AdministrationInput,
        order: MedicationOrder | None,
        actor: Actor,
    ) -> WriteReceipt:
        if entry.scanned_patient_id is not None and entry.scanned_patient_id != stay.patient.ipp:
            raise WrongPatient(
                "ehr.wrong_patient", "the scanned wristband is not this bed's patient"
            )
        business_id = bw.dose_business_id(entry.order_id, entry.due_at)
        resource = bw.administration(
            entry,
            order,
            subject,
            system=self.options.business_id_system,
            business_id=business_id,
            performer=actor,
            rpps_system=self.options.rpps_system,
        )
        write = outbox.QueuedWrite(
            business_id=business_id,
            kind="administration",
            resource=resource,
            visit_number=stay.visit_number,
            patient_ipp=stay.patient.ipp,
            order_id=entry.order_id,
            due_at=entry.due_at,
        )
        details: dict[str, Any] = {
            "order": entry.order_id,
            "due_at": entry.due_at.isoformat() if entry.due_at else None,
            "given": entry.given,
            "reason": entry.reason,
            "partial": entry.partial,
            "dose": f"{entry.dose.value} {entry.dose.unit}" if entry.dose else None,
            "dose_confirmed_against_text": entry.dose_confirmed_text,
            "late": bool(entry.late_reason),
        }
        await outbox.enqueue(
            self.db,
            self.audit,
            [write],
            actor=actor.name,
            action="ehr.administration",
            details=details,
            now=self.clock(),
        )
        if self.worker is not None:
            self.worker.wake()
        return WriteReceipt(business_ids=(business_id,))

    async def vitals(
        self, stay: StayView, subject: bw.Subject, entry: VitalsInput, actor: Actor
    ) -> WriteReceipt:
        ids = [bw.new_business_id("vital") for _ in range(bw.observation_count(entry))]
        resources = bw.vital_observations(
            entry,
            subject,
            system=self.options.business_id_system,
            business_ids=ids,
            performer=actor,
            rpps_system=self.options.rpps_system,
        )
        writes = [
            outbox.QueuedWrite(
                business_id=i,
                kind="vitals",
                resource=r,
                visit_number=stay.visit_number,
                patient_ipp=stay.patient.ipp,
            )
            for i, r in zip(ids, resources, strict=True)
        ]
        await outbox.enqueue(
            self.db,
            self.audit,
            writes,
            actor=actor.name,
            action="ehr.vitals",
            details={"kinds": sorted(entry.values)},
            now=self.clock(),
        )
        if self.worker is not None:
            self.worker.wake()
        return WriteReceipt(business_ids=tuple(ids))
