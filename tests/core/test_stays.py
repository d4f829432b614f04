"""Stay invariants on both engines: one active stay per bed and per patient, unique DIDs,
the DID follows the patient, quarantine before reuse, typed errors that write nothing."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import Hospital
from wardline.db.models import AuditEvent, Did, Stay
from wardline.domain import commands as c
from wardline.domain import events as ev
from wardline.domain.errors import Conflict, NotFound

ADT = c.SYSTEM_ADT


def patient(ipp: str, family: str = "MARTIN", given: str = "Claire") -> c.PatientData:
    return c.PatientData(
        ipp=ipp,
        ipp_authority="CHRS",
        family_name=family,
        given_name=given,
        birth_date=date(1950, 3, 14),
        sex="F",
    )


def admit(visit: str, ipp: str, bed: str) -> c.Admit:
    return c.Admit(visit_number=visit, patient=patient(ipp), location=c.BedLocation(label=bed))


async def audit_rows(h: Hospital) -> int:
    async with h.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_admission_opens_stay_with_did_and_event(hospital: Hospital) -> None:
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    assert view.status == "active"
    assert view.bed is not None and view.bed.extension == "2001"
    assert view.bed.terminal_id == "T-CARDIO-101-A"
    assert view.did is not None
    await hospital.bus.drain()
    admitted = [e for e in hospital.events if isinstance(e, ev.StayAdmitted)]
    assert len(admitted) == 1 and admitted[0].did == view.did
    assert admitted[0].bed.ward_code == "CARDIO"


async def test_admission_by_ward_room_bed_codes(hospital: Hospital) -> None:
    cmd = c.Admit(
        visit_number="V1",
        patient=patient("P1"),
        location=c.BedLocation(ward="PNEUMO", room="201", bed="B"),
    )
    view = await hospital.stays.admit(cmd, ADT)
    assert view.bed is not None and view.bed.label == "PNEUMO-201-B"


async def test_occupied_bed_is_refused_and_nothing_written(hospital: Hospital) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    before = await audit_rows(hospital)
    with pytest.raises(Conflict) as err:
        await hospital.stays.admit(admit("V2", "P2", "CARDIO-101-A"), ADT)
    assert err.value.error_id == "bed.occupied"
    assert await audit_rows(hospital) == before
    assert await hospital.stays.stay_by_visit("V2") is None


async def test_second_active_stay_for_patient_is_refused(hospital: Hospital) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    with pytest.raises(Conflict) as err:
        await hospital.stays.admit(admit("V2", "P1", "CARDIO-101-B"), ADT)
    assert err.value.error_id == "patient.already_admitted"
    assert await hospital.stays.stay_for_bed("CARDIO-101-B") is None


async def test_unknown_bed_and_unknown_stay(hospital: Hospital) -> None:
    with pytest.raises(NotFound) as err:
        await hospital.stays.admit(admit("V1", "P1", "NOWHERE-1-A"), ADT)
    assert err.value.error_id == "bed.unknown"
    with pytest.raises(NotFound) as err2:
        await hospital.stays.transfer(
            c.Transfer(visit_number="NOPE", location=c.BedLocation(label="CARDIO-101-A")), ADT
        )
    assert err2.value.error_id == "stay.unknown"


async def test_same_admission_twice_is_idempotent(hospital: Hospital) -> None:
    first = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    again = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    assert again.stay_id == first.stay_id and again.did == first.did


async def test_dids_are_unique_among_active_stays(hospital: Hospital) -> None:
    beds = ["CARDIO-101-A", "CARDIO-101-B", "CARDIO-102-A", "CARDIO-102-B"]
    views = [
        await hospital.stays.admit(admit(f"V{i}", f"P{i}", b), ADT) for i, b in enumerate(beds)
    ]
    dids = [v.did for v in views]
    assert len(set(dids)) == len(dids) and None not in dids


async def test_did_follows_patient_on_transfer(hospital: Hospital) -> None:
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    moved = await hospital.stays.transfer(
        c.Transfer(visit_number="V1", location=c.BedLocation(label="NEURO-301-A")), ADT
    )
    assert moved.did == view.did
    assert moved.bed is not None and moved.bed.label == "NEURO-301-A"
    assert await hospital.stays.stay_for_bed("CARDIO-101-A") is None
    await hospital.bus.drain()
    transfer = next(e for e in hospital.events if isinstance(e, ev.StayTransferred))
    assert transfer.from_bed.label == "CARDIO-101-A" and transfer.to_bed.label == "NEURO-301-A"


async def test_transfer_to_occupied_bed_refused(hospital: Hospital) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await hospital.stays.admit(admit("V2", "P2", "CARDIO-101-B"), ADT)
    with pytest.raises(Conflict):
        await hospital.stays.transfer(
            c.Transfer(visit_number="V1", location=c.BedLocation(label="CARDIO-101-B")), ADT
        )
    still = await hospital.stays.stay_by_visit("V1")
    assert still is not None and still.bed is not None and still.bed.label == "CARDIO-101-A"


async def test_cancel_transfer_returns_to_previous_bed(hospital: Hospital) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await hospital.stays.transfer(
        c.Transfer(visit_number="V1", location=c.BedLocation(label="NEURO-301-A")), ADT
    )
    back = await hospital.stays.cancel_transfer(c.CancelTransfer(visit_number="V1"), ADT)
    assert back.bed is not None and back.bed.label == "CARDIO-101-A"
    with pytest.raises(Conflict):
        await hospital.stays.cancel_transfer(c.CancelTransfer(visit_number="V1"), ADT)


async def test_quarantine_ends_after_its_time(hospital: Hospital) -> None:
    first = await hospital.stays.admit(admit("V0", "P0", "CARDIO-101-A"), ADT)
    await hospital.stays.discharge(c.Discharge(visit_number="V0"), ADT)
    async with hospital.db.session() as s:
        # Every other number is taken by someone else: only the quarantined one remains.
        for did in (await s.scalars(select(Did).where(Did.number != first.did))).all():
            did.state = "assigned"
    with pytest.raises(Conflict):
        await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-B"), ADT)
    hospital.clock.advance(hours=24, seconds=1)
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-B"), ADT)
    assert view.did == first.did


async def test_discharge_frees_bed_and_quarantines_did(hospital: Hospital) -> None:
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    done = await hospital.stays.discharge(c.Discharge(visit_number="V1"), ADT)
    assert done.status == "discharged" and done.ended_at is not None
    async with hospital.db.sessions() as s:
        did = await s.get(Did, view.did)
        assert did is not None and did.state == "quarantine"
        assert did.quarantine_until is not None
    again = await hospital.stays.admit(admit("V2", "P2", "CARDIO-101-A"), ADT)
    assert again.did != view.did


async def test_cancel_admit_and_cancel_discharge(hospital: Hospital) -> None:
    view = await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await hospital.stays.discharge(c.Discharge(visit_number="V1"), ADT)
    reopened = await hospital.stays.cancel_discharge(c.CancelDischarge(visit_number="V1"), ADT)
    assert reopened.status == "active" and reopened.did == view.did  # reclaimed from quarantine
    cancelled = await hospital.stays.cancel_admit(c.CancelAdmit(visit_number="V1"), ADT)
    assert cancelled.status == "cancelled"
    await hospital.bus.drain()
    names = [type(e).__name__ for e in hospital.events if isinstance(e, ev.StayEvent)]
    assert names == ["StayAdmitted", "StayDischarged", "StayReopened", "StayCancelled"]


async def test_leave_and_patient_update_and_merge(hospital: Hospital) -> None:
    await hospital.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    on_leave = await hospital.stays.set_leave(c.SetLeave(visit_number="V1", on_leave=True), ADT)
    assert on_leave.on_leave
    updated = await hospital.stays.update_patient(
        c.UpdatePatient(patient=patient("P1", "MARTIN-DURAND", "Claire")), ADT
    )
    assert updated is not None and updated.patient.family_name == "MARTIN-DURAND"
    await hospital.stays.admit(admit("V9", "P9", "CARDIO-102-A"), ADT)
    await hospital.stays.discharge(c.Discharge(visit_number="V9"), ADT)
    await hospital.stays.merge_patients(
        c.MergePatients(surviving=patient("P1"), merged_ipp="P9", merged_ipp_authority="CHRS"),
        ADT,
    )
    merged = await hospital.stays.stay_by_visit("V9")
    assert merged is not None and merged.patient.ipp == "P1"


async def test_concurrent_admissions_to_one_bed_one_wins(hospital: Hospital) -> None:
    results = await asyncio.gather(
        *(hospital.stays.admit(admit(f"V{i}", f"P{i}", "ORTHO-501-A"), ADT) for i in range(4)),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 3
    async with hospital.db.sessions() as s:
        active = await s.scalar(
            select(func.count()).select_from(Stay).where(Stay.status == "active")
        )
    assert active == 1


async def test_apply_in_the_callers_transaction(hospital: Hospital) -> None:
    """A command applied inside a caller's transaction commits or rolls back with it, and its
    events wait for the caller's commit."""

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with hospital.db.session() as s:
            await hospital.stays.apply_in(s, admit("V1", "P1", "CARDIO-101-A"), ADT)
            raise Abort
    assert await hospital.stays.stay_by_visit("V1") is None
    assert await audit_rows(hospital) == 1  # the inventory load only
    async with hospital.db.session() as s:
        view, events = await hospital.stays.apply_in(s, admit("V1", "P1", "CARDIO-101-A"), ADT)
    await hospital.bus.drain()
    assert not any(isinstance(e, ev.StayAdmitted) for e in hospital.events)
    hospital.stays.publish(events)
    await hospital.bus.drain()
    assert view is not None and [type(e) for e in events] == [ev.StayAdmitted]
    assert any(isinstance(e, ev.StayAdmitted) for e in hospital.events)
    with pytest.raises(Conflict):
        async with hospital.db.session() as s:
            await hospital.stays.apply_in(s, admit("V2", "P2", "CARDIO-101-A"), ADT)
