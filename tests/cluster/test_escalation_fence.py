"""Nurse-call escalation under its lease, two instances on one real PostgreSQL and the real
Mosquitto: a call raised on the instance that does not hold the duty is escalated by the
holder; a paused former holder's escalation is refused by the fence (the level stays)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bedside.models import NurseCall
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.nurse_call import NurseCalls
from bedside.topics import Topics
from tests.bedside.harness import FakeClock
from tests.bedside.ward import seed_ward
from tests.cluster.test_leases import pause
from tests.services import wait_until
from wardline.bus import EventBus
from wardline.cluster.leases import NURSE_CALL_ESCALATION, LeaseLost, Leases
from wardline.db.engine import Database

TTL = 1.5
STEPS = [{"level": "charge_nurse", "after_seconds": 120, "extension": "2100"}]


@dataclass
class Instance:
    leases: Leases
    link: MqttLink
    calls: NurseCalls
    bus: EventBus


@pytest.fixture
async def instances(
    db: Database, shared_broker: tuple[str, int], topics: Topics
) -> AsyncIterator[tuple[Instance, Instance, FakeClock]]:
    await seed_ward(db, "N1", [("N1-1-A", "1", "3101", "NA")], station="2000", escalation=STEPS)
    clock = FakeClock()
    made: list[Instance] = []
    for name in ("a", "b"):
        leases = Leases(Database(db.url), name, ttl=TTL, renew=TTL / 4)
        link = MqttLink(BrokerAddress(*shared_broker), client_id=f"{topics.root}-{name}")
        bus = EventBus()
        calls = NurseCalls(
            db=leases.db, bus=bus, link=link, topics=topics, clock=clock,
            lease=leases.duty(NURSE_CALL_ESCALATION),
        )  # fmt: skip
        await bus.start()
        await link.start()
        await leases.start()
        made.append(Instance(leases, link, calls, bus))
    try:
        yield made[0], made[1], clock
    finally:
        for one in reversed(made):
            await one.calls.close()
            await one.link.stop()
            await one.bus.stop()
            await one.leases.stop()
            await one.leases.db.dispose()


async def level(db: Database) -> int:
    async with db.sessions() as s:
        call = await s.scalar(select(NurseCall).where(NurseCall.bed_label == "N1-1-A"))
        assert call is not None
        return call.level


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_only_the_holder_escalates_and_a_stale_one_is_fenced(
    instances: tuple[Instance, Instance, FakeClock], db: Database
) -> None:
    a, b, clock = instances
    assert a.calls.lease.held and not b.calls.lease.held
    await b.calls.raise_from_tv("N1-1-A")  # raised on the instance without the duty
    clock.advance(121)

    pause(a.leases)
    stale = a.calls.lease
    await wait_until(lambda: b.calls.lease.held, timeout=10)
    stale.valid_until = float("inf")  # A, paused with its old token, still believes
    assert stale.held and stale.token is not None
    with pytest.raises(LeaseLost):
        await a.calls.escalate_due()
    assert await level(db) == 0  # nothing stored under the stale token

    [escalated] = await b.calls.escalate_due()
    assert escalated.level == 1 and await level(db) == 1
