"""The demo's synthetic calls on the example hospital: patients' direct numbers (from AstDB
``did/*``) ring their bed, the switchboard gets the rest, active beds call each other, and
every call ends by itself. Followed over real AMI by the telephony session."""

from __future__ import annotations

import asyncio

from telephony.simulator.demo import CALLERS, DemoCalls, run_demo
from tests.services import wait_until
from tests.telephony.conftest import Lab
from tests.telephony.test_simulator_hospital import example  # noqa: F401  (fixture)
from wardline.domain.call_events import CallAnswered, CallEnded, CallQueued, CallRinging

ACTIVE = ("2001", "2002", "2003", "2004")


def open_lines(lab: Lab) -> None:
    for n, bed in enumerate(ACTIVE):
        lab.sim.set_bed_line(bed)
        lab.sim.assign_did(f"038811000{n}", bed)


async def test_demo_calls_ring_dids_switchboard_and_beds(example: Lab) -> None:  # noqa: F811
    open_lines(example)
    demo = DemoCalls(example.sim, patience=0.3, answer_after=0.05, answer_ratio=1.0, seed=3)
    for _ in range(12):
        demo.place()
        await asyncio.sleep(0.02)
    assert all(demo.placed[kind] > 0 for kind in ("did", "switchboard", "bed_to_bed"))
    await wait_until(lambda: example.sim.calls() == {} and not demo.timers, 5)
    await wait_until(lambda: len(example.of(CallEnded)) == sum(demo.placed.values()), 5)
    names = {name for _n, name in CALLERS}
    for ring in example.of(CallRinging):
        assert isinstance(ring, CallRinging)
        if ring.ringing_extension in ACTIVE and ring.caller_number not in ACTIVE:
            assert ring.caller_name in names  # an outside caller dialled a patient's number
            assert example.sim.dids()[ring.called_extension] == ring.ringing_extension
    beds_rung = {e.ringing_extension for e in example.of(CallRinging)} & set(
        example.sim.inventory.beds
    )  # type: ignore[attr-defined]
    assert beds_rung <= set(ACTIVE)
    assert example.of(CallQueued) and example.of(CallAnswered)


async def test_demo_without_open_lines_only_calls_the_switchboard(example: Lab) -> None:  # noqa: F811
    task = asyncio.create_task(run_demo(example.sim, every=0.02, patience=30, seed=1))
    await wait_until(lambda: len(example.of(CallQueued)) >= 3, 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await wait_until(lambda: example.sim.calls() == {}, 5)  # stopping hangs up its callers
    rung = {e.ringing_extension for e in example.of(CallRinging)}  # type: ignore[attr-defined]
    assert rung <= set(example.sim.inventory.operators)
