"""Stay events change the simulator's AstDB over real AMI: exactly the expected keys."""

from __future__ import annotations

from sqlalchemy import select

from telephony.simulator.server import PbxSimulator
from tests.lines.conftest import ADT, LineLab, admit, patient
from tests.services import wait_until
from wardline.db.models import AuditEvent, Did
from wardline.domain import commands as c


def line(ext: str, did: str | None, name: str = "MARTIN Claire", **over: str) -> dict[str, str]:
    keys = {
        f"bed/{ext}/active": "1",
        f"bed/{ext}/barring": "national",
        f"bed/{ext}/dnd": "0",
        f"bed/{ext}/cidname": name,
    }
    keys.update({f"bed/{ext}/{k}": v for k, v in over.items()})
    if did is not None:
        keys[f"did/{did}"] = ext
    return keys


async def test_admission_writes_the_line_and_did(line_lab: LineLab) -> None:
    view = await line_lab.h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await line_lab.settle()
    assert view.did is not None
    assert line_lab.astdb() == line("2001", view.did)


async def test_transfer_moves_did_and_empties_old_bed(line_lab: LineLab) -> None:
    view = await line_lab.h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await line_lab.h.stays.transfer(
        c.Transfer(visit_number="V1", location=c.BedLocation(label="CARDIO-102-B")), ADT
    )
    await line_lab.settle()
    assert line_lab.astdb() == line("2004", view.did)
    await line_lab.h.stays.cancel_transfer(c.CancelTransfer(visit_number="V1"), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", view.did)


async def test_discharge_and_cancellations(line_lab: LineLab) -> None:
    stays = line_lab.h.stays
    first = await stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    second = await stays.admit(admit("V2", "P2", "CARDIO-101-B", family="Durand"), ADT)
    await stays.discharge(c.Discharge(visit_number="V1"), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2002", second.did, "DURAND Claire")
    await stays.cancel_discharge(c.CancelDischarge(visit_number="V1"), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", first.did) | line("2002", second.did, "DURAND Claire")
    await stays.cancel_admit(c.CancelAdmit(visit_number="V2"), ADT)
    await stays.discharge(c.Discharge(visit_number="V1"), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == {}
    async with line_lab.h.db.sessions() as s:
        did = await s.get(Did, first.did)
        assert did is not None and did.state == "quarantine"


async def test_non_disclosure_leave_and_patient_update(line_lab: LineLab) -> None:
    stays = line_lab.h.stays
    view = await stays.admit(admit("V1", "P1", "CARDIO-101-A", non_disclosure=True), ADT)
    await line_lab.settle()
    # the DID is not routed (unknown-number path) and the name is not in the PBX
    assert line_lab.astdb() == line("2001", None, "Chambre CARDIO-101-A")
    await stays.update_patient(c.UpdatePatient(patient=patient("P1"), visit_number="V1"), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", view.did)
    await stays.set_leave(c.SetLeave(visit_number="V1", on_leave=True), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", None, active="0")
    await stays.set_leave(c.SetLeave(visit_number="V1", on_leave=False), ADT)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", view.did)


async def test_line_management_is_applied_and_audited(line_lab: LineLab) -> None:
    lines, op = line_lab.lines, c.Actor(name="switchboard-anne")
    view = await line_lab.h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await lines.suspend("V1", op)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", None, active="0")
    await lines.restore("V1", op)
    await lines.set_barring("V1", "international", op)
    await lines.set_do_not_disturb("V1", True, op)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", view.did, barring="international", dnd="1")
    swapped = await lines.swap_did("V1", op)
    await line_lab.settle()
    assert swapped.did != view.did
    assert line_lab.astdb() == line("2001", swapped.did, barring="international", dnd="1")
    await lines.set_barring("V1", "international", op)  # unchanged: not audited
    async with line_lab.h.db.sessions() as s:
        actions = (
            await s.scalars(select(AuditEvent.action).where(AuditEvent.actor == op.name))
        ).all()
        old = await s.get(Did, view.did)
    assert actions == [
        "line.suspend",
        "line.restore",
        "line.barring",
        "line.do_not_disturb",
        "line.swap_did",
    ]
    assert old is not None and old.state == "quarantine"


async def test_reconcile_repairs_a_corrupted_astdb(line_lab: LineLab) -> None:
    stays = line_lab.h.stays
    a = await stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    b = await stays.admit(admit("V2", "P2", "CARDIO-101-B", family="Durand"), ADT)
    await line_lab.settle()
    expected = line("2001", a.did) | line("2002", b.did, "DURAND Claire")
    db = line_lab.sim.astdb
    del db["bed/2001/active"]
    db["bed/2002/barring"] = "international"
    db["did/0388110999"] = "2003"
    db["bed/2003/active"] = "1"
    db["other/kept"] = "x"
    repair = await line_lab.bed_lines.reconcile()
    assert line_lab.astdb() == expected
    assert db["other/kept"] == "x"
    assert repair.written == ["bed/2001/active", "bed/2002/barring"]
    assert repair.deleted == ["bed/2003/active", "did/0388110999"]
    assert (await line_lab.bed_lines.reconcile()).changed == 0


async def test_the_periodic_audit_puts_back_what_was_changed_outside(line_lab: LineLab) -> None:
    """No event, no reconnect: a barring lifted and a line switched on by someone else
    (a hand edit, or an AMI secret used through Asterisk's async Originate) last one audit
    period, and the repair is counted as drift."""
    import asyncio

    a = await line_lab.h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await line_lab.settle()
    expected = line("2001", a.did)
    db = line_lab.sim.astdb
    db["bed/2001/barring"] = "none"
    db["bed/2002/active"] = "1"
    assert line_lab.bed_lines.drift_repairs == 0
    audits = asyncio.create_task(line_lab.bed_lines.audit_forever(0.05))
    try:
        await wait_until(lambda: line_lab.astdb() == expected, 10)
        await wait_until(lambda: line_lab.bed_lines.drift_repairs == 1, 5)
        await asyncio.sleep(0.2)  # audits in step with the stays change nothing more
        assert line_lab.bed_lines.drift_repairs == 1
    finally:
        audits.cancel()
        await asyncio.gather(audits, return_exceptions=True)
    assert line_lab.bed_lines.readiness()["drift_repairs"] == 1


async def test_a_change_while_the_pbx_is_down_is_repaired_after_reconnect(
    line_lab: LineLab,
) -> None:
    port = line_lab.sim.port
    await line_lab.sim.stop()
    await wait_until(lambda: line_lab.session.link.state != "up", 5)
    view = await line_lab.h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await line_lab.h.bus.drain()
    assert line_lab.bed_lines.pending_repair
    line_lab.sim = await PbxSimulator().start(port=port)  # a restarted PBX, AstDB empty
    line_lab.sim.astdb["bed/2050/active"] = "1"
    # An attempt made while the PBX was down may still fail after the restart (wait_synced
    # would raise its error): wait for the link's own retry to sync. Generous for loaded CI.
    await wait_until(lambda: line_lab.session.link.synced, 30)
    await wait_until(lambda: not line_lab.bed_lines.pending_repair, 10)
    await line_lab.settle()
    assert line_lab.astdb() == line("2001", view.did)
