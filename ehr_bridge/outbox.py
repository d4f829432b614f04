"""The outbox of bedside writes: queued in the transaction of their audit row, delivered to
FHIR exactly once by a conditional create on their business identifier.

An administration names its dose (order, due time): the table holds one record per dose
and its business id is derived from the dose, so a second attempt is refused here
(:class:`DoseAlreadyRecorded`) and, should one slip through elsewhere, meets the first on the
server's conditional create. Before delivery the administration takes the order's own
medication and route (:func:`ehr_bridge.bedside_writes.with_order`), after checking that the
order belongs to the same patient.

Delivery outcomes: 201 created, or 200 with the existing resource (with or without a
Location header) -> delivered; 412 (several resources already carry the identifier) ->
delivered, flagged for the admin; any other 4xx -> failed with the server's reason, never
retried; unreachable, 5xx or credentials refused -> retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ehr_bridge import bedside_writes as bw
from ehr_bridge.config import EhrOptions
from ehr_bridge.errors import (
    DoseAlreadyRecorded,
    EhrError,
    FhirRefused,
    FhirUnreachable,
    InvalidResource,
)
from ehr_bridge.fhir_client import SharedSessionClient
from ehr_bridge.fhir_mapping import reference_id
from ehr_bridge.models import EhrOutbox
from wardline.bus import EventBus
from wardline.cluster.leases import OUTBOX, DutyLease, LeaseLost
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.domain.clinical_record_port import OutboxItem
from wardline.domain.ehr_events import BedsideWriteRefused

log = structlog.get_logger(__name__)

AuditHook = Callable[[AsyncSession, str, str, str, str, dict[str, Any]], Awaitable[object]]
"""``AuditLog.record(session, actor, action, subject_type, subject_id, details)``."""

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, kw_only=True)
class QueuedWrite:
    business_id: str
    kind: str
    resource: dict[str, Any]
    visit_number: str
    patient_ipp: str
    order_id: str | None = None
    due_at: datetime | None = None


async def enqueue(
    db: Database,
    audit: AuditHook,
    writes: list[QueuedWrite],
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Queue the writes and their audit row in one transaction (both or neither).
    :class:`DoseAlreadyRecorded` when a dose among them already has its record."""
    try:
        await _enqueue(db, audit, writes, actor=actor, action=action, details=details, now=now)
    except IntegrityError as exc:
        doses = [w for w in writes if w.order_id is not None]
        if not doses:
            raise
        raise DoseAlreadyRecorded(
            "ehr.dose_already_recorded",
            "this dose already has its record",
            order=doses[0].order_id,
            due_at=doses[0].due_at.isoformat() if doses[0].due_at else None,
        ) from exc


async def _enqueue(
    db: Database,
    audit: AuditHook,
    writes: list[QueuedWrite],
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    async with db.session() as s:
        for write in writes:
            s.add(
                EhrOutbox(
                    business_id=write.business_id,
                    resource_type=write.resource["resourceType"],
                    resource=write.resource,
                    kind=write.kind,
                    visit_number=write.visit_number,
                    patient_ipp=write.patient_ipp,
                    order_id=write.order_id,
                    due_at=write.due_at,
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        await s.flush()
        visit = writes[0].visit_number if writes else ""
        await audit(
            s, actor, action, "stay", visit, dict(details, writes=[w.business_id for w in writes])
        )


def as_item(row: EhrOutbox) -> OutboxItem:
    return OutboxItem(
        business_id=row.business_id,
        kind=row.kind,
        visit_number=row.visit_number,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        created_at=row.created_at,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.state == PENDING else None,
    )


async def items(
    db: Database, visit_number: str | None = None, limit: int = 200
) -> list[OutboxItem]:
    """Pending and failed writes (of one stay, or all), oldest first."""
    query = select(EhrOutbox).where(EhrOutbox.state != DELIVERED)
    if visit_number is not None:
        query = query.where(EhrOutbox.visit_number == visit_number)
    async with db.sessions() as s:
        rows = await s.scalars(query.order_by(EhrOutbox.id).limit(limit))
        return [as_item(r) for r in rows]


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        client: SharedSessionClient,
        options: EhrOptions,
        clock: Callable[[], datetime] = utcnow,
        bus: EventBus | None = None,
        lease: DutyLease | None = None,
    ) -> None:
        self.db, self.client, self.options, self.clock = db, client, options, clock
        self.bus = bus
        self.lease = lease or DutyLease.solo(OUTBOX)
        """Delivery is the holder's; each settlement is fenced (several instances)."""
        self.lease.when_acquired(self.wake)
        self._wake = asyncio.Event()
        self.delivered = 0
        self.last_error: str | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled; woken by new writes, else polls."""
        while True:
            self._wake.clear()
            try:
                if self.lease.held:
                    await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                log.info("outbox.lease_lost")
            except Exception:  # the database may be away: log, wait, try again
                log.exception("outbox.cycle_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.outbox_poll_seconds):
                    await self._wake.wait()

    async def deliver_due(self, limit: int = 50) -> int:
        """One pass over the writes whose attempt is due; returns how many were delivered."""
        async with self.db.sessions() as s:
            ids = list(
                await s.scalars(
                    select(EhrOutbox.id)
                    .where(EhrOutbox.state == PENDING, EhrOutbox.next_attempt_at <= self.clock())
                    .order_by(EhrOutbox.id)
                    .limit(limit)
                )
            )
        done = 0
        for row_id in ids:
            if not self.lease.held:
                break  # the new holder goes on (a conditional create never duplicates)
            done += await self._deliver(row_id)
        return done

    def _backoff(self, attempts: int) -> timedelta:
        base, cap = self.options.outbox_retry_base_seconds, self.options.outbox_retry_max_seconds
        return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))

    async def _deliver(self, row_id: int) -> int:
        async with self.db.sessions() as s:
            row = await s.get(EhrOutbox, row_id)
            if row is None or row.state != PENDING:
                return 0
            kind, resource, business_id = row.resource_type, dict(row.resource), row.business_id
            ipp = row.patient_ipp
        condition = f"identifier={self.options.business_id_system}|{business_id}"
        state, server_id, error = PENDING, None, None
        try:
            resource = await self._resolve_subject(resource, ipp)
            if kind == "MedicationAdministration":
                resource = await self._with_order(resource)
            result = await self.client.create_conditional(kind, resource, condition)
            server_id = result.server_id or await self._find_id(kind, condition)
            state = DELIVERED
        except FhirRefused as exc:
            if exc.error_id == "fhir.multiple_matches":
                state, error = DELIVERED, f"already on the server several times: {exc.message}"
            else:
                state, error = FAILED, exc.message
        except InvalidResource as exc:
            state, error = FAILED, exc.message
        except EhrError as exc:
            error = exc.message
        async with self.db.session() as s:
            await self.lease.fence(s)  # a stale holder's settlement is refused
            row = await s.get(EhrOutbox, row_id)
            assert row is not None
            visit, kind_of_write = row.visit_number, row.kind
            if state == DELIVERED:
                row.resource = resource  # what the server was sent
            row.attempts += 1
            row.last_error = error
            row.state = state
            if state == DELIVERED:
                row.server_id = server_id
                row.delivered_at = self.clock()
            elif state == PENDING:
                row.next_attempt_at = self.clock() + self._backoff(row.attempts)
        self.last_error = error if state != DELIVERED else None
        log.info("outbox.attempt", business_id=business_id, state=state, attempts=row.attempts)
        if state == DELIVERED:
            self.delivered += 1
            return 1
        if state == FAILED and self.bus is not None:
            self.bus.publish(
                BedsideWriteRefused(visit_number=visit, business_id=business_id, kind=kind_of_write)
            )
        return 0

    async def _resolve_subject(self, resource: dict[str, Any], ipp: str) -> dict[str, Any]:
        """The Patient of a write queued before the record was ever read: by the IPP with its
        system (``WARDLINE_EHR_IPP_SYSTEM``), and only when exactly one Patient matches."""
        subject = resource.get("subject") or {}
        if subject.get("reference"):
            return resource
        system = self.options.ipp_system
        token = f"{system}|{ipp}" if system else ipp
        found = await self.client.search_all("Patient", {"identifier": token}, 1)
        if not found.matches:
            # The EHR may not know the patient yet: retry later, it is not a refusal.
            raise FhirUnreachable("fhir.patient_pending", "the EHR does not know the patient yet")
        if len(found.matches) > 1:
            raise FhirRefused(
                "fhir.identity_ambiguous",
                f"{len(found.matches)} patients carry this IPP: identity to be checked",
            )
        resource["subject"] = {"reference": f"Patient/{found.matches[0]['id']}"}
        return resource

    async def _with_order(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The order's medication and route, from the MedicationRequest; refused for good when
        the order is gone or belongs to another patient."""
        request_ref = str((resource.get("request") or {}).get("reference", ""))
        order_id = request_ref.split("/", 1)[-1]
        order = await self.client.read("MedicationRequest", order_id) if order_id else None
        if order is None:
            raise FhirRefused("fhir.order_unknown", f"the order {order_id} is not on the server")
        ours = reference_id(resource.get("subject"), "Patient")
        theirs = reference_id(order.get("subject"), "Patient")
        if ours is None or ours != theirs:
            raise FhirRefused(
                "fhir.order_of_another_patient",
                f"the order {order_id} is not this patient's ({theirs} instead of {ours})",
            )
        return bw.with_order(resource, order)

    async def _find_id(self, kind: str, condition: str) -> str | None:
        """200 without body nor Location: ask the server which resource it meant."""
        name, _, value = condition.partition("=")
        found = await self.client.search_all(kind, {name: value}, 1)
        return str(found.matches[0]["id"]) if found.matches else None
