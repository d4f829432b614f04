"""A nurse call rings the ward's nurse station, an escalation its target, over real AMI: the
telephony session originates from a Local channel, the simulator (the example hospital) rings
the phone showing "Appel malade <bed label>". When the PBX is down the ring fails at once,
is counted, and is never sent later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from telephony.calls.session import PbxSession
from telephony.nurse_call_ring import NurseCallRinger
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL, Hospital
from tests.services import wait_until
from tests.telephony.conftest import Lab, make_link
from wardline.domain.call_events import CallAnswered, CallRinging
from wardline.domain.events import DomainEvent
from wardline.domain.nurse_call_events import (
    NurseCallAcknowledged,
    NurseCallEscalated,
    NurseCallRaised,
)


@pytest.fixture
async def ward(hospital: Hospital) -> AsyncIterator[tuple[Lab, NurseCallRinger]]:
    sim = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start()
    events: list[DomainEvent] = []
    session = PbxSession(make_link(sim.port), events.append)
    await session.start()
    await session.link.wait_synced(5)
    ringer = NurseCallRinger.from_database(session.actions.ring_alert, hospital.db.session)
    hospital.bus.subscribe(
        (NurseCallRaised, NurseCallEscalated, NurseCallAcknowledged), ringer, name="ring"
    )
    try:
        yield Lab(sim, session, events), ringer
    finally:
        await session.stop()
        await sim.stop()


def raised(station: str | None = "2900") -> NurseCallRaised:
    return NurseCallRaised(
        call_id=7,
        bed_label="CARDIO-101-A",
        ward_code="CARDIO",
        nurse_station_extension=station,
        source="button",
    )


@pytest.mark.parametrize("station", ["2900", None])
async def test_raised_rings_the_nurse_station(
    hospital: Hospital, ward: tuple[Lab, NurseCallRinger], station: str | None
) -> None:
    lab, ringer = ward
    hospital.bus.publish(raised(station))  # None: the ward's station from the inventory
    await wait_until(lambda: lab.sim.ringing("2900") is not None, 5)
    call_id, number, name = lab.sim.ringing("2900") or ("", "", "")
    assert (number, name) == ("2990", "Appel malade CARDIO-101-A")
    await wait_until(lambda: ringer.placed == 1, 5)  # the answer may follow the ring
    assert ringer.last_call_id == call_id
    await wait_until(lambda: lab.of(CallRinging), 5)
    ring = lab.of(CallRinging)[0]
    assert isinstance(ring, CallRinging) and ring.call_id == call_id
    assert (ring.ringing_extension, ring.caller_name) == ("2900", "Appel malade CARDIO-101-A")
    lab.sim.answer("2900")
    await wait_until(lambda: lab.of(CallAnswered), 5)
    lab.sim.hangup("2900")
    assert lab.sim.calls() == {}


async def test_escalation_rings_the_level_extension_or_the_other_ward(
    hospital: Hospital, ward: tuple[Lab, NurseCallRinger]
) -> None:
    lab, ringer = ward
    base = {"call_id": 7, "bed_label": "CARDIO-101-A", "ward_code": "CARDIO"}
    hospital.bus.publish(
        NurseCallEscalated(
            **base, level=1, level_name="charge_nurse", extension="2901", target_ward_code=None
        )
    )
    await wait_until(lambda: lab.sim.ringing("2901") is not None, 5)
    hospital.bus.publish(
        NurseCallEscalated(
            **base, level=2, level_name="neighbour_ward", extension=None, target_ward_code="PNEUMO"
        )
    )
    await wait_until(lambda: lab.sim.ringing("2910") is not None, 5)
    assert lab.sim.ringing("2910")[1:] == ("2990", "Appel malade CARDIO-101-A")  # type: ignore[index]
    hospital.bus.publish(NurseCallAcknowledged(**base, by="2900", response_seconds=30.0))
    await hospital.bus.drain()
    assert ringer.placed == 2 and ringer.failed == 0
    assert lab.sim.ringing("2900") is None


async def test_pbx_down_counts_the_ring_and_never_sends_it_later(
    hospital: Hospital, ward: tuple[Lab, NurseCallRinger]
) -> None:
    lab, ringer = ward
    port = lab.sim.port
    await lab.sim.stop()
    await wait_until(lambda: lab.session.link.state != "up", 5)
    hospital.bus.publish(raised())
    await wait_until(lambda: ringer.failed == 1, 5)
    assert ringer.placed == 0
    again = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start(port=port)
    try:
        await wait_until(lambda: lab.session.link.state == "up", 10)
        await lab.session.link.wait_synced(5)
        await asyncio.sleep(0.3)
        assert again.calls() == {} and again.ringing("2900") is None
    finally:
        await again.stop()
