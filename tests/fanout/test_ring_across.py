"""A nurse call rung by one instance, acknowledged on another: the ring placed by A (its own
AMI link to the PBX simulator) stops when a nurse acknowledges on B's console, through the
events between instances on a real PostgreSQL; B, which also has its AMI link and ringer,
never rings the station itself (the ring wanted does not cross)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from telephony.calls.session import PbxSession
from telephony.nurse_call_ring import NurseCallRinger
from telephony.simulator.server import PbxSimulator
from tests.conftest import EXAMPLE_HOSPITAL
from tests.services import fresh_postgres_database, need_postgres, wait_until
from tests.telephony.conftest import make_link
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain.nurse_call_events import NurseCallAcknowledged, NurseCallRingWanted
from wardline.fanout.bridge import PeerEvents

BASE = {"call_id": 7, "bed_label": "CARDIO-101-A", "ward_code": "CARDIO"}


@dataclass
class Instance:
    bus: EventBus
    session: PbxSession
    ringer: NurseCallRinger
    bridge: PeerEvents
    db: Database


@pytest.fixture
async def pair(
    migrated_templates: dict[str, str],
) -> AsyncIterator[tuple[PbxSimulator, Instance, Instance]]:
    need_postgres()
    async with fresh_postgres_database(template=migrated_templates["postgres"]) as url:
        sim = await PbxSimulator.from_inventory(EXAMPLE_HOSPITAL).start()
        instances = []
        for name in ("a", "b"):
            bus, db = EventBus(), Database(url)
            session = PbxSession(make_link(sim.port), bus.publish)
            ringer = NurseCallRinger(session.link, bus.publish)
            session.link.subscribe(ringer.on_frame)
            bus.subscribe(NurseCallRinger.EVENTS, ringer, name="ring")
            bridge = PeerEvents(db, bus, origin=f"instance-{name}", backoff=(0.05, 0.5))
            await bus.start()
            await session.start()
            await session.link.wait_synced(5)
            await bridge.start()
            instances.append(Instance(bus, session, ringer, bridge, db))
        await wait_until(lambda: all(i.bridge.state == "up" for i in instances), 20)
        try:
            yield sim, instances[0], instances[1]
        finally:
            for i in instances:
                await i.bridge.stop()
                await i.ringer.close()
                await i.session.stop()
                await i.bus.stop()
                await i.db.dispose()
            await sim.stop()


async def test_a_ring_placed_by_a_stops_when_acknowledged_on_b(
    pair: tuple[PbxSimulator, Instance, Instance],
) -> None:
    sim, a, b = pair
    a.bus.publish(
        NurseCallRingWanted(
            **BASE, level=0, phones=("2900",), caller_name="Appel ch. 101 lit A",
            caller_number="2990", bed_extension="2001", names_from_bed=False,
            connect_bed=False, dial_limit_seconds=30, reissue_seconds=25,
        )
    )  # fmt: skip
    await wait_until(lambda: sim.ringing("2900") is not None, 10)
    await wait_until(lambda: a.ringer.placed >= 1, 10)  # A placed it (counted on its answer)
    b.bus.publish(NurseCallAcknowledged(**BASE, by="nina", response_seconds=4.0))
    await wait_until(lambda: sim.ringing("2900") is None, 20)
    assert a.ringer.readiness()["open_calls"] == 0
    assert b.ringer.placed == 0  # B never rang the station: the ring wanted stayed on A
    assert a.bridge.received >= 1
