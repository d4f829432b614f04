"""Admission, transfer, discharge and their cancellations, each in one transaction.

Invariants (also enforced by unique partial indexes): one active stay per bed and per
patient; a DID unique among active stays; the DID follows the patient on transfer; a released
DID is not reused before its quarantine ends. A refused request raises a typed
:class:`~wardline.domain.errors.DomainError` and writes nothing. Events are published only
after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wardline.bus import EventBus
from wardline.db.base import utcnow
from wardline.db.engine import Database
from wardline.db.models import Stay
from wardline.domain import commands as c
from wardline.domain import dids
from wardline.domain import events as ev
from wardline.domain import stay_sql as sql
from wardline.domain.audit import AuditLog
from wardline.domain.errors import (
    Conflict,
    bed_occupied,
    patient_already_admitted,
    unknown_bed,
    unknown_stay,
)
from wardline.domain.patients import find_patient, upsert_patient
from wardline.domain.stay_views import (
    StayView,
    active_stay_views,
    bed_ref,
    find_bed,
    stay_view,
)
from wardline.domain.units import borrowing, pending_events, unit

Command = (
    c.Admit
    | c.Transfer
    | c.Discharge
    | c.CancelAdmit
    | c.CancelTransfer
    | c.CancelDischarge
    | c.UpdatePatient
    | c.SetLeave
    | c.MergePatients
)


_S = TypeVar("_S", Stay, StayView)


def _ids(stay: Stay) -> dict[str, Any]:
    """The identifiers every stay event carries."""
    return {"stay_id": stay.id, "visit_number": stay.visit_number, "patient_id": stay.patient_id}


def _active(found: _S | None, visit: str) -> _S:
    """The stay (a model or a read model) if it exists and is active; refused otherwise."""
    if found is None:
        raise unknown_stay(visit)
    if found.status != "active":
        raise Conflict("stay.not_active", "the stay is not active", visit_number=visit)
    return found


def _view_ids(view: StayView) -> dict[str, Any]:
    return {
        "stay_id": view.stay_id,
        "visit_number": view.visit_number,
        "patient_id": view.patient.id,
    }


class Stays:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        audit: AuditLog,
        clock: Callable[[], datetime] = utcnow,
        quarantine: timedelta = timedelta(hours=24),
    ) -> None:
        self.db, self.bus, self.audit, self.clock = db, bus, audit, clock
        self.quarantine = quarantine

    # -- reads ---------------------------------------------------------------------------
    async def active_stays(self) -> list[StayView]:
        async with self.db.sessions() as s:
            return await active_stay_views(s)

    async def stay_by_visit(self, visit_number: str) -> StayView | None:
        async with self.db.sessions() as s:
            stay = await self._by_visit(s, visit_number)
            return await stay_view(s, stay) if stay else None

    async def stay_for_bed(self, bed_label: str) -> StayView | None:
        async with self.db.sessions() as s:
            bed = await find_bed(s, c.BedLocation(label=bed_label))
            stay = (
                await s.scalars(select(Stay).where(Stay.bed_id == bed.id, Stay.status == "active"))
            ).first()
            return await stay_view(s, stay) if stay else None

    # -- commands ------------------------------------------------------------------------
    async def apply(self, command: Command, actor: c.Actor) -> StayView | None:
        handler: Any = {
            c.Admit: self.admit,
            c.Transfer: self.transfer,
            c.Discharge: self.discharge,
            c.CancelAdmit: self.cancel_admit,
            c.CancelTransfer: self.cancel_transfer,
            c.CancelDischarge: self.cancel_discharge,
            c.UpdatePatient: self.update_patient,
            c.SetLeave: self.set_leave,
            c.MergePatients: self.merge_patients,
        }[type(command)]
        result: StayView | None = await handler(command, actor)
        return result

    async def admit(self, cmd: c.Admit, actor: c.Actor) -> StayView:
        async with self._unit() as s:
            now = cmd.at or self.clock()
            checks = await sql.admission_checks(s, cmd.location, cmd.visit_number, cmd.patient)
            bed = checks.bed
            if checks.visit_status is not None:
                if checks.visit_status == "active" and checks.visit_bed_id == bed.bed_id:
                    # the same admission again
                    same = await sql.full_stay(s, sql.STAY_BY_VISIT, visit=cmd.visit_number)
                    assert same is not None
                    return same
                raise Conflict(
                    "stay.visit_exists",
                    "a stay with this visit number already exists",
                    visit_number=cmd.visit_number,
                )
            if checks.occupant_id is not None:
                raise bed_occupied(bed.label)
            if checks.patient_active_visit is not None:
                raise patient_already_admitted(checks.patient_active_visit)
            patient = await sql.upsert_patient(s, cmd.patient, self.clock())
            row = (
                await s.execute(
                    sql.INSERT_STAY,
                    {
                        "visit_number": cmd.visit_number,
                        "patient_id": patient.id,
                        "bed_id": bed.bed_id,
                        "status": "active",
                        "started_at": now,
                        "bed_since": now,
                        "fhir_encounter_id": cmd.fhir_encounter_id,
                    },
                )
            ).one()
            did = await sql.take_did(s, row.stay_id, now)
            await self._audit_stay(
                s, actor, "stay.admit", row.stay_id, cmd.visit_number, bed=bed.label, did=did
            )
            view = replace(sql.stay_view_of(row, patient=patient, bed=bed), did=did)
        self._emit(ev.StayAdmitted(**_view_ids(view), bed=bed, did=did))
        return view

    async def transfer(self, cmd: c.Transfer, actor: c.Actor) -> StayView:
        async with self._unit() as s:
            found, target, occupant = await sql.stay_and_target(s, cmd.visit_number, cmd.location)
            view = _active(found, cmd.visit_number)
            if target is None:
                raise unknown_bed(cmd.location.describe() or "(none)")
            old = view.bed
            if old is not None and old.bed_id == target.bed_id:
                return view
            if occupant is not None:
                raise bed_occupied(target.label)
            assert old is not None, "an active stay has a bed"
            at = cmd.at or self.clock()
            move = {
                "p_stay_id": view.stay_id,
                "p_to_bed": target.bed_id,
                "p_from_bed": old.bed_id,
                "p_at": at,
            }
            await s.execute(sql.MOVE, move)
            await self._audit_stay(
                s,
                actor,
                "stay.transfer",
                view.stay_id,
                view.visit_number,
                from_bed=old.label,
                to_bed=target.label,
            )
            view = replace(view, bed=target, bed_since=at)
        self._emit(ev.StayTransferred(**_view_ids(view), from_bed=old, to_bed=target, did=view.did))
        return view

    async def cancel_transfer(self, cmd: c.CancelTransfer, actor: c.Actor) -> StayView:
        async with self._unit() as s:
            stay = await self._active(s, cmd.visit_number)
            if stay.previous_bed_id is None:
                raise Conflict(
                    "stay.no_transfer",
                    "the stay has no transfer to cancel",
                    visit_number=cmd.visit_number,
                )
            target = stay.previous_bed_id
            occupant = await self._active_on_bed(s, target)
            if occupant is not None:
                raise bed_occupied((await bed_ref(s, target)).label)
            event = await self._move(s, stay, target, actor, "stay.transfer_cancelled")
            stay.previous_bed_id = None
            view = await stay_view(s, stay)
        self._emit(event)
        return view

    async def discharge(self, cmd: c.Discharge, actor: c.Actor) -> StayView:
        return await self._end(cmd.visit_number, cmd.at, actor, "discharged")

    async def cancel_admit(self, cmd: c.CancelAdmit, actor: c.Actor) -> StayView:
        return await self._end(cmd.visit_number, None, actor, "cancelled")

    async def cancel_discharge(self, cmd: c.CancelDischarge, actor: c.Actor) -> StayView:
        async with self._unit() as s:
            stay = await self._by_visit(s, cmd.visit_number)
            if stay is None:
                raise unknown_stay(cmd.visit_number)
            if stay.status == "active":
                return await stay_view(s, stay)
            if stay.status != "discharged" or stay.bed_id is None:
                raise Conflict(
                    "stay.not_discharged",
                    "only a discharged stay can be reopened",
                    visit_number=cmd.visit_number,
                )
            if await self._active_on_bed(s, stay.bed_id) is not None:
                raise bed_occupied((await bed_ref(s, stay.bed_id)).label)
            other = await self._active_of_patient(s, stay.patient_id)
            if other is not None:
                raise patient_already_admitted(other.visit_number)
            stay.status, stay.ended_at = "active", None
            await s.flush()
            if stay.did is None or not await dids.reclaim(s, stay.did, stay.id):
                stay.did = await dids.assign(s, stay.id, self.clock())
            ref = await bed_ref(s, stay.bed_id)
            await self._audit(s, actor, "stay.discharge_cancelled", stay, did=stay.did)
            view = await stay_view(s, stay)
        self._emit(
            ev.StayReopened(
                **_ids(stay),
                bed=ref,
                did=stay.did,
            )
        )
        return view

    async def update_patient(self, cmd: c.UpdatePatient, actor: c.Actor) -> StayView | None:
        async with self._unit() as s:
            patient = await sql.upsert_patient(s, cmd.patient, self.clock())
            view = await sql.full_stay(s, sql.ACTIVE_STAY_OF_PATIENT, patient_id=patient.id)
            await self._audit_subject(s, actor, "patient.update", "patient", patient.id, {})
        self._emit(ev.PatientUpdated(patient_id=patient.id, stay_id=view.stay_id if view else None))
        return view

    async def set_leave(self, cmd: c.SetLeave, actor: c.Actor) -> StayView:
        async with self._unit() as s:
            stay = await self._active(s, cmd.visit_number)
            if stay.on_leave == cmd.on_leave:
                return await stay_view(s, stay)
            stay.on_leave = cmd.on_leave
            action = "stay.leave_start" if cmd.on_leave else "stay.leave_end"
            await self._audit(s, actor, action, stay)
            ref = await bed_ref(s, stay.bed_id) if stay.bed_id is not None else None
            view = await stay_view(s, stay)
        self._emit(
            ev.StayLeaveChanged(
                **_ids(stay),
                bed=ref,
                on_leave=cmd.on_leave,
            )
        )
        return view

    async def merge_patients(self, cmd: c.MergePatients, actor: c.Actor) -> StayView | None:
        async with self._unit() as s:
            survivor = await upsert_patient(s, cmd.surviving)
            merged = await find_patient(s, cmd.merged_ipp, cmd.merged_ipp_authority)
            if merged is None or merged.id == survivor.id:
                raise Conflict(
                    "patient.merge_unknown",
                    "the patient to merge is unknown",
                )
            stays = (await s.scalars(select(Stay).where(Stay.patient_id == merged.id))).all()
            actives = [st for st in stays if st.status == "active"]
            survivor_active = await self._active_of_patient(s, survivor.id)
            if actives and survivor_active is not None:
                raise Conflict(
                    "patient.merge_two_active",
                    "both patients have an active stay",
                )
            for st in stays:
                st.patient_id = survivor.id
            merged.merged_into_id = survivor.id
            await s.flush()
            await self._audit_subject(
                s, actor, "patient.merge", "patient", survivor.id, {"merged_id": merged.id}
            )
            active = actives[0] if actives else survivor_active
            view = await stay_view(s, active) if active else None
        self._emit(ev.PatientUpdated(patient_id=survivor.id, stay_id=active.id if active else None))
        return view

    async def apply_in(
        self, session: AsyncSession, command: Command, actor: c.Actor
    ) -> tuple[StayView | None, list[ev.DomainEvent]]:
        """Apply ``command`` inside the caller's transaction (the ADT inbox settles its message
        in the same one). The caller commits, then hands the events to :meth:`publish`."""
        events: list[ev.DomainEvent] = []
        with borrowing(session, events):
            view = await self.apply(command, actor)
        return view, events

    def publish(self, events: list[ev.DomainEvent]) -> None:
        for event in events:
            self.bus.publish(event)

    # -- internals -----------------------------------------------------------------------
    def _unit(self) -> Any:
        return unit(self.db)

    def _emit(self, event: ev.DomainEvent) -> None:
        """Publish after the commit: at once for our own unit of work, or by the caller."""
        pending = pending_events()
        if pending is not None:
            pending.append(event)
        else:
            self.bus.publish(event)

    async def _end(self, visit: str, at: datetime | None, actor: c.Actor, status: str) -> StayView:
        async with self._unit() as s:
            view = await sql.full_stay(s, sql.STAY_BY_VISIT, visit=visit)
            if view is None:
                raise unknown_stay(visit)
            if view.status == status:
                return view  # the same end again
            if view.status != "active":
                raise Conflict("stay.not_active", "the stay is not active", visit_number=visit)
            now = at or self.clock()
            until = now + self.quarantine
            await sql.end_stay(
                s, view.stay_id, view.did, status=status, at=now, quarantine_until=until
            )
            action = "stay.discharge" if status == "discharged" else "stay.admit_cancelled"
            await self._audit_stay(s, actor, action, view.stay_id, visit, did=view.did)
            view = replace(view, status=status, ended_at=now)
        cls = ev.StayDischarged if status == "discharged" else ev.StayCancelled
        self._emit(cls(**_view_ids(view), bed=view.bed, did=view.did))
        return view

    async def _move(
        self, s: AsyncSession, stay: Stay, bed_id: int, actor: c.Actor, action: str
    ) -> ev.StayTransferred:
        assert stay.bed_id is not None
        old = await bed_ref(s, stay.bed_id)
        new = await bed_ref(s, bed_id)
        stay.previous_bed_id, stay.bed_id = stay.bed_id, bed_id
        stay.bed_since = None  # back on a bed since a time not kept: unknown
        await s.flush()
        await self._audit(s, actor, action, stay, from_bed=old.label, to_bed=new.label)
        return ev.StayTransferred(
            **_ids(stay),
            from_bed=old,
            to_bed=new,
            did=stay.did,
        )

    async def _audit_stay(
        self,
        s: AsyncSession,
        actor: c.Actor,
        action: str,
        stay_id: int,
        visit: str,
        **details: Any,
    ) -> None:
        details["visit_number"] = visit
        await self._audit_subject(s, actor, action, "stay", stay_id, details)

    async def _by_visit(self, s: AsyncSession, visit: str) -> Stay | None:
        return (await s.scalars(select(Stay).where(Stay.visit_number == visit))).first()

    async def _active(self, s: AsyncSession, visit: str) -> Stay:
        return _active(await self._by_visit(s, visit), visit)

    async def _active_of_patient(self, s: AsyncSession, patient_id: int) -> Stay | None:
        query = select(Stay).where(Stay.patient_id == patient_id, Stay.status == "active")
        return (await s.scalars(query)).first()

    async def _active_on_bed(self, s: AsyncSession, bed_id: int) -> Stay | None:
        return (
            await s.scalars(select(Stay).where(Stay.bed_id == bed_id, Stay.status == "active"))
        ).first()

    async def _audit(
        self, s: AsyncSession, actor: c.Actor, action: str, stay: Stay, **details: Any
    ) -> None:
        await self._audit_stay(s, actor, action, stay.id, stay.visit_number, **details)

    async def _audit_subject(
        self,
        s: AsyncSession,
        actor: c.Actor,
        action: str,
        kind: str,
        sid: int,
        details: dict[str, Any],
    ) -> None:
        await self.audit.record(s, actor.name, action, kind, sid, details)
