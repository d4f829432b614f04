"""Bed lines (AstDB on the PBX simulator over AMI) under the lease, two instances on one real
PostgreSQL: the holder alone writes; a new holder reconciles in full what nobody wrote while
the duty changed hands; a paused former holder's write is refused by the fence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from telephony.calls.session import PbxSession
from telephony.lines.bed_lines import BedLines
from telephony.simulator.server import PbxSimulator
from tests.cluster.test_leases import pause
from tests.conftest import Hospital
from tests.lines.conftest import ADT, admit, make_link
from tests.services import wait_until
from wardline.cluster.leases import BED_LINES, Leases
from wardline.db.engine import Database
from wardline.domain import commands as c
from wardline.domain.events import StayAdmitted
from wardline.domain.fanout_events import ClusterResync

TTL = 1.5


@dataclass
class Two:
    h: Hospital
    sim: PbxSimulator
    a: Leases
    b: Leases
    lines_a: BedLines
    lines_b: BedLines

    def astdb(self) -> dict[str, str]:
        return {k: v for k, v in self.sim.astdb.items() if k.startswith(("bed/", "did/"))}


@pytest.fixture
async def two(hospital: Hospital) -> AsyncIterator[Two]:
    """Instance A holds the lease and hears nothing (its events are handed to it by the
    test); instance B listens to the hospital's bus and holds nothing yet."""
    sim = await PbxSimulator().start()
    a = Leases(Database(hospital.db.url), "a", ttl=TTL, renew=TTL / 4)
    b = Leases(Database(hospital.db.url), "b", ttl=TTL, renew=TTL / 4)
    session_a = PbxSession(make_link(sim.port), lambda event: None)
    session_b = PbxSession(make_link(sim.port), hospital.bus.publish)
    lines_a = BedLines(session_a.actions, a.db, lease=a.duty(BED_LINES))
    lines_b = BedLines(session_b.actions, b.db, lease=b.duty(BED_LINES))
    lines_b.subscribe(hospital.bus)
    await a.start()
    await b.start()
    for session in (session_a, session_b):
        await session.start()
        await session.link.wait_synced(5)
    await hospital.bus.drain()
    try:
        yield Two(hospital, sim, a, b, lines_a, lines_b)
    finally:
        for session in (session_b, session_a):
            await session.stop()
        for lines in (lines_b, lines_a):
            await lines.close()
        for leases in (b, a):
            await leases.stop()
            await leases.db.dispose()
        await sim.stop()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_the_new_holder_repairs_and_the_old_one_is_fenced(two: Two) -> None:
    h = two.h
    await h.stays.admit(admit("V1", "P1", "CARDIO-101-A"), ADT)
    await h.bus.drain()
    # A holds the duty but its instance never heard of this admission; B heard, holds nothing
    assert two.astdb() == {} and two.lines_b.applied == 0
    [admitted] = [e for e in h.events if isinstance(e, StayAdmitted)]
    extension = admitted.bed.extension

    pause(two.a)
    await wait_until(lambda: two.lines_b.lease.held, timeout=10)
    await wait_until(lambda: f"bed/{extension}/active" in two.astdb(), timeout=10)
    await two.lines_b.wait_reconciled()
    repaired = two.astdb()
    assert repaired.get(f"did/{admitted.did}") == extension

    stale = two.lines_a.lease
    assert stale.token is not None and stale.token < (two.lines_b.lease.token or 0)
    stale.valid_until = float("inf")
    assert stale.held  # A, paused with its old token, still believes it holds the duty
    two.sim.astdb[f"bed/{extension}/active"] = "tampered"
    await two.lines_a.on_stay_event(admitted)  # A's handler acts on its stale belief
    assert two.sim.astdb[f"bed/{extension}/active"] == "tampered"  # its write was refused
    assert two.lines_a.applied == 0

    await h.stays.discharge(c.Discharge(visit_number="V1"), ADT)
    await h.bus.drain()
    assert two.astdb().get(f"did/{admitted.did}") is None  # B, the holder, wrote it
    assert two.lines_b.applied == 1


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_the_holder_reconciles_when_other_instances_events_may_be_lost(two: Two) -> None:
    """The link between instances was lost and is back (``ClusterResync``): stay changes made
    elsewhere meanwhile were never heard, so the holder reconciles; the others do nothing."""
    h = two.h
    await two.a.stop()  # B takes the duty at once
    await wait_until(lambda: two.lines_b.lease.held, timeout=10)
    await two.lines_b.wait_reconciled()
    admitted = await h.stays.admit(admit("V2", "P2", "CARDIO-101-B"), ADT)
    await h.bus.drain()
    await two.lines_b.wait_reconciled()
    key = f"did/{admitted.did}"
    assert key in two.astdb()
    del two.sim.astdb[key]  # as if the change had been made on an instance B never heard
    h.bus.publish(ClusterResync(reason="reconnected"))
    await h.bus.drain()
    await two.lines_b.wait_reconciled()
    assert key in two.astdb()
    assert two.lines_b.last_repair is not None and two.lines_b.last_repair.written == [key]
