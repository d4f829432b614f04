"""A stay change made by another instance does not make this one publish the bed's retained
context (the instance that made the change publishes it; two publishers reading the stays at
different moments could leave the older context on top): real Mosquitto, both engines."""

from __future__ import annotations

import dataclasses
import uuid

from bedside.context import BedsideContext
from bedside.mqtt_link import BrokerAddress, MqttLink
from bedside.options import DEFAULT_LINEUP
from bedside.topics import Topics
from tests.bedside.conftest import erase_retained
from tests.bedside.ward import seed_ward
from tests.services import MQTT_HOST, MQTT_PORT, need_mosquitto
from wardline.bus import EventBus
from wardline.db.engine import Database
from wardline.domain import commands as c
from wardline.domain.audit import AuditLog
from wardline.domain.events import DomainEvent, StayAdmitted
from wardline.domain.stays import Stays

ACTOR = c.Actor(name="system:test")


async def test_a_remote_stay_event_publishes_no_context(db: Database) -> None:
    need_mosquitto()
    topics = Topics(root=f"wltest/{uuid.uuid4().hex[:10]}/v1")
    await seed_ward(db, "C1", [("C1-101-A", "101", "1101", "TA")], dids=["0388000001"])
    bus_a, bus_b = EventBus(), EventBus()  # A: where the change is made; B: this instance
    made: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        made.append(event)

    bus_a.subscribe(StayAdmitted, record, name="test.a")
    stays = Stays(db, bus_a, AuditLog())
    link = MqttLink(BrokerAddress(MQTT_HOST, MQTT_PORT), client_id=f"svc-{topics.root}")
    context = BedsideContext(
        link=link, stays=Stays(db, bus_b, AuditLog()), db=db, topics=topics,
        default_language="fr", kiosk_base_url="http://127.0.0.1:8080", lineup=DEFAULT_LINEUP,
    )  # fmt: skip
    context.subscribe(bus_b)
    await link.start()
    await bus_a.start()
    await bus_b.start()
    try:
        await link.wait_connected()
        await context.resync()
        before = context.published
        patient = c.PatientData(ipp="IPP-9", family_name="Remote", given_name="Rita")
        where = c.BedLocation(label="C1-101-A")
        await stays.admit(c.Admit(visit_number="V9", patient=patient, location=where), ACTOR)
        await bus_a.drain()
        (event,) = made
        bus_b.publish(dataclasses.replace(event, origin="instance-a"))  # as the bridge does
        await bus_b.drain()
        assert context.published == before
        bus_b.publish(event)  # the same change made here: published
        await bus_b.drain()
        assert context.published == before + 1
    finally:
        await bus_b.stop()
        await bus_a.stop()
        await link.stop()
        await erase_retained(MQTT_HOST, MQTT_PORT, f"{topics.root}/#")
